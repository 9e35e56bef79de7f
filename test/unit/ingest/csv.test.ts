import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { typeCell } from '../../../adapters/tables/csv-cells.ts'
import { parseCsv } from '../../../core/csv-parse.ts'
import { CsvSyntaxError } from '../../../core/errors.ts'

const cells = (text: string) => [...parseCsv(text)].map((r) => r.cells)

void describe('parseCsv (RFC 4180)', () => {
  void it('splits fields and records, LF or CRLF, with or without a final line break', () => {
    assert.deepEqual(cells('a,b\r\n1,2\r\n'), [['a', 'b'], ['1', '2']])
    assert.deepEqual(cells('a,b\n1,2'), [['a', 'b'], ['1', '2']])
    assert.deepEqual(cells('a,,\n,x,'), [['a', '', ''], ['', 'x', '']])
  })

  void it('reads quoted fields with commas, line breaks and doubled quotes', () => {
    assert.deepEqual(cells('"a,b","say ""hi""","two\r\nlines"\r\nx,"",y'), [['a,b', 'say "hi"', 'two\r\nlines'], ['x', '', 'y']])
  })

  void it('names the fields written "" (an empty text, where an empty field is a null)', () => {
    const records = [...parseCsv('a,b,c\n"",,""\nx,"y",z\n"""",q,\n')]
    assert.deepEqual(
      records.map((r) => r.quotedEmpty),
      [undefined, [0, 2], undefined, undefined],
    )
  })

  void it('skips blank lines and a byte-order mark, and numbers records by their first line', () => {
    const records = [...parseCsv('\uFEFFid\n\n"multi\nline"\n\nlast\n')]
    assert.deepEqual(records.map((r) => [r.line, r.cells]), [[1, ['id']], [3, ['multi\nline']], [6, ['last']]])
  })

  void it('keeps a lone CR inside an unquoted field', () => {
    assert.deepEqual(cells('a\rb,c'), [['a\rb', 'c']])
  })

  void it('refuses an unclosed quote, text after a closing quote and a quote inside an unquoted field', () => {
    assert.throws(() => cells('a\n"open'), (e: unknown) => e instanceof CsvSyntaxError && /line 2: a quoted field is never closed/.test(e.message))
    assert.throws(() => cells('"a"b'), /text after a closing quote/)
    assert.throws(() => cells('ab"c'), /quote inside an unquoted field/)
  })
})

void describe('typeCell', () => {
  void it('types cells by the declared kind, empty as null', () => {
    assert.equal(typeCell('', 'string'), null)
    assert.equal(typeCell('42', 'long'), 42)
    assert.equal(typeCell('9007199254740993', 'long'), 9007199254740993n)
    assert.equal(typeCell('-1.5e3', 'double'), -1500)
    assert.equal(typeCell('TRUE', 'boolean'), true)
    // Booleans as each exporter writes them (Postgres's COPY: t/f); anything else stays text, so its row is rejected.
    for (const [cell, value] of [['true', true], ['False', false], ['t', true], ['f', false], ['T', true], ['F', false], ['yes', 'yes'], ['1', '1'], ['tru', 'tru']] as const)
      assert.equal(typeCell(cell, 'boolean'), value, cell)
    assert.equal(typeCell('2026-11-01', 'timestamp'), Date.UTC(2026, 10, 1))
    assert.equal(typeCell('2026-11-01T10:00:00.123456Z', 'timestamp'), Date.UTC(2026, 10, 1, 10, 0, 0, 123))
    assert.equal(typeCell('2026-11-01 10:00:00', 'timestamp'), Date.UTC(2026, 10, 1, 10), 'no zone: UTC')
    assert.equal(typeCell('2026-11-01T10:00:00+02:00', 'timestamp'), Date.UTC(2026, 10, 1, 8))
    assert.equal(typeCell('1700000000000', 'timestamp'), 1_700_000_000_000)
  })

  void it('a quoted empty cell is the empty string in a text column, null in the others (which have no empty value)', () => {
    assert.equal(typeCell('', 'string', true), '')
    assert.equal(typeCell('', 'other', true), '')
    for (const kind of ['long', 'double', 'boolean', 'timestamp'] as const) assert.equal(typeCell('', kind, true), null, kind)
  })

  void it('leaves a cell that does not parse as the string it was', () => {
    for (const [cell, kind] of [['12x', 'long'], ['1.2.3', 'double'], ['yes', 'boolean'], ['tomorrow', 'timestamp'], ['1.5', 'long']] as const)
      assert.equal(typeCell(cell, kind), cell)
  })
})
