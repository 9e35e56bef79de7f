/** Definition hashes: sha256 (hex) of the canonical JSON of a definition's logic (see describe.ts). */
import { createHash } from 'node:crypto'
import type { FeatureViewDef, RequestFeatureDef } from '../features/types.ts'
import { canonicalJson } from './canonical-json.ts'
import { requestFeatureLogic, viewLogic } from './describe.ts'

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

export function hashLogic(logic: unknown): string {
  return sha256Hex(canonicalJson(logic))
}

/** Stable across processes; unchanged by owner, description, tags, SLA or online/offline flags. */
export function viewHash(view: FeatureViewDef): string {
  return hashLogic(viewLogic(view))
}

export function requestFeatureHash(feature: RequestFeatureDef): string {
  return hashLogic(requestFeatureLogic(feature))
}

export function shortHash(hash: string): string {
  return hash.slice(0, 12)
}
