/**
 * The key rule at serving's doors and at the online store's (docs/semantics.md §20), over the
 * corpus (corpus.ts): `POST /v1/features` with one key and with a batch, a composite key's part,
 * `GET /v1/features/:view/:key` and a composite `GET` by query — each bad key a 400 whose message
 * is `<joinKey> is invalid: <core's reason>`; keys of the wrong type for their entity a 400 too.
 * The embedded online store, the last guard, refuses a write (SINK_REJECTED, nothing written)
 * and a read (BAD_REQUEST) of each bad key with core's reason. Every tricky-but-valid key is
 * written, read back by the same key from the store, and served by each door.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import { row } from '../../contracts/online-store.ts'
import { itemStats, userItem, userStats } from '../serving/fixtures.ts'
import { NOW, startServer, type TestServer } from '../serving/server-harness.ts'
import { openWs } from '../serving/ws-client.ts'
import { BAD_INTS, BAD_PARTS, GOOD_PARTS, reasonOf, wtf8 } from './corpus.ts'

interface Answer {
  readonly status: number
  readonly message: string | undefined
  readonly body: string
}

void describe('the key rule at serving (POST, GET, single, batch, composite) and the embedded online store', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
    // The valid keys, as the engine would write them: each its own row, so a read names the key it got.
    await server.store.writeRows(
      userStats,
      GOOD_PARTS.map((g, i) => row(g.part, NOW - 1000, [i, 0.5, g.part])),
    )
    await server.store.writeRows(
      userItem,
      GOOD_PARTS.map((g, i) => row(encodeEntityKey(['u1', g.part]), NOW - 1000, [i])),
    )
  })
  after(() => server.close())

  const answer = async (res: Response): Promise<Answer> => {
    const body = await res.text()
    let message: string | undefined
    try {
      message = (JSON.parse(body) as { error?: { message?: string } }).error?.message
    } catch {
      message = undefined
    }
    return { status: res.status, message, body: body.slice(0, 300) }
  }
  const post = async (entities: Record<string, unknown[]>, features: string[]): Promise<Answer> =>
    answer(await fetch(`${server.base}/v1/features`, { method: 'POST', body: JSON.stringify({ entities, features }) }))
  const get = async (path: string): Promise<Answer> => answer(await fetch(`${server.base}${path}`))
  /** A URL component: percent-encoded UTF-8, or WTF-8 bytes for a lone surrogate (encodeURIComponent refuses it). */
  const inUrl = (part: string): string =>
    part.isWellFormed()
      ? encodeURIComponent(part)
      : [...wtf8(part)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('')

  void test('POST, one key and a batch, a single key and a composite key part: a 400 with core reason', async () => {
    const problems: string[] = []
    for (const b of BAD_PARTS) {
      const want = `is invalid: ${reasonOf(b.part)}`
      const asks: [string, Record<string, unknown[]>, string[], string][] = [
        ['one key', { user_id: [b.part] }, ['user_stats:clicks_1h'], 'user_id'],
        ['a batch', { user_id: ['u42', b.part, 'u😀'] }, ['user_stats:clicks_1h'], 'user_id'],
        ['a composite key part', { user_id: ['u1'], item_id: [b.part] }, ['user_item:views_1d'], 'item_id'],
        ['a served key no view reads', { user_id: ['u42'], item_id: [b.part] }, ['user_stats:clicks_1h'], 'item_id'],
      ]
      for (const [what, entities, features, joinKey] of asks) {
        const a = await post(entities, features)
        if (a.status !== 400 || a.message !== `${joinKey} ${want}`) problems.push(`${b.what}, ${what}: ${JSON.stringify(a)}`)
      }
    }
    assert.deepEqual(problems, [])
  })

  void test('GET by path and a composite GET by query: a 400 with core reason (a lone surrogate arrives as bytes that are not UTF-8)', async () => {
    const problems: string[] = []
    for (const b of BAD_PARTS) {
      const asks: [string, string, string][] = [
        ['by path', `/v1/features/user_stats/${inUrl(b.part)}`, 'user_id'],
        ['by query', `/v1/features/user_stats?user_id=${inUrl(b.part)}`, 'user_id'],
        ['composite by query', `/v1/features/user_item?user_id=u1&item_id=${inUrl(b.part)}`, 'item_id'],
      ]
      for (const [what, path, joinKey] of asks) {
        // An empty path segment names no key: that route does not match, which is no answer about a key.
        if (what === 'by path' && b.part === '') continue
        const a = await get(path)
        // A URL over 16 KiB is refused by the transport before any key is read (431), as every request line that long.
        if (path.length > 16 * 1024) {
          if (a.status !== 431) problems.push(`${b.what}, ${what}: ${JSON.stringify(a)}`)
          continue
        }
        const ok = b.part.isWellFormed()
          ? a.message === `${joinKey} is invalid: ${reasonOf(b.part)}`
          : /percent-encoding|UTF-8/.test(a.message ?? '')
        if (a.status !== 400 || !ok) problems.push(`${b.what}, ${what}: ${JSON.stringify(a)}`)
      }
    }
    assert.deepEqual(problems, [])
  })

  void test("a WebSocket subscription to each bad key: an error message with core's reason; the socket stays usable", async () => {
    const ws = await openWs(server.port, '/v1/subscribe')
    try {
      const problems: string[] = []
      for (const b of BAD_PARTS) {
        const message = JSON.stringify({ subscribe: [{ view: 'user_stats', entity: b.part }] })
        // Over the socket's message limit (64 KiB) the transport closes it before any key is read, as for every message that large.
        if (Buffer.byteLength(message) > 64 * 1024) continue
        ws.send(message)
        const got = JSON.parse(await ws.next()) as { type: string; error?: { message: string } }
        if (got.type !== 'error' || got.error?.message !== `user_id is invalid: ${reasonOf(b.part)}`)
          problems.push(`${b.what}: ${JSON.stringify(got).slice(0, 300)}`)
      }
      assert.deepEqual(problems, [])
      ws.send(JSON.stringify({ subscribe: [{ view: 'user_stats', entity: GOOD_PARTS[1]!.part }] }))
      assert.deepEqual(JSON.parse(await ws.next()), { type: 'subscribed', topics: 1 })
      const snapshot = JSON.parse(await ws.next()) as { type: string; entity: string; status: string }
      assert.deepEqual([snapshot.type, snapshot.entity, snapshot.status], ['snapshot', GOOD_PARTS[1]!.part, 'PRESENT'])
    } finally {
      ws.close()
    }
  })

  void test('keys of the wrong type: a 400 naming the join key, for text and integer entities', async () => {
    const problems: string[] = []
    const wrongForText: unknown[] = [true, false, { id: 'u1' }, ['u1'], 7.5, -0.5, 2 ** 53 + 2, null]
    for (const value of wrongForText) {
      const a = await post({ user_id: [value] }, ['user_stats:clicks_1h'])
      if (a.status !== 400 || !a.message?.startsWith('user_id '))
        problems.push(`text entity, ${JSON.stringify(value)}: ${JSON.stringify(a)}`)
    }
    for (const b of BAD_INTS) {
      const a = await post({ item_id: [b.value] }, ['item_stats:price'])
      if (a.status !== 400 || !a.message?.startsWith('item_id ')) problems.push(`int entity, ${b.what}: ${JSON.stringify(a)}`)
    }
    assert.deepEqual(problems, [])
  })

  void test("-0 as a JSON number is the integer 0, as the engine keys it; '-0' as text is refused", async () => {
    await server.store.writeRows(itemStats, [row('0', NOW - 50, [1.5, []])])
    const zero = await post({ item_id: [-0] }, ['item_stats:price'])
    assert.equal(zero.status, 200, zero.body)
    assert.deepEqual((JSON.parse(zero.body) as { rows: { values: unknown[] }[] }).rows[0]!.values, [1.5])
    assert.equal((await post({ item_id: ['-0'] }, ['item_stats:price'])).status, 400)
  })

  void test('each valid key is served by each door: the row written under it, read back by it', async () => {
    const keys = GOOD_PARTS.map((g) => g.part)
    const rows = (
      JSON.parse(
        await (
          await fetch(`${server.base}/v1/features`, {
            method: 'POST',
            body: JSON.stringify({ entities: { user_id: keys }, features: ['user_stats:clicks_1h'] }),
          })
        ).text(),
      ) as {
        rows: { entities: { user_id: string }; values: unknown[] }[]
      }
    ).rows
    assert.deepEqual(
      rows.map((r) => [r.entities.user_id, r.values[0]]),
      keys.map((k, i) => [k, i]),
    )
    const composite = (await (
      await fetch(`${server.base}/v1/features`, {
        method: 'POST',
        body: JSON.stringify({ entities: { user_id: keys.map(() => 'u1'), item_id: keys }, features: ['user_item:views_1d'] }),
      })
    ).json()) as {
      rows: { values: unknown[] }[]
    }
    assert.deepEqual(
      composite.rows.map((r) => r.values[0]),
      keys.map((_, i) => i),
    )
    for (const [i, k] of keys.entries()) {
      for (const path of [
        `/v1/features/user_stats/${encodeURIComponent(k)}`,
        `/v1/features/user_stats?user_id=${encodeURIComponent(k)}`,
        `/v1/features/user_item?user_id=u1&item_id=${encodeURIComponent(k)}`,
      ]) {
        const res = await fetch(`${server.base}${path}`)
        const text = await res.text()
        assert.equal(res.status, 200, `${path}: ${text.slice(0, 300)}`)
        const got = JSON.parse(text) as { status: string; entity: Record<string, string>; features: Record<string, unknown> }
        assert.deepEqual(
          [got.status, Object.values(got.features)[0], Object.values(got.entity).at(-1)],
          ['PRESENT', i, k],
          path.slice(0, 100),
        )
      }
    }
  })

  void test('the embedded store refuses a write and a read of each bad key with core reason; nothing is written', async () => {
    const store = await EmbeddedOnlineStore.open({ clock: { nowMs: () => NOW, sleep: async () => {} } })
    try {
      for (const b of BAD_PARTS) {
        const reason = reasonOf(b.part)
        for (const [view, key, where] of [
          [userStats, b.part, ''],
          [userItem, encodeEntityKey(['u1', b.part]), ' (part 2 of 2)'],
          [userItem, encodeEntityKey([b.part, 'u1']), ' (part 1 of 2)'],
        ] as const) {
          const values = view === userStats ? [1, 1, 'x'] : [1]
          const is = new RegExp(`is ${reason.replace(/[()]/g, '\\$&')}${where.replace(/[()]/g, '\\$&')}$`)
          await assert.rejects(
            store.writeRows(view, [row('fine', NOW, values), row(key, NOW, values)]),
            (err: Error & { code?: string }) => {
              assert.equal(err.code, 'SINK_REJECTED', `${b.what}: ${err.message}`)
              assert.match(err.message, is, b.what)
              return true
            },
          )
          await assert.rejects(
            store.readRows([{ view, entityKey: key, features: [view.features[0]!.name] }], NOW),
            (err: Error & { code?: string }) => {
              assert.equal(err.code, 'BAD_REQUEST', `${b.what}: ${err.message}`)
              assert.match(err.message, is, b.what)
              return true
            },
          )
        }
      }
      // Nothing of a refused batch landed: not even its good row.
      const [fine] = await store.readRows([{ view: userStats, entityKey: 'fine', features: ['clicks_1h'] }], NOW)
      assert.equal(fine!.status, 'MISSING')
      for (const g of GOOD_PARTS) {
        await store.writeRows(userStats, [row(g.part, NOW, [7, 1, g.part])])
        const [read] = await store.readRows([{ view: userStats, entityKey: g.part, features: ['last_city'] }], NOW)
        assert.deepEqual([read!.status, read!.values], ['PRESENT', [g.part]], g.what)
      }
    } finally {
      await store.close()
    }
  })
})
