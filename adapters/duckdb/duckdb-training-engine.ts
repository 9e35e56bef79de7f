/**
 * One DuckDB instance for a whole training-set build (ports/training-engine.ts): the label reader
 * and the joiner each get their own connection to it. Against one instance each: one instance
 * start and one close instead of two (the label reader's session time zone stays on its own
 * connection), and the instance's settings are the joiner's (spill directory, threads, memory).
 */
import type { TrainingEngine } from '../../ports/training-engine.ts'
import { joinerOn, openJoinerInstance, type DuckDbJoinerOptions } from './duckdb-joiner.ts'
import { labelReaderOn } from './duckdb-label-reader.ts'

export async function createDuckDbTrainingEngine(options: DuckDbJoinerOptions): Promise<TrainingEngine> {
  const instance = await openJoinerInstance(options)
  try {
    const labels = await labelReaderOn(instance)
    const joiner = await joinerOn(instance)
    return {
      labels,
      joiner,
      async close() {
        await labels.close()
        await joiner.close()
        instance.closeSync()
      },
    }
  } catch (error) {
    instance.closeSync()
    throw error
  }
}
