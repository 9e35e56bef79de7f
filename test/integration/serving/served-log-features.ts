/**
 * The run-scoped example views plus the served-feature log as a source (serving/served-log), so
 * `kfs run` archives what `kfs serve` logged. Used by served-log-skew.test.ts.
 */
import { servedLog } from '../../../serving/served-log/index.ts'

export * from '../../fixtures/features/run-scoped.ts'

const run = process.env.KFS_TEST_RUN ?? 'local'

export const { servedView, servedFeatures, servedLookups } = servedLog({
  topic: `served-${run}`,
  sourceName: `served_features_${run}`,
  viewName: `served_lookups_${run}`,
})
