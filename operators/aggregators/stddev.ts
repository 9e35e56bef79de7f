/**
 * stddev: the square root of variance (variance.ts) — population by default, sample with
 * `sample: true`. Empty → null; the sample stddev of one value → null. It reads the very
 * `moments` column of variance features of its field (same kernel, `sample` is finish-only), so
 * asking for both costs one accumulator; inputs are bounded by ±2^476 likewise.
 */
import { defineAggregation, mainOutput } from './contract.ts'
import { momentsFinisher, momentsKernel, sampleParam, varianceOf } from './variance.ts'

export const stddev = defineAggregation({
  op: 'stddev',
  summary: 'population standard deviation of the values (sample with sample: true); empty → null, sample of one value → null',
  field: 'required',
  fields: 'numeric',
  params: [sampleParam('stddev')],
  outputs: [mainOutput('double')],
  label: (p: { readonly sample: boolean }) => (p.sample ? 'stddev_samp' : 'stddev'),
  compute: (p: { readonly sample: boolean }) => ({
    column: momentsKernel,
    finisher: momentsFinisher((acc) => {
      const v = varianceOf(acc, p.sample)
      return v === null ? null : Math.sqrt(v as number)
    }),
  }),
})
