/**
 * The errors a partition (./partition-log.ts) refuses damage with: DATA_CORRUPT naming the
 * segment and the offsets, and the way back — never a torn tail to cut, never records to skip.
 */
import { SourceError } from '../../../core/errors.ts'

/** The partition holds fewer records than were acknowledged: lost on disk, never a torn tail to cut. */
export function recordsMissing(dir: string, end: number, acknowledged: number): SourceError {
  return new SourceError(
    'DATA_CORRUPT',
    `embedded log partition ${dir} ends at offset ${end}, but appends up to offset ${acknowledged} were acknowledged: records are missing; restore the partition from a copy`,
    { context: { dir, end, acknowledged } },
  )
}

/** A segment whose bytes do not read as the records its name and index say: damage on disk, never a torn tail to cut. */
export function damaged(path: string, position: number, offset: number, acked: number | undefined): SourceError {
  return new SourceError(
    'DATA_CORRUPT',
    `embedded log segment ${path} is damaged at byte ${position} (the record at offset ${offset}${acked === undefined ? '' : `; appends up to offset ${acked} were acknowledged`}): refusing to cut or skip acknowledged records; restore the partition from a copy`,
    { context: { path, position, offset } },
  )
}
