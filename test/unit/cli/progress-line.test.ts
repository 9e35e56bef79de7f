import assert from 'node:assert/strict'
import { test } from 'node:test'
import { progressLine } from '../../../main/commands/progress-line.ts'

void test('progress line > bar, share, counts, rate and ETA from what is done', () => {
  const line = progressLine('user_clicks', { done: 25_000, total: 100_000, rows: 80_000 }, 5_000)
  assert.equal(line, 'user_clicks [######..................] 25% 25.0k/100.0k events, 80.0k rows, 5000 events/s, ETA 15s')
  assert.match(progressLine('v', { done: 1_000, total: 7_201_000, rows: 0 }, 1_000), /ETA 2h00m$/)
  assert.match(progressLine('v', { done: 0, total: 10, rows: 0 }, 0), /\[\.{24}\] 0% 0\/10 events, 0 rows, 0 events\/s, ETA \?$/)
})

void test('progress line > the total is an upper bound: 100 % only when finished', () => {
  assert.match(progressLine('v', { done: 10, total: 10, rows: 3 }, 1_000), / 99% /)
  assert.match(progressLine('v', { done: 9, total: 10, rows: 3 }, 1_000, true), /\[#{24}\] 100% .* ETA 0s$/)
})
