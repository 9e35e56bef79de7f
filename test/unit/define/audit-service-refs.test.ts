/**
 * A feature service that names one feature twice. The same ref twice was refused, but the same
 * feature under two version pins ('v:f' and 'v@1:f', 'v@1:f' and 'v@2:f', a whole view and one
 * of its features pinned) and a request feature listed twice were accepted and published; a
 * training set of such a service then failed when built ("two features would both be named v__f").
 * Each is now a DefinitionError when the service is declared — except two distinct pins
 * ('v@1:f' and 'v@2:f'), which serving and training sets both answer (columns v@1__f and v@2__f,
 * test/unit/training/agreement-two-versions.test.ts); an unpinned ref beside a pin may name the
 * pinned version, so it stays refused.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DefinitionError } from '../../../core/errors.ts'
import { featureService, featureView, requestFeature, type FeatureServiceOptions } from '../../../features/index.ts'
import { viewBase } from './fixtures.ts'

const stats = featureView({ ...viewBase, aggregations: [{ op: 'count', windows: ['1h', '1d'] }] })
const ratio = requestFeature({
  name: 'ratio',
  request: { amount: 'double' },
  features: ['user_stats:count_1h'],
  outputType: 'double',
  fn: () => null,
  description: 'd',
})
const service = (features: FeatureServiceOptions['features'], requestFeatures?: FeatureServiceOptions['requestFeatures']) =>
  featureService({
    name: 'model',
    features,
    ...(requestFeatures === undefined ? {} : { requestFeatures }),
    owner: 'o',
    description: 'd',
  })

const REFUSED: readonly { what: string; define: () => unknown; message: string }[] = [
  {
    what: 'latest and pinned',
    define: () => service(['user_stats:count_1h', 'user_stats@1:count_1h']),
    message: "'user_stats:count_1h' and 'user_stats@1:count_1h' are feature count_1h of view user_stats twice",
  },
  {
    what: 'two pins, then the same feature unpinned',
    define: () => service(['user_stats@1:count_1h', 'user_stats@2:count_1h', 'user_stats:count_1h']),
    message: "'user_stats@1:count_1h' and 'user_stats:count_1h' are feature count_1h of view user_stats twice",
  },
  {
    what: 'a whole view, then one of its features pinned',
    define: () => service([stats, 'user_stats@3:count_1d']),
    message: "'user_stats:count_1d' and 'user_stats@3:count_1d'",
  },
  {
    what: 'a request feature twice by name',
    define: () => service(['user_stats:count_1h'], ['ratio', 'ratio']),
    message: "request feature 'ratio' is listed twice",
  },
  {
    what: 'a request feature as itself and by name',
    define: () => service(['user_stats:count_1h'], [ratio, 'ratio']),
    message: "request feature 'ratio' is listed twice",
  },
]

void describe('define > featureService naming one feature twice', () => {
  for (const c of REFUSED) {
    void test(`${c.what}: a DefinitionError`, () => {
      assert.throws(c.define, (err: unknown) => {
        assert.ok(err instanceof DefinitionError, `expected a DefinitionError, got ${String(err)}`)
        assert.ok(err.message.includes(c.message), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(c.message)}`)
        return true
      })
    })
  }

  void test('one feature under two distinct pins is two features: accepted, in the order listed', () => {
    const s = service(['user_stats@2:count_1h', 'user_stats@1:count_1h'])
    assert.deepEqual(s.features, ['user_stats@2:count_1h', 'user_stats@1:count_1h'])
  })

  void test('distinct features of two versions of one view, and distinct request features, are fine', () => {
    const s = service(['user_stats@1:count_1h', 'user_stats@2:count_1d'], [ratio, 'other'])
    assert.deepEqual(s.features, ['user_stats@1:count_1h', 'user_stats@2:count_1d'])
    assert.deepEqual(s.requestFeatures, ['ratio', 'other'])
  })
})
