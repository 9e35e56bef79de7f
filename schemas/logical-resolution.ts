/**
 * The logical types of a writer schema against the source's reader schema, along the path avsc's
 * resolver reads (record fields by name or the reader's aliases, array items, map values, a
 * writer's union branch by branch, a reader's union by the first branch that resolves, as avsc
 * picks it). Each value the reader reads is paired by logical-types.ts: the writer is refused as a
 * whole, naming the first field whose meaning would change (`refusal`), or decoded values are
 * converted where a unit differs (`convert`, undefined when nothing needs converting — the common
 * case costs nothing per record).
 *
 * avsc drops logical types it has no implementation for, and kfs registers none when it decodes
 * (avro-type.ts: epoch milliseconds stay numbers). So the schemas are parsed a second time here with
 * every logical type kept on the type tree (avro-type.ts `createKeptType`).
 */
import type { Type } from 'avsc'
import type { AvroSchema } from '../ports/schema-registry.ts'
import { createKeptType } from './avro-type.ts'
import { describeLogical, LogicalOverflow, pairLogical, type Logical } from './logical-types.ts'

/** A Connect semantic type (Debezium's Avro converter: `connect.name`) counts as the logical type it stands for. */
const KEPT = { connectNames: true }

export type LogicalReading =
  | { readonly ok: true; readonly convert: ((value: unknown) => unknown) | undefined }
  | { readonly ok: false; readonly refusal: string }

/**
 * How `readerDecoding` (the reader's type as the decoder builds it, no logical types) reads values
 * of `writerSchema` as `readerSchema`. Call it only for a writer that avsc resolves at all.
 */
export function readLogical(writerSchema: AvroSchema, readerSchema: AvroSchema, readerDecoding: Type): LogicalReading {
  try {
    const step = walk(
      shape(createKeptType(writerSchema, KEPT)),
      shape(createKeptType(readerSchema, KEPT)),
      shape(readerDecoding),
      '',
      new Map(),
    )
    return { ok: true, convert: step?.apply }
  } catch (err: unknown) {
    if (err instanceof Refused) return { ok: false, refusal: err.message }
    throw err
  }
}

class Refused extends Error {}

interface Shape {
  readonly typeName: string
  readonly name?: string
  readonly branchName?: string
  readonly logical?: Logical
  readonly underlyingType?: Type
  readonly fields?: readonly { readonly name: string; readonly type: Type; readonly aliases?: readonly string[] }[]
  readonly itemsType?: Type
  readonly valuesType?: Type
  readonly types?: readonly Type[]
  createResolver(type: Type): unknown
}

const shape = (t: Type | undefined): Shape => t as unknown as Shape

/** One conversion step: `key` tells two steps apart (two writer branches read into one reader value must agree). */
interface Step {
  readonly key: string
  readonly apply: (value: unknown) => unknown
}

type Memo = Map<string, { key: string; apply: (value: unknown) => unknown } | undefined>

function unwrap(t: Shape): { readonly type: Shape; readonly logical: Logical | undefined } {
  if (!t.typeName.startsWith('logical:')) return { type: t, logical: undefined }
  return { type: shape(t.underlyingType), logical: t.logical }
}

function walk(writerType: Shape, readerType: Shape, decoding: Shape, path: string, memo: Memo): Step | undefined {
  const w = unwrap(writerType)
  const r = unwrap(readerType)
  if (w.type.typeName.startsWith('union:')) return writerUnion(w.type, readerType, decoding, path, memo)
  if (r.type.typeName.startsWith('union:')) return readerUnion(writerType, r.type, decoding, path, memo)
  switch (r.type.typeName) {
    case 'record':
    case 'error':
      return record(w.type, r.type, decoding, path, memo)
    case 'array':
      return each(walk(shape(w.type.itemsType), shape(r.type.itemsType), shape(decoding.itemsType), `${path}[]`, memo), 'array')
    case 'map':
      return each(walk(shape(w.type.valuesType), shape(r.type.valuesType), shape(decoding.valuesType), `${path}{}`, memo), 'map')
    default:
      return leaf(w, r, path)
  }
}

function leaf(w: ReturnType<typeof unwrap>, r: ReturnType<typeof unwrap>, path: string): Step | undefined {
  const pairing = pairLogical(w.logical, w.type.typeName, r.logical, r.type.typeName)
  if (pairing.kind === 'same') return undefined
  const field = path === '' ? 'the value' : `field ${path}`
  if (pairing.kind === 'refuse') {
    throw new Refused(
      `${field}: the writer's ${describeLogical(w.logical, w.type.typeName)} cannot be read as the source schema's ${describeLogical(r.logical, r.type.typeName)}: ${pairing.why}`,
    )
  }
  const convert = pairing.convert
  return {
    key: `${pairing.from}→${pairing.to}`,
    apply: (value) => {
      if (typeof value !== 'number' && typeof value !== 'bigint') return value
      try {
        return convert(value)
      } catch (err: unknown) {
        throw err instanceof LogicalOverflow
          ? new LogicalOverflow(`${field}: the writer's ${pairing.from} ${err.message} as the source schema's ${pairing.to}`)
          : err
      }
    },
  }
}

function each(step: Step | undefined, kind: 'array' | 'map'): Step | undefined {
  if (step === undefined) return undefined
  const { apply } = step
  if (kind === 'array') return { key: `[${step.key}]`, apply: (v) => (Array.isArray(v) ? v.map(apply) : v) }
  return {
    key: `{${step.key}}`,
    apply: (v) => {
      if (v === null || typeof v !== 'object') return v
      const map = v as Record<string, unknown>
      for (const k of Object.keys(map)) map[k] = apply(map[k])
      return map
    },
  }
}

function record(w: Shape, r: Shape, decoding: Shape, path: string, memo: Memo): Step | undefined {
  const id = `${w.name ?? ''}→${r.name ?? ''}`
  // A recursive record: its step is the one being built (filled in below), or none.
  if (memo.has(id)) return memo.get(id)
  const step = { key: `rec(${id})`, apply: (v: unknown) => v }
  memo.set(id, step)
  // Each field's step object, not its apply: a recursive reference's step is completed after it is met.
  const steps: { name: string; step: Step }[] = []
  const decodingFields = decoding.fields ?? []
  for (const [i, field] of (r.fields ?? []).entries()) {
    const written = (w.fields ?? []).find((f) => f.name === field.name || (field.aliases ?? []).includes(f.name))
    if (written === undefined) continue
    const at = path === '' ? field.name : `${path}.${field.name}`
    const fieldStep = walk(shape(written.type), shape(field.type), shape(decodingFields[i]?.type), at, memo)
    if (fieldStep !== undefined) steps.push({ name: field.name, step: fieldStep })
  }
  if (steps.length === 0) {
    memo.set(id, undefined)
    return undefined
  }
  step.apply = (v) => {
    if (v === null || typeof v !== 'object') return v
    const rec = v as Record<string, unknown>
    for (const s of steps) rec[s.name] = s.step.apply(rec[s.name])
    return rec
  }
  return step
}

/** The first branch of the reader's union that resolves `writer`, as avsc's resolver picks it. */
function branchFor(readerUnion: Shape, writer: Shape): number {
  const branches = readerUnion.types ?? []
  return branches.findIndex((branch) => resolves(shape(branch), writer))
}

function resolves(reader: Shape, writer: Shape): boolean {
  try {
    reader.createResolver(writer as unknown as Type)
    return true
  } catch {
    return false
  }
}

function readerUnion(writer: Shape, r: Shape, decoding: Shape, path: string, memo: Memo): Step | undefined {
  const i = branchFor(r, writer)
  if (i < 0) return undefined
  const step = walk(writer, shape(r.types?.[i]), shape(decoding.types?.[i]), path, memo)
  return step === undefined ? undefined : unionStep(decoding, new Map([[i, step]]))
}

function writerUnion(w: Shape, readerType: Shape, decoding: Shape, path: string, memo: Memo): Step | undefined {
  const r = unwrap(readerType).type
  const readerIsUnion = r.typeName.startsWith('union:')
  // Per reader value position (the reader's branch, or the reader itself): the writer branches' steps must agree.
  const byBranch = new Map<number, Step | undefined>()
  for (const branch of w.types ?? []) {
    const b = shape(branch)
    // A null carries no value to convert; a branch the reader cannot read fails that record in avsc.
    if (unwrap(b).type.typeName === 'null') continue
    const i = readerIsUnion ? branchFor(r, b) : resolves(readerType, b) ? 0 : -1
    if (i < 0) continue
    const step = readerIsUnion
      ? walk(b, shape(r.types?.[i]), shape(decoding.types?.[i]), path, memo)
      : walk(b, readerType, decoding, path, memo)
    if (byBranch.has(i) && byBranch.get(i)?.key !== step?.key) {
      throw new Refused(
        `${path === '' ? 'the value' : `field ${path}`}: the writer's union branches are read into one value of the source schema but would need different conversions`,
      )
    }
    byBranch.set(i, step)
  }
  const steps = new Map([...byBranch].filter((e): e is [number, Step] => e[1] !== undefined))
  if (steps.size === 0) return undefined
  if (!readerIsUnion) return steps.get(0)
  return unionStep(decoding, steps)
}

/** The step for the branches of the reader's union (as decoded: wrapped `{branch: value}` or the value itself). */
function unionStep(decoding: Shape, steps: Map<number, Step>): Step {
  const branches = (decoding.types ?? []).map(shape)
  const key = `u(${[...steps].map(([i, s]) => `${i}:${s.key}`).join(',')})`
  if (decoding.typeName === 'union:wrapped') {
    const byName = new Map([...steps].map(([i, s]) => [branches[i]?.branchName ?? '', s.apply]))
    return {
      key,
      apply: (v) => {
        if (v === null || typeof v !== 'object') return v
        const wrapped = v as Record<string, unknown>
        for (const name of Object.keys(wrapped)) {
          const apply = byName.get(name)
          if (apply !== undefined) wrapped[name] = apply(wrapped[name])
        }
        return wrapped
      },
    }
  }
  // Unwrapped: at most one branch per kind of JS value (avsc's buckets), so the value names its branch.
  const byBucket = new Map([...steps].map(([i, s]) => [bucketOfType(branches[i]?.typeName ?? ''), s.apply]))
  return { key, apply: (v) => byBucket.get(bucketOfValue(v))?.(v) ?? v }
}

function bucketOfType(typeName: string): string {
  switch (typeName) {
    case 'int':
    case 'long':
    case 'float':
    case 'double':
      return 'number'
    case 'bytes':
    case 'fixed':
      return 'buffer'
    case 'enum':
      return 'string'
    case 'map':
    case 'record':
    case 'error':
      return 'object'
    default:
      return typeName
  }
}

function bucketOfValue(v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'number' || typeof v === 'bigint') return 'number'
  if (typeof v === 'string' || typeof v === 'boolean') return typeof v
  if (Buffer.isBuffer(v)) return 'buffer'
  if (Array.isArray(v)) return 'array'
  return 'object'
}
