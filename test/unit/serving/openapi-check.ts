/**
 * Answers checked against the served OpenAPI document (serving/openapi/): which statuses it lists
 * for a request's operation, and whether a body fits the schema it names. The validator covers the
 * JSON Schema the document uses for its bodies (type, enum, const, required, properties,
 * additionalProperties, items, minItems, uniqueItems, oneOf, $ref, format uuid) and fails on any other keyword,
 * so a schema that grows past it is noticed rather than passed unchecked.
 */

type Schema = Readonly<Record<string, unknown>>

export interface OpenApiDoc {
  readonly info: { readonly description: string }
  readonly paths: Readonly<Record<string, Readonly<Record<string, { readonly responses: Readonly<Record<string, Schema>> }>>>>
  readonly components: { readonly schemas: Readonly<Record<string, Schema>> }
}

/** Statuses every path may answer: the router's fallbacks, OPTIONS's 204 among them (document.ts's info says so). */
export const FALLBACK_STATUSES = [204, 404, 405] as const

/** Statuses of a request the HTTP parser refuses, before any route (document.ts's info says so). */
export const PARSER_STATUSES = [400, 408, 431] as const

/**
 * The operation of `method path` (path without query), by the document's path templates, or
 * undefined. HEAD is its GET's (document.ts's info: HEAD answers as the GET without the body).
 */
export function operationOf(
  doc: OpenApiDoc,
  method: string,
  path: string,
): { readonly responses: Readonly<Record<string, Schema>> } | undefined {
  const parts = path.split('/')
  for (const [template, operations] of Object.entries(doc.paths)) {
    const segments = template.split('/')
    if (segments.length !== parts.length) continue
    if (!segments.every((s, i) => (s.startsWith('{') ? parts[i] !== '' : s === parts[i]))) continue
    return operations[method === 'HEAD' ? 'get' : method.toLowerCase()]
  }
  return undefined
}

const KEYWORDS = new Set([
  'type',
  'enum',
  'const',
  'required',
  'properties',
  'additionalProperties',
  'items',
  'minItems',
  'oneOf',
  '$ref',
  'format',
  'description',
  'uniqueItems',
])
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

/** Where `value` does not fit `schema` (empty when it fits), each as `path: reason`. */
export function schemaErrors(doc: OpenApiDoc, schema: Schema, value: unknown, at = '$'): string[] {
  const errors: string[] = []
  for (const key of Object.keys(schema))
    if (!KEYWORDS.has(key)) errors.push(`${at}: keyword ${key} is not checked by openapi-check.ts`)
  if (typeof schema.$ref === 'string') {
    let target: unknown = doc
    for (const part of schema.$ref.slice(2).split('/')) target = (target as Record<string, unknown> | undefined)?.[part]
    if (target === undefined) return [`${at}: ${schema.$ref} does not resolve`]
    return [...errors, ...schemaErrors(doc, target as Schema, value, at)]
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string]
    const actual = typeOf(value)
    if (!types.includes(actual) && !(actual === 'integer' && types.includes('number')))
      return [...errors, `${at}: ${actual}, expected ${types.join('|')}`]
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    errors.push(`${at}: ${JSON.stringify(value)} is not in the enum`)
  if ('const' in schema && schema.const !== value)
    errors.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`)
  if (schema.format === 'uuid' && (typeof value !== 'string' || !UUID.test(value))) errors.push(`${at}: not a uuid`)
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>
    for (const name of (schema.required as string[] | undefined) ?? [])
      if (!Object.hasOwn(object, name)) errors.push(`${at}: ${name} is required`)
    const properties = (schema.properties ?? {}) as Record<string, Schema>
    for (const [name, v] of Object.entries(object)) {
      if (Object.hasOwn(properties, name)) errors.push(...schemaErrors(doc, properties[name]!, v, `${at}.${name}`))
      else if (schema.additionalProperties === false) errors.push(`${at}: ${name} is not allowed`)
      else if (typeof schema.additionalProperties === 'object')
        errors.push(...schemaErrors(doc, schema.additionalProperties as Schema, v, `${at}.${name}`))
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems)
      errors.push(`${at}: fewer than ${schema.minItems} items`)
    if (schema.uniqueItems === true && new Set(value.map((v) => JSON.stringify(v))).size !== value.length)
      errors.push(`${at}: items repeat`)
    if (schema.items !== undefined)
      value.forEach((item, i) => errors.push(...schemaErrors(doc, schema.items as Schema, item, `${at}[${i}]`)))
  }
  if (Array.isArray(schema.oneOf)) {
    const fits = (schema.oneOf as Schema[]).filter((s) => schemaErrors(doc, s, value, at).length === 0).length
    if (fits !== 1) errors.push(`${at}: fits ${fits} of oneOf's schemas, not exactly one`)
  }
  return errors
}
