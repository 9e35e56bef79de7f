/**
 * `kfs serve` serves what the registry published, as a training set reads it (main/commands/
 * served-definitions.ts). It served a request feature whose function had been edited without
 * `kfs apply` — a training set refuses that one (DEFINITION_CHANGED), so serving answered with
 * logic no model trained on — and said nothing when the registry held a newer version of a view
 * than the module: `view:f` then reads v1 in serving and v2 in a training set.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import * as examples from '../../../examples/features.ts'
import { requestFeature } from '../../../features/index.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { servedDefinitions } from '../../../main/commands/served-definitions.ts'
import { collectDefinitions, createRegistry } from '../../../registry/index.ts'
import {
  account,
  accountProbe,
  probes,
  userAccount,
  userAccountProbe,
  userProbe,
  userProbeV2,
} from '../training/serving-agreement.ts'

const clock = { nowMs: () => 1_700_000_000_000, sleep: async () => {} }
const base = { ...examples, probes, account, userAccount, accountProbe, userAccountProbe }

async function registry() {
  const r = createRegistry({ store: new MemoryObjectStore(), clock })
  await r.apply(collectDefinitions({ ...base, userProbe }))
  await r.apply(collectDefinitions({ ...base, userProbe: userProbeV2 }))
  return r
}

const edited = requestFeature({
  name: examples.amountVsAvg7d.name,
  request: { amount: 'double' },
  features: ['user_purchases:amount_avg_7d'],
  outputType: 'double',
  description: 'edited without kfs apply',
  fn: (req) => (req.amount as number) * 2,
})
const unpublished = requestFeature({
  name: 'never_applied',
  request: { amount: 'double' },
  features: [],
  outputType: 'double',
  description: 'not in the registry',
  fn: (req) => req.amount as number,
})

const CASES: readonly {
  what: string
  set: Parameters<typeof servedDefinitions>[0]
  views: readonly string[]
  requestFeatures: readonly string[]
  notes: readonly RegExp[]
}[] = [
  {
    what: 'everything as published',
    set: { views: [examples.userPurchases, userProbeV2], requestFeatures: [examples.amountVsAvg7d] },
    views: ['user_purchases@1', 'user_probe@2'],
    requestFeatures: ['amount_vs_avg_7d'],
    notes: [],
  },
  {
    what: 'a request feature edited without kfs apply',
    set: { views: [examples.userPurchases], requestFeatures: [edited] },
    views: ['user_purchases@1'],
    requestFeatures: [],
    notes: [
      /^not serving request feature amount_vs_avg_7d: it differs from its published definition, which training sets run \(run kfs apply\)\n$/,
    ],
  },
  {
    what: 'a request feature never published (a training set runs it too)',
    set: { views: [examples.userPurchases], requestFeatures: [unpublished] },
    views: ['user_purchases@1'],
    requestFeatures: ['never_applied'],
    notes: [],
  },
  {
    what: 'a module behind the registry',
    set: { views: [examples.userPurchases, userProbe], requestFeatures: [] },
    views: ['user_purchases@1', 'user_probe@1'],
    requestFeatures: [],
    notes: [
      /^user_probe: requests naming it without a version read v1, but the registry's latest is v2, which training sets read; pin user_probe@1:… in both or serve v2\n$/,
    ],
  },
]

void describe('kfs serve > what it serves is what training sets read', () => {
  for (const c of CASES) {
    void test(c.what, async () => {
      const notes: string[] = []
      const served = await servedDefinitions(c.set, await registry(), (line) => notes.push(line))
      assert.deepEqual(
        served.views.map((v) => `${v.name}@${v.version}`),
        c.views,
      )
      assert.deepEqual(
        served.requestFeatures.map((r) => r.name),
        c.requestFeatures,
      )
      assert.equal(notes.length, c.notes.length, notes.join(''))
      c.notes.forEach((re, i) => assert.match(notes[i]!, re))
    })
  }
})
