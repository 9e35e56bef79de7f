/**
 * A schema registry kept as JSON files in a local directory: the embedded default when no
 * Confluent-compatible registry is configured. Same guarantees as the port (stable global ids,
 * BACKWARD compatibility against the subject's latest version).
 *
 * Layout under `dir`:
 * ```
 * ids/<id>.json           {"id":7,"schema":"<schema JSON text>"}   written once, never rewritten
 * subjects/<subject>.json {"subject":"clicks-value","versions":[3,7]} replaced atomically (rename)
 * ```
 * One process owns a directory at a time; writes inside the process are serialised. A file is written
 * to `<name>.tmp`, fsynced, then linked (an id: never overwritten) or renamed (a subject) into place
 * and its directory fsynced before `register` returns: records in the log name the id from then
 * on, so a machine crash must not lose it or leave it half written (a torn id file made the whole
 * registry refuse to load, and `wx` kept it from ever being written again).
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeDirDurable } from '../../local-disk/sync-dir.ts'
import { writeFileDurable } from '../../local-disk/durable-write.ts'
import { SchemaError } from '../../../core/errors.ts'
import { parseStoredJson } from '../../../core/stored-json.ts'
import { createFastType, schemaKey } from '../../../schemas/avro-type.ts'
import type { AvroSchema, RegisteredSchema, SchemaRegistry } from '../../../ports/schema-registry.ts'

interface State {
  readonly byId: Map<number, string>
  readonly idByKey: Map<string, number>
  readonly subjects: Map<string, number[]>
}

export class EmbeddedSchemaRegistry implements SchemaRegistry {
  readonly #dir: string
  #state: Promise<State> | undefined
  #writes: Promise<unknown> = Promise.resolve()

  constructor(options: { dir: string }) {
    this.#dir = options.dir
  }

  async register(subject: string, schema: AvroSchema): Promise<number> {
    const run = this.#writes.then(() => this.#register(subject, schema))
    this.#writes = run.catch(() => undefined)
    return run
  }

  async getById(id: number): Promise<AvroSchema | undefined> {
    const text = (await this.#load()).byId.get(id)
    return text === undefined ? undefined : (JSON.parse(text) as AvroSchema)
  }

  async latest(subject: string): Promise<RegisteredSchema | undefined> {
    const state = await this.#load()
    const versions = state.subjects.get(subject)
    const id = versions?.at(-1)
    if (versions === undefined || id === undefined) return undefined
    return { id, version: versions.length, schema: JSON.parse(state.byId.get(id) as string) as AvroSchema }
  }

  async #register(subject: string, schema: AvroSchema): Promise<number> {
    const state = await this.#load()
    let key: string
    try {
      key = schemaKey(schema)
    } catch (err: unknown) {
      throw new SchemaError('SCHEMA_INCOMPATIBLE', `subject ${subject}: not a valid Avro schema`, { cause: err })
    }
    const versions = state.subjects.get(subject) ?? []
    const known = state.idByKey.get(key)
    if (known !== undefined && versions.includes(known)) return known

    const latestId = versions.at(-1)
    if (latestId !== undefined) this.#checkBackward(subject, schema, state.byId.get(latestId) as string)

    let id = known
    if (id === undefined) {
      id = Math.max(0, ...state.byId.keys()) + 1
      await makeDirDurable(join(this.#dir, 'ids'))
      // Exclusive: an id file is never overwritten, so an id can never change meaning.
      await writeFileDurable(join(this.#dir, 'ids', `${id}.json`), JSON.stringify({ id, schema: key }), 'exclusive')
      state.byId.set(id, key)
      state.idByKey.set(key, id)
    }
    const next = [...versions, id]
    await makeDirDurable(join(this.#dir, 'subjects'))
    const file = join(this.#dir, 'subjects', `${encodeURIComponent(subject)}.json`)
    await writeFileDurable(file, JSON.stringify({ subject, versions: next }), 'replace')
    state.subjects.set(subject, next)
    return id
  }

  /** BACKWARD: data written with the latest version must stay readable by the new schema. */
  #checkBackward(subject: string, schema: AvroSchema, latestText: string): void {
    try {
      createFastType(schema).createResolver(createFastType(latestText))
    } catch (err: unknown) {
      throw new SchemaError('SCHEMA_INCOMPATIBLE', `subject ${subject}: new schema cannot read data written with the latest version`, {
        cause: err,
      })
    }
  }

  #load(): Promise<State> {
    this.#state ??= this.#readDir()
    return this.#state
  }

  async #readDir(): Promise<State> {
    const state: State = { byId: new Map(), idByKey: new Map(), subjects: new Map() }
    for (const name of await listJson(join(this.#dir, 'ids'))) {
      const entry = await readEntry<{ id: number; schema: string }>(join(this.#dir, 'ids', name), (e) => Number.isSafeInteger(e.id) && typeof e.schema === 'string')
      state.byId.set(entry.id, entry.schema)
      state.idByKey.set(entry.schema, entry.id)
    }
    for (const name of await listJson(join(this.#dir, 'subjects'))) {
      const entry = await readEntry<{ subject: string; versions: number[] }>(join(this.#dir, 'subjects', name), (e) => typeof e.subject === 'string' && Array.isArray(e.versions) && e.versions.every(Number.isSafeInteger))
      state.subjects.set(entry.subject, entry.versions)
    }
    return state
  }
}

async function listJson(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith('.json'))
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

/** A registry file, checked (core/stored-json.ts): damage on disk is named, not a SyntaxError's or TypeError's stack. */
async function readEntry<T extends object>(path: string, valid: (entry: T) => boolean): Promise<T> {
  return parseStoredJson<T>(await readFile(path, 'utf8'), {
    what: `schema registry file ${path}`,
    path,
    shape: 'a registry entry',
    isValid: (v) => typeof v === 'object' && v !== null && valid(v as T),
    error: (message, options) => new SchemaError('DATA_CORRUPT', message, options),
  })
}
