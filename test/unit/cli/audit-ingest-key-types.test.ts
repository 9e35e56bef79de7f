/**
 * `kfs ingest` keys each row as the engine will key it (operators/task/event-fields.ts
 * entityKeyOf): by the source's entity, whose keys are text (keyType 'string') or integers in one
 * canonical form (keyType 'int': `7`, never `007`, `+7`, `7.0` or `-0`). A row whose key the
 * entity cannot hold is rejected (`missing_key`), not appended for every view to dead-letter; a
 * primary-key column of a type the entity's keys never are (a number for a text entity) refuses
 * the snapshot, before anything is appended.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { checkIngest, dataDirIn, type Outcome } from './ingest-corpus.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-key-types-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const H = 'account_id,updated_at,balance,tier,visits\n'
const rowsOf = (keys: readonly string[]): string => H + keys.map((k) => `${k},1000,1.5,,\n`).join('')
const NOT_INTEGERS = ['007', '+5', '-0', '1.0', '1e3', ' 7', 'abc', '0x10']

const CASES: readonly (readonly [
  string,
  'accounts_int_csv' | 'accounts_long_key' | 'accounts_long_int_key' | 'accounts_csv',
  string,
  Outcome,
])[] = [
  [
    'an int entity keyed by a text column: integers in their one form logged, every other spelling rejected',
    'accounts_int_csv',
    rowsOf(['7', '-12', '0', '9007199254740993', '99999999999999999999', ...NOT_INTEGERS]),
    {
      logged: ['7@1000', '-12@1000', '0@1000', '9007199254740993@1000', '99999999999999999999@1000'],
      rejected: NOT_INTEGERS.map((_, i) => `${i + 6}:missing_key`),
      detail: /primary-key column account_id holds text "007", not an integer: entity account_number's keys are integers/,
    },
  ],
  [
    'an int entity keyed by a long column: each integer its one key (007 is 7)',
    'accounts_long_int_key',
    rowsOf(['7', '-12', '-0', '9007199254740993']).replace('-12,1000', '-12,2000'),
    { logged: ['7@1000', '-12@2000', '0@1000', '9007199254740993@1000'] },
  ],
  [
    'a text entity keyed by a long column: the snapshot refused, naming the column and the entity',
    'accounts_long_key',
    rowsOf(['7']),
    {
      refused:
        /the primary-key column account_id is long, but entity account's keys are text \(keyType 'string'\); nothing was appended \(declare the entity with keyType: 'int', or the column as a string\)$/,
    },
  ],
  [
    'a text entity keyed by a text column: any printable text',
    'accounts_csv',
    rowsOf(['007', '+5', '-0', 'abc']),
    { logged: ['007@1000', '+5@1000', '-0@1000', 'abc@1000'] },
  ],
]

void describe("kfs ingest: keys as the source's entity holds them", () => {
  for (const [what, source, text, want] of CASES) {
    void it(what, async () => {
      const file = join(dir, `${what.replace(/\W+/g, '-')}.csv`)
      writeFileSync(file, text)
      await checkIngest(source, file, dataDirIn(dir, what), want, what)
    })
  }
})
