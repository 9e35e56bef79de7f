/**
 * Subjects as file names in the embedded schema registry: a subject whose file holds another
 * subject (on a case-insensitive file system `Clicks-value` and `clicks-value` are one file) is
 * refused naming both, never read or extended as its own; a subject of any length or of any
 * characters gets a file, and subject files written before keep their names.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '../../../core/errors.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'

const tempDir = () => mkdtempSync(join(tmpdir(), 'kfs-sr-names-'))
const schema = (name: string, extra: readonly string[] = []) => ({
  type: 'record',
  name,
  fields: [{ name: 'a', type: 'int' }, ...extra.map((f) => ({ name: f, type: 'int', default: 0 }))],
})

void describe('schemas > embedded registry > subject names', () => {
  void test('a subject whose file holds a subject differing in case is refused, naming both, and its file is left as it was', async () => {
    const cases: [stored: string, asked: string][] = [
      ['clicks-value', 'Clicks-value'],
      ['Clicks-value', 'clicks-value'],
      ['clicks-value', 'CLICKS-VALUE'],
      ['orders.v2-value', 'Orders.V2-value'],
    ]
    for (const [stored, asked] of cases) {
      const dir = tempDir()
      const first = new EmbeddedSchemaRegistry({ dir })
      await first.register(stored, schema('A'))
      // What a case-insensitive file system does: the file for `asked` is the one `stored` wrote.
      renameSync(
        join(dir, 'subjects', `${encodeURIComponent(stored)}.json`),
        join(dir, 'subjects', `${encodeURIComponent(asked)}.json`),
      )
      const before = readFileSync(join(dir, 'subjects', `${encodeURIComponent(asked)}.json`), 'utf8')
      for (const registry of [first, new EmbeddedSchemaRegistry({ dir })]) {
        const attempts: [string, () => Promise<unknown>][] = [
          ['latest', () => registry.latest(asked)],
          ['register a new schema', () => registry.register(asked, schema('A', ['b']))],
          ['register the stored schema', () => registry.register(asked, schema('A'))],
        ]
        for (const [what, attempt] of attempts) {
          await assert.rejects(
            attempt(),
            (err: unknown) =>
              err instanceof ConfigError &&
              err.message.includes(`'${asked}'`) &&
              err.message.includes(`'${stored}'`) &&
              /upper from lower case/.test(err.message),
            `${stored} asked as ${asked}: ${what}`,
          )
        }
      }
      assert.equal(
        readFileSync(join(dir, 'subjects', `${encodeURIComponent(asked)}.json`), 'utf8'),
        before,
        `${asked}: the file is untouched`,
      )
      assert.deepEqual(readdirSync(join(dir, 'ids')), ['1.json'], `${asked}: no id was added`)
    }
  })

  void test('every subject gets a file that names it; one written before under its encoding is found there', async () => {
    const dir = tempDir()
    const registry = new EmbeddedSchemaRegistry({ dir })
    const subjects = [
      `${'t'.repeat(249)}-value`, // the longest Kafka topic's subject: its encoding plus .json is longer than a file name may be
      `${'é'.repeat(100)}-value`, // six bytes each encoded
      'lone-\ud800-value', // no URI encoding at all
      'a/b\\c:d*e?f-value', // separators and characters Windows refuses
      `${'u'.repeat(245)}`, // encoded 245 long: a file name before, so still one
    ]
    for (const [i, subject] of subjects.entries()) {
      const id = await registry.register(subject, schema(`S${i}`))
      assert.equal((await new EmbeddedSchemaRegistry({ dir }).latest(subject))?.id, id, JSON.stringify(subject).slice(0, 40))
    }
    const files = readdirSync(join(dir, 'subjects'))
    assert.equal(files.length, subjects.length)
    for (const file of files) assert.ok(Buffer.byteLength(file) <= 255, file)
    const named = files.map((f) => (JSON.parse(readFileSync(join(dir, 'subjects', f), 'utf8')) as { subject: string }).subject)
    assert.deepEqual(named.sort(), [...subjects].sort(), 'each file names its subject')
    assert.ok(files.includes(`${'u'.repeat(245)}.json`), 'a name that fitted keeps its encoding')

    // A subject file an earlier kfs wrote under its encoding (up to 246 letters then): read, and extended in place.
    const old = `${'o'.repeat(240)}`
    writeFileSync(join(dir, 'ids', '100.json'), JSON.stringify({ id: 100, schema: JSON.stringify(schema('Old')) }))
    writeFileSync(join(dir, 'subjects', `${old}.json`), JSON.stringify({ subject: old, versions: [100] }))
    const reopened = new EmbeddedSchemaRegistry({ dir })
    assert.equal((await reopened.latest(old))?.id, 100)
    const next = await reopened.register(old, schema('Old', ['b']))
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'subjects', `${old}.json`), 'utf8')), {
      subject: old,
      versions: [100, next],
    })
  })
})
