import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { benchRunProblems, type BenchExpectation, type BenchRun } from '../../support/bench-line.ts'

const expect: BenchExpectation = { keys: ['events_per_s', 'baseline_events_per_s', 'ratio'], text: ['store'] }
const good = 'BENCH demo events_per_s=1200 baseline_events_per_s=4000 ratio=0.300 store=s3'

function run(stdout: string, code: number | null = 0, signal: NodeJS.Signals | null = null): BenchRun {
  return { code, signal, stdout, stderr: '' }
}

void describe('the finished-bench check of the every-bench test (test/support/bench-line.ts)', () => {
  void test('a run that exits 0 with a well-formed last line passes, progress lines and trailing blank lines aside', () => {
    assert.deepEqual(benchRunProblems('demo', run(`warming up\n${good}\n\n`), expect), [])
    assert.deepEqual(benchRunProblems('demo', run('BENCH demo p99_ms=3.5 floor_p99_ms=2 e=1e3 n=-4\n')), [])
  })

  void test('a failed exit is reported, by code or by signal, even after a good line', () => {
    assert.deepEqual(benchRunProblems('demo', run(good, 1), expect), ['exited 1'])
    assert.deepEqual(benchRunProblems('demo', run(good, null, 'SIGKILL'), expect), ['exited SIGKILL'])
  })

  void test('no BENCH line of this bench as the last line is reported', () => {
    for (const stdout of [
      '',
      '\n  \n',
      'all done',
      `${good}\nanother line`,
      good.replace('demo', 'other'),
      'BENCH demo',
      'BENCHdemo ratio=1',
    ]) {
      const problems = benchRunProblems('demo', run(stdout), expect)
      assert.equal(problems.length, 1, `${JSON.stringify(stdout)}: ${problems.join('; ')}`)
      assert.match(problems[0]!, /printed nothing|not "BENCH demo |carries no key=value/)
    }
  })

  void test('every malformed field is reported: not key=value, or a key twice', () => {
    for (const [field, reason] of [
      ['ratio', /"ratio" is not key=value/],
      ['=3', /"=3" is not key=value/],
      ['ratio=', /"ratio=" is not key=value/],
      ['Ratio=1', /"Ratio=1" is not key=value/],
      ['events_per_s=5', /events_per_s appears twice/],
    ] as const) {
      const problems = benchRunProblems('demo', run(`${good} ${field}`), expect)
      assert.equal(problems.length, 1, problems.join('; '))
      assert.match(problems[0]!, reason)
    }
  })

  void test('every value that is not a finite number is reported, unless its key is a text field', () => {
    for (const value of ['NaN', 'Infinity', '-Infinity', '1e400', 'abc', '1/2/3', '0x10', '1.2.3', '.5', 'undefined']) {
      assert.deepEqual(benchRunProblems('demo', run(good.replace('ratio=0.300', `ratio=${value}`)), expect), [
        `ratio=${value} is not a finite number`,
      ])
      assert.deepEqual(benchRunProblems('demo', run(`${good} extra=${value}`), expect), [`extra=${value} is not a finite number`])
    }
    assert.deepEqual(benchRunProblems('demo', run(good.replace('store=s3', 'store=12/x')), expect), [])
  })

  void test('each required key that is missing is reported', () => {
    for (const key of expect.keys) {
      const line = good.replace(new RegExp(` ${key}=\\S+`), '')
      assert.ok(benchRunProblems('demo', run(line), expect).includes(`no ${key}`), line)
    }
  })

  void test('a line without any bound or ratio is reported', () => {
    const problems = benchRunProblems('demo', run('BENCH demo events_per_s=1200 p99_ms=4 rows=10'))
    assert.deepEqual(problems, ['no bound or ratio among events_per_s, p99_ms, rows'])
  })
})
