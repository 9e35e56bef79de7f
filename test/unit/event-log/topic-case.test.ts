/**
 * Topics whose names differ only in case, on a file system that does not tell them apart (macOS,
 * Windows): there the folder `topics/Clicks` is the one `clicks` made. Simulated here (Linux tells
 * them apart) by renaming `clicks`'s folder to the asked spelling — what that file system shows
 * the log. Opening the other spelling is refused naming both, by the writer and by a reader, and
 * the stored topic's records are left as they were; a topic.json written before topic.json named
 * its topic is judged by the folder's spelling in the listing. A consumer group's file holds
 * offsets only, so the listing judges it too.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SourceError } from '../../../core/errors.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { EmbeddedLogReader } from '../../../adapters/event-log/embedded/embedded-log-reader.ts'
import { checkTopicFolder } from '../../../adapters/event-log/embedded/topic-meta.ts'
import { GroupCoordinator } from '../../../adapters/event-log/embedded/group-coordinator.ts'
import { listedOtherwise } from '../../../adapters/local-disk/file-name.ts'

const tempDir = () => mkdtempSync(join(tmpdir(), 'kfs-topic-case-'))
const names = (stored: string, asked: string) => (err: unknown) =>
  err instanceof SourceError &&
  err.code === 'BAD_REQUEST' &&
  err.message.includes(`'${asked}'`) &&
  err.message.includes(`'${stored}'`) &&
  /upper from lower case/.test(err.message)

/** Every file under `dir` with its bytes. */
function contents(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile())
      out.set(join(entry.parentPath, entry.name).slice(dir.length), readFileSync(join(entry.parentPath, entry.name), 'latin1'))
  }
  return out
}

void describe('event log > embedded > topics differing in case', () => {
  void test('a folder another spelling of the topic made is refused by every call, naming both, and its records are untouched', async () => {
    const pairs: [stored: string, asked: string][] = [
      ['clicks', 'Clicks'],
      ['Clicks', 'clicks'],
      ['user.events', 'User.Events'],
      ['a-B_c', 'A-b_C'],
    ]
    for (const [stored, asked] of pairs) {
      const dir = tempDir()
      const log = new EmbeddedEventLog({ dir })
      await log.createTopic(stored, 2)
      await log.produce(stored, [{ key: 'k', value: Buffer.from('v') }])
      await log.close()
      assert.deepEqual(
        JSON.parse(readFileSync(join(dir, 'topics', stored, 'topic.json'), 'utf8')),
        { partitions: 2, topic: stored },
        'topic.json names its topic',
      )
      renameSync(join(dir, 'topics', stored), join(dir, 'topics', asked))
      const before = contents(join(dir, 'topics'))

      const writer = new EmbeddedEventLog({ dir })
      const reader = new EmbeddedLogReader({ dir })
      const calls: [string, () => Promise<unknown>][] = [
        ['createTopic', () => writer.createTopic(asked, 2)],
        ['createTopic, another partition count', () => writer.createTopic(asked, 5)],
        ['produce', () => writer.produce(asked, [{ key: 'k', value: Buffer.from('other') }])],
        ['partitionCount', () => writer.partitionCount(asked)],
        ['endOffsets', () => writer.endOffsets(asked)],
        ['committedOffsets', () => writer.committedOffsets('g', asked)],
        ['reader partitionCount', () => reader.partitionCount(asked)],
        ['reader endOffsets', () => reader.endOffsets(asked)],
      ]
      for (const [what, call] of calls)
        await assert.rejects(call(), names(stored, asked), `${stored} opened as ${asked}: ${what}`)
      await writer.close()
      await reader.close()
      assert.deepEqual(contents(join(dir, 'topics')), before, `${asked}: nothing written into ${stored}'s folder`)
    }
  })

  void test("a topic.json from before (naming no topic): the folder's spelling in the listing decides", async () => {
    const cases: [what: string, listing: string[], expected: 'open' | string][] = [
      ['listed as asked', ['Clicks', 'views'], 'open'],
      ['listed as asked, beside another spelling (a case-sensitive file system)', ['Clicks', 'clicks'], 'open'],
      ['listed in lower case', ['clicks', 'views'], 'clicks'],
      ['listed in another mix', ['cLiCkS'], 'cLiCkS'],
      ['not listed at all', ['views'], '(another spelling)'],
    ]
    for (const [what, listing, expected] of cases) {
      const check = () => checkTopicFolder('Clicks', join('/data', 'topics', 'Clicks'), undefined, () => listing)
      if (expected === 'open') assert.doesNotThrow(check, what)
      else assert.throws(check, names(expected, 'Clicks'), what)
    }
    // topic.json naming a topic decides alone, whatever the listing.
    assert.doesNotThrow(() => checkTopicFolder('Clicks', '/data/topics/Clicks', 'Clicks', () => ['clicks']))
    assert.throws(() => checkTopicFolder('Clicks', '/data/topics/Clicks', 'clicks', () => ['Clicks']), names('clicks', 'Clicks'))

    // And on this file system, an old topic.json opens as before.
    const dir = tempDir()
    const log = new EmbeddedEventLog({ dir })
    await log.createTopic('old', 1)
    await log.produce('old', [{ key: 'k', value: Buffer.from('v') }])
    await log.close()
    writeFileSync(join(dir, 'topics', 'old', 'topic.json'), JSON.stringify({ partitions: 1 }))
    const reopened = new EmbeddedEventLog({ dir })
    assert.deepEqual(await reopened.endOffsets('old'), ['1'])
    await reopened.close()
    assert.deepEqual(await new EmbeddedLogReader({ dir }).endOffsets('old'), ['1'])
  })

  void test('a topic.json naming something other than a string is damage, not another topic', async () => {
    const dir = tempDir()
    const log = new EmbeddedEventLog({ dir })
    await log.createTopic('t', 1)
    await log.close()
    for (const topic of [7, null, ['t'], { name: 't' }]) {
      writeFileSync(join(dir, 'topics', 't', 'topic.json'), JSON.stringify({ partitions: 1, topic }))
      const reopened = new EmbeddedEventLog({ dir })
      await assert.rejects(
        reopened.partitionCount('t'),
        (err: unknown) => err instanceof SourceError && err.code === 'DATA_CORRUPT',
        JSON.stringify(topic),
      )
      await reopened.close()
    }
  })
})

void describe('event log > embedded > consumer groups differing in case', () => {
  void test("the listing's spelling of an entry: undefined when listed as asked", () => {
    const cases: [name: string, listing: string[], expected: string | undefined][] = [
      ['MyGroup.json', ['MyGroup.json'], undefined],
      ['MyGroup.json', ['mygroup.json', 'MyGroup.json'], undefined],
      ['MyGroup.json', ['mygroup.json'], 'mygroup.json'],
      ['mygroup.json', ['MYGROUP.JSON', 'other.json'], 'MYGROUP.JSON'],
      ['MyGroup.json', [], '(another spelling)'],
    ]
    for (const [name, listing, expected] of cases)
      assert.equal(listedOtherwise(name, listing), expected, `${name} in ${listing.join(',')}`)
  })

  void test("a group whose offsets file another spelling of the group wrote is refused naming both; each group's own file opens", async () => {
    const pairs: [stored: string, asked: string][] = [
      ['mygroup', 'MyGroup'],
      ['MyGroup', 'mygroup'],
      ['kfs.rekey.Clicks', 'kfs.rekey.clicks'],
    ]
    for (const [stored, asked] of pairs) {
      const dir = tempDir()
      const log = new EmbeddedEventLog({ dir })
      await log.createTopic('t', 1)
      await log.produce('t', [{ key: 'k', value: Buffer.from('v') }])
      await log.consumer({ groupId: stored, topics: ['t'] }).commit([{ topic: 't', partition: 0, offset: '1' }])
      await log.close()
      const groups = join(dir, 'groups')
      // Renamed to the asked spelling, listed as written: what a case-insensitive file system shows.
      renameSync(join(groups, `${stored}.json`), join(groups, `${asked}.json`))
      const open = (groupId: string) =>
        new GroupCoordinator({ dir: groups, groupId, fsync: false, partitionCount: () => 1, listing: () => [`${stored}.json`] })
      assert.throws(
        () => open(asked),
        (err: unknown) =>
          err instanceof SourceError &&
          err.code === 'BAD_REQUEST' &&
          err.message.includes(`group '${asked}'`) &&
          err.message.includes(`group '${stored}'`) &&
          /upper from lower case/.test(err.message),
        `${stored} asked as ${asked}`,
      )
      // A group with no file yet is not refused (it has no offsets to mix).
      assert.equal(
        new GroupCoordinator({
          dir: groups,
          groupId: 'fresh',
          fsync: false,
          partitionCount: () => 1,
          listing: () => [],
        }).committed('t', 0),
        undefined,
      )
    }
    // On this file system, two spellings are two groups, each with its own offsets.
    const dir = tempDir()
    const log = new EmbeddedEventLog({ dir })
    await log.createTopic('t', 1)
    await log.produce('t', [
      { key: 'k', value: Buffer.from('a') },
      { key: 'k', value: Buffer.from('b') },
    ])
    await log.consumer({ groupId: 'g', topics: ['t'] }).commit([{ topic: 't', partition: 0, offset: '1' }])
    await log.consumer({ groupId: 'G', topics: ['t'] }).commit([{ topic: 't', partition: 0, offset: '2' }])
    await log.close()
    const reopened = new EmbeddedEventLog({ dir })
    assert.deepEqual([await reopened.committedOffsets('g', 't'), await reopened.committedOffsets('G', 't')], [['1'], ['2']])
    await reopened.close()
  })
})
