/** Operation name → aggregator: the single place that knows every op. */
import { InvariantViolation } from '../../core/errors.ts'
import type { AggregationDef } from '../../features/types.ts'
import type { Aggregator } from './types.ts'
import { count } from './count.ts'
import { sum } from './sum.ts'
import { avg } from './avg.ts'
import { min } from './min.ts'
import { max } from './max.ts'
import { first } from './first.ts'
import { last } from './last.ts'
import { lastN } from './last-n.ts'
import { approxDistinct } from './approx-distinct.ts'
import { approxPercentile } from './approx-percentile.ts'

export function aggregatorFor(def: Pick<AggregationDef, 'op' | 'n' | 'quantile'>): Aggregator {
  switch (def.op) {
    case 'count':
      return count as Aggregator
    case 'sum':
      return sum as Aggregator
    case 'avg':
      return avg as Aggregator
    case 'min':
      return min as Aggregator
    case 'max':
      return max as Aggregator
    case 'first':
      return first as Aggregator
    case 'last':
      return last as Aggregator
    case 'last_n':
      if (def.n === undefined) throw new InvariantViolation('last_n needs n')
      return lastN(def.n) as Aggregator
    case 'approx_distinct':
      return approxDistinct as Aggregator
    case 'approx_percentile':
      if (def.quantile === undefined) throw new InvariantViolation('approx_percentile needs a quantile')
      return approxPercentile(def.quantile) as Aggregator
  }
}
