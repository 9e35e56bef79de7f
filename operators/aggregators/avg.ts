/**
 * avg: mean of finite numbers; empty → null. It has no accumulator of its own: an avg feature
 * reads the `sum` and `count` columns of its field — shared with sum and count features of that
 * field — and divides, so `avg(x)` costs nothing next to `sum(x)` and `count(x)`.
 */
import { countKernel } from './count.ts'
import { defineAggregation, mainOutput } from './contract.ts'
import { sumKernel } from './sum.ts'

export const avg = defineAggregation({
  op: 'avg',
  summary: 'mean of the values (sum / count); empty → null',
  field: 'required',
  fields: 'numeric',
  params: [],
  outputs: [mainOutput('double')],
  label: () => 'avg',
  compute: () => ({ pair: [sumKernel, countKernel], combine: (total: number, n: number) => (n === 0 ? null : total / n) }),
})
