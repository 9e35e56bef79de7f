/**
 * The topic settings both Kafka adapters share (adapters/event-log/topic-settings.ts) and which
 * source topics kfs creates compacted (engine/source-topics.ts): a table source's own topic, never
 * an event source's nor a re-keyed view's internal topic (keyed by the group: compaction there
 * would drop rows).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { retentionLimitOf, topicSettings } from '../../../adapters/event-log/topic-settings.ts'
import { rekeyedSource } from '../../../engine/plan-sources.ts'
import { TABLE_TOPIC_COMPACT_AFTER_MS, topicOptionsOf } from '../../../engine/source-topics.ts'
import { entity } from '../../../features/index.ts'
import { accountsSource } from '../ingest/fixtures.ts'

void describe('topic settings', () => {
  void it('a compacted topic is created with cleanup.policy=compact and its lag; others with the cluster defaults', () => {
    assert.deepEqual(topicSettings(undefined), [])
    assert.deepEqual(topicSettings({}), [])
    assert.deepEqual(topicSettings({ compactAfterMs: 604_800_000 }), [
      { name: 'cleanup.policy', value: 'compact' },
      { name: 'min.compaction.lag.ms', value: '604800000' },
    ])
  })

  void it('names the settings that delete records, and nothing for a topic that keeps each key for good', () => {
    const limit = (entries: Record<string, string | null>) => retentionLimitOf(new Map(Object.entries(entries)))
    assert.equal(limit({ 'cleanup.policy': 'compact' }), undefined)
    assert.equal(limit({ 'cleanup.policy': 'delete', 'retention.ms': '-1', 'retention.bytes': '-1' }), undefined)
    assert.equal(
      limit({ 'cleanup.policy': 'delete', 'retention.ms': '604800000', 'retention.bytes': '-1' }),
      'cleanup.policy=delete, retention.ms=604800000',
    )
    assert.equal(
      limit({ 'cleanup.policy': 'compact,delete', 'retention.ms': '-1', 'retention.bytes': '1073741824' }),
      'cleanup.policy=compact,delete, retention.bytes=1073741824',
    )
    // Unreported settings are Kafka's defaults: delete after 7 days.
    assert.equal(limit({}), 'cleanup.policy=delete, retention.ms=604800000')
  })
})

void describe('source topics', () => {
  void it("a table source's topic is compacted; an event source's and a re-keyed internal topic are not", () => {
    const table = accountsSource()
    assert.deepEqual(topicOptionsOf(table), { compactAfterMs: TABLE_TOPIC_COMPACT_AFTER_MS })
    assert.equal(topicOptionsOf({ ...table, changes: undefined }), undefined)
    const region = entity({ name: 'region', joinKeys: ['region'], description: 'A region' })
    assert.equal(topicOptionsOf(rekeyedSource(table, region)), undefined)
    assert.equal(topicOptionsOf({ ...table, changes: { ...table.changes!, kind: 'changelog' } }), undefined)
  })
})
