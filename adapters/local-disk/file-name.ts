/**
 * The file name kfs gives a user-chosen name (a consumer group's, a transaction's, a schema
 * subject's) in the embedded adapters: its URI encoding, or a hash of it where that cannot be a file
 * name. Files named this way hold the name they stand for, since the file name alone cannot always
 * be read back (a hash), nor tell apart names that differ only in case on a case-insensitive file
 * system.
 */
import { createHash } from 'node:crypto'

/** The longest name `fileNameFor` gives as the id's encoding by default; file systems allow 255 bytes, with room for `.json.tmp`. */
const MAX_ENCODED_NAME = 200

/**
 * The file name for an id (a consumer group's, a transaction's, a subject): its URI encoding — or, when that is
 * too long for a file name (a long id, or one of non-ASCII letters, three bytes encoded) or cannot
 * be made (a lone surrogate), `~` and the id's SHA-256. Such an id failed every commit with
 * ENAMETOOLONG or a URIError, where Kafka takes it. `maxEncoded`: a caller whose files were named
 * by their encoding up to another length keeps that length, so those files keep their names.
 */
export function fileNameFor(id: string, maxEncoded = MAX_ENCODED_NAME): string {
  let encoded: string | undefined
  try {
    encoded = encodeURIComponent(id)
  } catch {
    encoded = undefined
  }
  return encoded !== undefined && encoded.length <= maxEncoded ? encoded : `~${createHash('sha256').update(id).digest('hex')}`
}

/**
 * How the directory listing `listing` spells the entry opened as `name`, when it spells it
 * otherwise; undefined when it is listed as asked. On a case-insensitive file system (macOS,
 * Windows) opening `Clicks` finds the entry `clicks` made, and only the listing tells — on a
 * case-sensitive one the entry found is always listed as asked. For entries whose contents do not
 * name what they stand for (or were written before they did).
 */
export function listedOtherwise(name: string, listing: readonly string[]): string | undefined {
  if (listing.includes(name)) return undefined
  return listing.find((n) => n.toLowerCase() === name.toLowerCase()) ?? '(another spelling)'
}
