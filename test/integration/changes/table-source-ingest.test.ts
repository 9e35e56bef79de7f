/**
 * Issue #15 on the real stack: a table source that is an Iceberg table on MinIO (written by
 * PyIceberg, another engine), ingested with `kfs ingest` (docs/design.md §11).
 * - night 1 (USERS rows, one append snapshot): a `kfs ingest` child is SIGKILLed mid-append and
 *   run again; the topic then holds each (pk, t, row) exactly once and re-ingesting appends 0;
 * - night 2 (an overwrite with some users changed and a few new): ingest appends exactly the
 *   changed and new rows, once; re-ingesting appends 0;
 * - `kfs run`: Redis answers every user with night 2's values; verify-parity exits 0.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/index.ts'
import { createSourceTopic } from '../../../engine/source-topics.ts'
import { usersSnapshot, type UserRow } from '../../../examples/generate-tables.ts'
import {
  changesInTopic,
  endOffsetSum,
  settledEndOffsetSum,
  importScoped,
  onlineRows,
  prepareChangesRun,
  pyicebergPython,
  runPython,
  killWhenDue,
  assertEachUserRowOnce,
  userKey,
  userRowId,
} from '../../support/changes-scenario.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import { stackEnv } from '../../support/stack-env.ts'

type Fixture = typeof import('../../fixtures/features/changes-users.ts')

// Twenty --batch chunks of 500: the stepped kill (killWhenDue) lands inside the second, whatever the
// size; more rows only lengthen the scans, the engine run and the Redis reads of every user.
const USERS = Number(process.env.KFS_TEST_INGEST_USERS ?? 10_000)
const DAY = 86_400_000

/**
 * `<warehouse> <sqlite> <night-1.json> <night-2.json>`: creates `db.users`, appends night 1, then
 * overwrites it with night 2 (PyIceberg commits a delete and an append snapshot). Rows come as
 * columns (JSON arrays); updated_at is epoch ms. Prints the snapshot ids of night 1 and night 2.
 */
const WRITER = `
import json, os, sys
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import NestedField, StringType, DoubleType, TimestamptzType

warehouse, sqlite, night1, night2 = sys.argv[1:5]
catalog = SqlCatalog("kfs", uri=f"sqlite:///{sqlite}", warehouse=warehouse, **{
    "s3.endpoint": os.environ["KFS_S3_ENDPOINT"],
    "s3.access-key-id": os.environ["KFS_S3_ACCESS_KEY_ID"],
    "s3.secret-access-key": os.environ["KFS_S3_SECRET_ACCESS_KEY"],
    "s3.region": os.environ.get("KFS_S3_REGION", "us-east-1"),
})
schema = Schema(
    NestedField(1, "user_id", StringType(), required=True),
    NestedField(2, "status", StringType(), required=True),
    NestedField(3, "credit_limit", DoubleType(), required=True),
    NestedField(4, "country", StringType(), required=True),
    NestedField(5, "updated_at", TimestamptzType(), required=True),
)

def rows(path):
    with open(path) as f:
        cols = json.load(f)
    return pa.Table.from_arrays([
        pa.array(cols["user_id"], pa.string()),
        pa.array(cols["status"], pa.string()),
        pa.array(cols["credit_limit"], pa.float64()),
        pa.array(cols["country"], pa.string()),
        pa.array(cols["updated_at"], pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("us", tz="UTC")),
    ], schema=schema.as_arrow())

catalog.create_namespace("db")
table = catalog.create_table("db.users", schema=schema)
table.append(rows(night1))
first = table.current_snapshot().snapshot_id
table.overwrite(rows(night2))
print(json.dumps({"night1": str(first), "night2": str(catalog.load_table("db.users").current_snapshot().snapshot_id)}))
`


void test(`table source on MinIO: an Iceberg users table (${USERS} rows, then an overwrite) ingested with a SIGKILLed kfs ingest; the log holds each row once; run and verify-parity`, async () => {
  const base = stackEnv()
  const scratch = await mkdtemp(join(tmpdir(), 'kfs-it-ingest-'))
  const log = new KafkaEventLog({ brokers: base.KFS_KAFKA_BROKERS!.split(',') })
  const run = await prepareChangesRun(base, 'test/fixtures/features/changes-users.ts', scratch, 'users')
  try {
    const { users, userProfile } = await importScoped<Fixture>('../fixtures/features/changes-users.ts', run.id)
    const python = await pyicebergPython()
    const firstNightMs = Math.floor(Date.now() / DAY) * DAY - DAY
    const warehouse = run.store.uriOf('wh')
    const sqlite = join(scratch, 'catalog.db')
    const night1 = usersSnapshot(1, { users: USERS, firstNightMs })
    const night2 = usersSnapshot(2, { users: USERS, firstNightMs })
    const files = await Promise.all(
      [night1, night2].map(async (rows, i) => {
        const file = join(scratch, `night-${i + 1}.json`)
        await writeFile(file, JSON.stringify(Object.fromEntries((['user_id', 'status', 'credit_limit', 'country', 'updated_at'] as const).map((c) => [c, rows.map((r) => r[c])]))))
        return file
      }),
    )
    const snapshots = JSON.parse(await runPython(python, ['-c', WRITER, warehouse, sqlite, ...files], base)) as { night1: string; night2: string }
    const ingestArgs = (snapshot?: string) => ['ingest', '--source', users.name, '--json', ...(snapshot === undefined ? [] : ['--snapshot', snapshot])]
    type Summary = { snapshot: string; appended: number; unchanged: number; rejected: number; topicRetention: string | null }
    const ingest = async (snapshot?: string): Promise<Summary> => JSON.parse((await runKfs(ingestArgs(snapshot), run.env)).stdout) as Summary

    // Night 1 (by its Iceberg snapshot id): a kfs ingest killed part-way through its appends, then run again.
    // Created as kfs ingest creates it, so its end offsets can be watched from the start.
    await createSourceTopic(log, users)
    // Small batches: each is one transaction (ingest/append-lease.ts), so the kill lands between two
    // of them or inside one. It waits until a second batch is being appended: the first is committed.
    const BATCH = 500
    const first = startKfs([...ingestArgs(snapshots.night1), '--batch', String(BATCH)], run.env)
    await killWhenDue(first, async () => (await endOffsetSum(log, users.topic)) > BATCH + users.partitions, 'the first kfs ingest')
    // End offsets as kafkajs reads them are last stable offsets: the committed batches and their
    // commit markers (a batch the kill left open is not counted until it is aborted).
    const offsetsBeforeKill = await settledEndOffsetSum(log, users.topic)
    assert.ok(offsetsBeforeKill < USERS, `killed mid-append (${offsetsBeforeKill} of ${USERS} offsets taken)`)
    const resumed = await ingest(snapshots.night1)
    assert.equal(resumed.snapshot, snapshots.night1)
    assert.equal(resumed.rejected, 0)
    assert.equal(resumed.topicRetention, null, 'the topic kfs ingest created keeps each key (compacted)')
    // The re-run fenced the killed one (its open batch aborted) and found its committed batches whole.
    const committed = resumed.unchanged
    assert.ok(committed >= BATCH && committed % BATCH === 0 && committed <= offsetsBeforeKill, `whole batches committed before the kill (${committed})`)
    assert.equal(resumed.appended, USERS - committed, 'the re-run appends exactly what is missing')
    assert.equal((await ingest(snapshots.night1)).appended, 0, 'night 1 again: nothing to append')

    const afterNight1 = await changesInTopic(log, users, base.KFS_SCHEMA_REGISTRY_URL!)
    assertEachUserRowOnce(afterNight1, night1, 'after night 1')

    // Night 2, the table's current snapshot (an overwrite): only changed and new users are appended.
    const before = new Set(night1.map(userRowId))
    const changed = night2.filter((r) => !before.has(userRowId(r)))
    assert.ok(changed.length > USERS / 20, 'night 2 changes some rows')
    const second = await ingest()
    assert.equal(second.snapshot, snapshots.night2)
    assert.deepEqual({ appended: second.appended, unchanged: second.unchanged, rejected: second.rejected }, { appended: changed.length, unchanged: night2.length - changed.length, rejected: 0 })
    assert.equal((await ingest()).appended, 0, 'night 2 again: nothing to append')
    const afterNight2 = await changesInTopic(log, users, base.KFS_SCHEMA_REGISTRY_URL!)
    assertEachUserRowOnce(afterNight2, [...night1, ...changed], 'after night 2')
    assert.ok(afterNight1.every((c) => c.envelope.op === 'c'), 'night 1: every user is new')
    const existing = new Set(night1.map((r) => r.user_id))
    const updates = afterNight2.filter((c) => c.envelope.op === 'u')
    assert.equal(updates.length, changed.filter((r) => existing.has(r.user_id)).length, 'a changed user is an update, a new one a create')
    for (const u of updates) assert.equal((u.envelope.before as unknown as UserRow | null)?.user_id, (u.envelope.after as unknown as UserRow).user_id, 'an update carries the previous row')

    // The engine: every user's online row is night 2's; live equals replay.
    await runKfs([...run.runArgs, '--until-caught-up'], run.env)
    const reads = await onlineRows(base.KFS_REDIS_URL!, userProfile, night2.map((r) => userKey(r.user_id)), Date.now())
    night2.forEach((r, i) => {
      const read = reads[i]!
      assert.deepEqual({ status: read.status, asOfMs: read.asOfMs, values: read.values }, { status: 'PRESENT', asOfMs: r.updated_at, values: [r.status, r.credit_limit, r.country] }, `online row of ${r.user_id}`)
    })
    const parity = await runKfs(['verify-parity', '--group', run.group], run.env)
    assert.match(parity.stdout, new RegExp(`✓ ${userProfile.name}@1: ${night1.length + changed.length}/${night1.length + changed.length} live rows identical`))
  } finally {
    await log.close()
    run.store.close()
    await rm(scratch, { recursive: true, force: true })
  }
})
