/**
 * The live-group claim on S3 (MinIO): `kfs run`'s claim of its topics is a PutObject with
 * `If-None-Match: *`, so of many groups starting at the same moment over the same topics exactly
 * one runs, and the others are refused naming it (docs/semantics.md §14). Before claims, every one
 * of them passed (none had a checkpoint yet). Needs the dev stack's MinIO (`. .kfs/stack/env.sh`).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ConfigError } from '../../../core/errors.ts'
import { requireSoleLiveGroup } from '../../../main/commands/live-groups.ts'
import { planRetire, retireGroup } from '../../../main/commands/store-groups.ts'
import { listClaims } from '../../../main/commands/topic-claims.ts'
import { makeS3Store, requireS3Env } from './s3-env.ts'

const TOPICS = ['clicks', 'kfs.clicks.by-item', 'purchases', 'odd topic/ü']

void describe('live-group claims on S3 (MinIO)', () => {
  for (let round = 0; round < 5; round++) {
    void test(`round ${round}: eight groups and two members of one start at once: one group runs, the others name it`, async () => {
      const store = makeS3Store(requireS3Env(), 'live-group-claims')
      const starts = [...Array.from({ length: 8 }, (_, i) => `g${i}`), 'm', 'm']
      const outcomes = await Promise.all(
        starts.map((group, i) =>
          requireSoleLiveGroup(store, group, TOPICS, 1_000 + i).then(
            () => undefined,
            (err: unknown) => err,
          ),
        ),
      )
      const winners = [...new Set(starts.filter((_, i) => outcomes[i] === undefined))]
      assert.equal(winners.length, 1, `one group runs: ${winners.join(', ')}`)
      const winner = winners[0]!
      for (const [i, err] of outcomes.entries()) {
        if (err === undefined) continue
        assert.ok(err instanceof ConfigError, String(err))
        assert.match(err.message, new RegExp(`^cannot run as group ${starts[i]}: .*is consumed by live group ${winner}\\b`))
      }
      const claims = await listClaims(store)
      assert.deepEqual(claims.map((c) => [c.topic, c.group]).sort(), TOPICS.map((t) => [t, winner]).sort())
      // The winner restarts; its claims only (never checkpointed) are freed by retiring it, and another group then runs.
      await requireSoleLiveGroup(store, winner, TOPICS, 5_000)
      const plan = await planRetire(store, winner)
      assert.deepEqual(plan?.free, [...TOPICS].sort())
      await retireGroup(store, plan!, 6_000)
      assert.deepEqual(await listClaims(store), [])
      const next = starts.find((g) => g !== winner)!
      await requireSoleLiveGroup(store, next, TOPICS, 7_000)
      assert.deepEqual(
        (await listClaims(store)).map((c) => c.group),
        TOPICS.map(() => next),
      )
    })
  }
})
