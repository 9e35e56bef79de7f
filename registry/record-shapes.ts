/**
 * Shape checks for the JSON objects the registry reads back (records.ts). A registry object that
 * was truncated to valid JSON, edited by hand, or written by a newer kfs whose records look
 * different must stop the command with the object's key and what is wrong with it: read as if it
 * were well formed, it crashed list/apply/lineage with a TypeError deep inside, or was silently
 * overwritten by the next apply.
 *
 * Each check answers the first problem it finds (a path and what was expected), or undefined. They
 * check what kfs's readers rely on, not every member: older records lack members added since
 * (e.g. a view's `limits`), and those stay readable.
 */
import { isJsonObject } from '../core/json-object.ts'

type Check = (value: unknown, path: string) => string | undefined

const is =
  (what: string, test: (v: unknown) => boolean): Check =>
  (value, path) =>
    test(value) ? undefined : `${path} is ${describe(value)}, expected ${what}`

function describe(value: unknown): string {
  if (value === undefined) return 'missing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`
}

const string = is('a string', (v) => typeof v === 'string')
const number = is('a number', (v) => typeof v === 'number' && Number.isFinite(v))
const boolean = is('true or false', (v) => typeof v === 'boolean')
const strings = is('an array of strings', (v) => Array.isArray(v) && v.every((s) => typeof s === 'string'))
const anyObject = is('an object', isJsonObject)
const sha256 = is('a sha256 hex digest', (v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v))

const exactly =
  (expected: string | number): Check =>
  (value, path) =>
    value === expected ? undefined : `${path} is ${describe(value)}, but the object's key says ${JSON.stringify(expected)}`

function object(members: Readonly<Record<string, Check>>): Check {
  return (value, path) => {
    if (!isJsonObject(value)) return `${path || 'the object'} is ${describe(value)}, expected an object`
    for (const [name, check] of Object.entries(members)) {
      const problem = check(value[name], path === '' ? name : `${path}.${name}`)
      if (problem !== undefined) return problem
    }
    return undefined
  }
}

function arrayOf(check: Check): Check {
  return (value, path) => {
    if (!Array.isArray(value)) return `${path} is ${describe(value)}, expected an array`
    for (const [i, item] of value.entries()) {
      const problem = check(item, `${path}[${i}]`)
      if (problem !== undefined) return problem
    }
    return undefined
  }
}

export function storedViewProblem(value: unknown, key: { name: string; version: number }): string | undefined {
  return object({
    name: exactly(key.name),
    version: exactly(key.version),
    hash: sha256,
    publishedAtMs: number,
    metadataUpdatedAtMs: number,
    logic: object({
      entity: object({ name: string, joinKeys: strings, keyType: string }),
      source: object({ topic: string, eventTimeField: string, partitions: number }),
      features: arrayOf(object({ name: string, type: string, op: string })),
      ttlMs: number,
    }),
    metadata: object({
      source: string,
      owner: string,
      description: string,
      tags: anyObject,
      freshnessSlaMs: number,
      online: boolean,
      offline: boolean,
    }),
  })(value, '')
}

export function backfillStatusProblem(value: unknown): string | undefined {
  return object({
    state: is('pending, running or complete', (v) => v === 'pending' || v === 'running' || v === 'complete'),
    completeThrough: arrayOf(object({ topic: string, partition: number, offset: string })),
    updatedAtMs: number,
  })(value, '')
}

export function storedEntityProblem(value: unknown, name: string): string | undefined {
  return object({ name: exactly(name), joinKeys: strings, keyType: string, description: string, updatedAtMs: number })(value, '')
}

export function storedSourceProblem(value: unknown, name: string): string | undefined {
  return object({
    name: exactly(name),
    topic: string,
    schema: anyObject,
    eventTimeField: string,
    partitions: number,
    description: string,
    updatedAtMs: number,
  })(value, '')
}

export function storedServiceProblem(value: unknown, name: string): string | undefined {
  return object({
    name: exactly(name),
    features: strings,
    requestFeatures: strings,
    owner: string,
    description: string,
    tags: anyObject,
    updatedAtMs: number,
  })(value, '')
}

export function storedRequestFeatureProblem(value: unknown, name: string): string | undefined {
  return object({
    name: exactly(name),
    hash: sha256,
    updatedAtMs: number,
    logic: object({ name: exactly(name), request: anyObject, features: strings, outputType: string, fn: string }),
    description: string,
  })(value, '')
}

/** What a registry/<kind>/<name>.json key names, for the checks above. */
export function nameOfKey(key: string): string {
  return /([^/]*)\.json$/.exec(key)?.[1] ?? key
}
