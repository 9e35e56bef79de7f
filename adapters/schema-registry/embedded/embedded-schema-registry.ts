/**
 * A schema registry kept as JSON files in a local directory: the embedded default when no
 * Confluent-compatible registry is configured. Same guarantees as the port (stable global ids,
 * BACKWARD compatibility against the subject's latest version).
 *
 * Layout under `dir`:
 * ```
 * ids/<id>.json           {"id":7,"schema":"<schema JSON text>"}   written once, never rewritten
 * subjects/<subject>.json {"subject":"clicks-value","versions":[3,7]} replaced atomically (rename)
 * register.lock           held by a process while it registers (adapters/local-disk/short-lock.ts)
 * ```
 * (`<subject>` is its URI encoding, or a hash where that is no file name — a subject of a 249-letter
 * topic, a lone surrogate: local-disk/file-name.ts; the file names its subject.) A file is written to a temp file of its own, fsynced, then linked
 * (an id: never overwritten) or renamed (a subject) into place and its directory fsynced before
 * `register` returns: records in the log name the id from then on, so a machine crash must not
 * lose it or leave it half written.
 *
 * Several processes use one directory at once (`kfs run` reading while `kfs produce` registers a new
 * version; two `kfs produce`). So:
 * - What an instance read is a cache that only grows (an id never changes meaning, a subject's
 *   versions are only appended): an id it does not know, or a subject's latest, is read from its
 *   file again. A record naming an id registered by another process after this one read the
 *   directory was dead-lettered as unknown_schema.
 * - A registration is a read-modify-write (next id = highest + 1; the subject's versions + 1) and
 *   holds register.lock across it, reading the ids and the subject again inside. Why a lock and not
 *   compare-and-retry: the id file's exclusive link could serve as a compare, but the subject file
 *   is replaced whole and rename(2) has no compare, so two registrations of one subject lost one
 *   version (and what `latest` returns) — and two processes could give one schema two ids. The lock
 *   is held for a few small writes; a second registrant waits for it, never fails on it.
 * - A subject whose file names another subject is refused: on a case-insensitive file system
 *   (macOS, Windows) `Clicks-value` and `clicks-value` are one file.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeDirDurable } from '../../local-disk/sync-dir.ts'
import { writeFileDurable } from '../../local-disk/durable-write.ts'
import { fileNameFor } from '../../local-disk/file-name.ts'
import { withShortLock } from '../../local-disk/short-lock.ts'
import { ConfigError, SchemaError, SourceError, type ErrorContext } from '../../../core/errors.ts'
import { parseStoredJson, storedFileNotAFile } from '../../../core/stored-json.ts'
import { createFastType, schemaKey } from '../../../schemas/avro-type.ts'
import { readLogical } from '../../../schemas/logical-resolution.ts'
import type { AvroSchema, RegisteredSchema, SchemaRegistry } from '../../../ports/schema-registry.ts'

interface State {
  readonly byId: Map<number, string>
  readonly idByKey: Map<string, number>
  readonly subjects: Map<string, number[]>
}

interface IdEntry {
  readonly id: number
  readonly schema: string
}

interface SubjectEntry {
  readonly subject: string
  readonly versions: number[]
}

export class EmbeddedSchemaRegistry implements SchemaRegistry {
  readonly #dir: string
  #state: Promise<State> | undefined

  constructor(options: { dir: string }) {
    this.#dir = options.dir
  }

  async register(subject: string, schema: AvroSchema): Promise<number> {
    const key = keyOf(subject, schema)
    const state = await this.#load()
    // Already a version of the subject: stays so whatever another process does (versions are only appended).
    const cached = state.idByKey.get(key)
    if (cached !== undefined && state.subjects.get(subject)?.includes(cached)) return cached
    await makeDirDurable(this.#dir)
    return withShortLock(join(this.#dir, 'register.lock'), { what: `schema registry ${this.#dir}` }, () =>
      this.#register(state, subject, key),
    )
  }

  async getById(id: number): Promise<AvroSchema | undefined> {
    const state = await this.#load()
    const text = state.byId.get(id) ?? (await this.#readId(state, id))
    return text === undefined ? undefined : (JSON.parse(text) as AvroSchema)
  }

  async latest(subject: string): Promise<RegisteredSchema | undefined> {
    const state = await this.#load()
    const versions = await this.#readSubject(state, subject)
    const id = versions?.at(-1)
    if (versions === undefined || id === undefined) return undefined
    const text = state.byId.get(id) ?? (await this.#readId(state, id))
    if (text === undefined) throw missingId(this.#subjectFile(subject), id)
    return { id, version: versions.length, schema: JSON.parse(text) as AvroSchema }
  }

  /** Holding register.lock: the ids and the subject as they are now on disk, then the new id and version. */
  async #register(state: State, subject: string, key: string): Promise<number> {
    await this.#readNewIds(state)
    const versions = (await this.#readSubject(state, subject)) ?? []
    const known = state.idByKey.get(key)
    if (known !== undefined && versions.includes(known)) return known

    const latestId = versions.at(-1)
    if (latestId !== undefined) {
      const latestText = state.byId.get(latestId) ?? (await this.#readId(state, latestId))
      if (latestText === undefined) throw missingId(this.#subjectFile(subject), latestId)
      this.#checkBackward(subject, key, latestText)
    }

    let id = known
    if (id === undefined) {
      id = Math.max(0, ...state.byId.keys()) + 1
      await makeDirDurable(join(this.#dir, 'ids'))
      // Exclusive: an id file is never overwritten, so an id can never change meaning.
      await writeFileDurable(this.#idFile(id), JSON.stringify({ id, schema: key }), 'exclusive')
      remember(state, { id, schema: key })
    }
    const next = [...versions, id]
    await makeDirDurable(join(this.#dir, 'subjects'))
    await writeFileDurable(this.#subjectFile(subject), JSON.stringify({ subject, versions: next }), 'replace')
    state.subjects.set(subject, next)
    return id
  }

  /**
   * BACKWARD: data written with the latest version must stay readable by the new schema — read
   * as the decoder reads it, logical types included (a latest `local-timestamp-millis` the new
   * schema reads as `timestamp-millis` is refused, a `timestamp-micros` one it converts).
   */
  #checkBackward(subject: string, schema: string, latestText: string): void {
    let refusal: string | undefined
    try {
      const reader = createFastType(schema)
      reader.createResolver(createFastType(latestText))
      const logical = readLogical(latestText, schema, reader)
      if (!logical.ok) refusal = logical.refusal
    } catch (err: unknown) {
      throw new SchemaError(
        'SCHEMA_INCOMPATIBLE',
        `subject ${subject}: new schema cannot read data written with the latest version`,
        { cause: err },
      )
    }
    if (refusal !== undefined) {
      throw new SchemaError(
        'SCHEMA_INCOMPATIBLE',
        `subject ${subject}: new schema cannot read data written with the latest version: ${refusal}`,
      )
    }
  }

  #idFile(id: number): string {
    return join(this.#dir, 'ids', `${id}.json`)
  }

  #subjectFile(subject: string): string {
    // Up to 250: the name this file always had (its URI encoding) wherever that was a file name.
    return join(this.#dir, 'subjects', `${fileNameFor(subject, 250)}.json`)
  }

  #load(): Promise<State> {
    // A failed first read is not remembered: the next call reads the directory again (a caller
    // retrying a passing fault would otherwise get the same rejection for the life of the instance).
    this.#state ??= this.#readDir().catch((err: unknown) => {
      this.#state = undefined
      throw err
    })
    return this.#state
  }

  async #readDir(): Promise<State> {
    const state: State = { byId: new Map(), idByKey: new Map(), subjects: new Map() }
    await this.#readNewIds(state)
    for (const name of await listJson(join(this.#dir, 'subjects'))) {
      const entry = await readSubjectEntry(join(this.#dir, 'subjects', name))
      if (entry !== undefined) state.subjects.set(entry.subject, entry.versions)
    }
    return state
  }

  /** Every id file the cache does not hold yet (another process registered them since). */
  async #readNewIds(state: State): Promise<void> {
    for (const name of await listJson(join(this.#dir, 'ids'))) {
      const id = Number(name.slice(0, -'.json'.length))
      if (state.byId.has(id)) continue
      const entry = await readIdEntry(join(this.#dir, 'ids', name))
      if (entry !== undefined) remember(state, entry)
    }
  }

  /** Id `id` from its file, remembered; undefined when there is none (or `id` could name no file). */
  async #readId(state: State, id: number): Promise<string | undefined> {
    if (!Number.isSafeInteger(id) || id < 1) return undefined
    const entry = await readIdEntry(this.#idFile(id))
    if (entry === undefined) return undefined
    remember(state, entry)
    return entry.schema
  }

  /** The subject's versions as its file has them now, remembered; undefined when it has none. */
  async #readSubject(state: State, subject: string): Promise<number[] | undefined> {
    const path = this.#subjectFile(subject)
    const entry = await readSubjectEntry(path)
    if (entry === undefined) return undefined
    if (entry.subject !== subject) {
      // Only a case-insensitive file system (or a hand edit) puts another subject's versions here.
      throw new ConfigError(
        `schema subject '${subject}' and subject '${entry.subject}' are the same file ${path} on this file system (it does not tell upper from lower case): name topics so that their subjects differ in more than case`,
        { context: { subject, storedSubject: entry.subject, path } },
      )
    }
    state.subjects.set(subject, entry.versions)
    return entry.versions
  }
}

function keyOf(subject: string, schema: AvroSchema): string {
  try {
    return schemaKey(schema)
  } catch (err: unknown) {
    throw new SchemaError('SCHEMA_INCOMPATIBLE', `subject ${subject}: not a valid Avro schema`, { cause: err })
  }
}

function remember(state: State, entry: IdEntry): void {
  state.byId.set(entry.id, entry.schema)
  // The first id a schema got stays its id (only a registry written before register.lock has a second one).
  if (!state.idByKey.has(entry.schema)) state.idByKey.set(entry.schema, entry.id)
}

function missingId(subjectFile: string, id: number): SchemaError {
  return new SchemaError(
    'DATA_CORRUPT',
    `schema registry file ${subjectFile} names id ${id}, which has no file: restore ids/${id}.json from a copy`,
    {
      context: { path: subjectFile, id },
    },
  )
}

async function listJson(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith('.json'))
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw readFailure(err, dir)
  }
}

/**
 * The port's failure for a registry file that could not be read: the file system refusing it for
 * good (permission denied) is SOURCE_REJECTED, never retried; anything else may pass
 * (SOURCE_UNAVAILABLE, retriable), as for the Confluent registry.
 */
export function readFailure(err: unknown, path: string): SourceError {
  const errno = (err as NodeJS.ErrnoException | null)?.code
  const denied = errno === 'EACCES' || errno === 'EPERM'
  const code = denied ? 'SOURCE_REJECTED' : 'SOURCE_UNAVAILABLE'
  const why = err instanceof Error ? err.message : String(err)
  return new SourceError(code, `schema registry: cannot read ${path}: ${why}`, {
    cause: err,
    context: { path, ...(errno === undefined ? {} : { errno }) },
  })
}

function readIdEntry(path: string): Promise<IdEntry | undefined> {
  return readEntry<IdEntry>(path, (e) => Number.isSafeInteger(e.id) && typeof e.schema === 'string' && isAvroText(e.schema))
}

/** Whether an id file's schema text is an Avro schema: it is parsed wherever the id is used (a decoder, a resolver), so damage there is the file's, named when it is read. */
function isAvroText(text: string): boolean {
  try {
    createFastType(text)
    return true
  } catch {
    return false
  }
}

function readSubjectEntry(path: string): Promise<SubjectEntry | undefined> {
  return readEntry<SubjectEntry>(
    path,
    (e) => typeof e.subject === 'string' && Array.isArray(e.versions) && e.versions.every(Number.isSafeInteger),
  )
}

/** A registry file, checked (core/stored-json.ts): damage on disk is named, not a SyntaxError's or TypeError's stack; undefined when there is none. */
async function readEntry<T extends object>(path: string, valid: (entry: T) => boolean): Promise<T | undefined> {
  const file = {
    what: `schema registry file ${path}`,
    path,
    shape: 'a registry entry',
    isValid: (v: unknown) => typeof v === 'object' && v !== null && valid(v as T),
    error: (message: string, options: { cause?: unknown; context: ErrorContext }) =>
      new SchemaError('DATA_CORRUPT', message, options),
  }
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw storedFileNotAFile(err, file) ?? readFailure(err, path)
  }
  return parseStoredJson<T>(text, file)
}
