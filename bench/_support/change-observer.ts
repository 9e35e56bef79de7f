/**
 * Child process of the freshness bench: subscribes to the bench view's change feed in Redis
 * (`RedisOnlineStore.subscribeChanges`) and logs when each row landed — key, as_of, wall time.
 *
 * In its own process so that what it measures is when a row became visible in Redis, not when the
 * engine's event loop got round to the notification: in the engine's process the observer's
 * timestamps waited out every stall of that loop, and decoding every published row took ~14 % of
 * the engine thread's CPU in a profiled run (1.9 of 12.9 s busy).
 *
 * Protocol: prints `ready` on stdout once subscribed; when its stdin ends (the parent's stop, or
 * the parent's exit) writes the log as JSON to `outFile` and exits.
 *
 * Usage: change-observer.ts <redisUrl> <run> <outFile>
 */
import { writeFileSync } from 'node:fs'
import { systemClock } from '../../core/clock.ts'
import { RedisOnlineStore } from '../../adapters/online-store/redis/redis-online-store.ts'
import { benchViews } from './views.ts'
import { newSeenLog, recordSeen } from './visibility.ts'

const [redisUrl, run, outFile] = process.argv.slice(2)
if (!outFile) throw new Error('usage: change-observer.ts <redisUrl> <run> <outFile>')

const { view } = benchViews(run!)
const online = new RedisOnlineStore({ url: redisUrl!, clock: systemClock })
const seen = newSeenLog()
const unsubscribe = await online.subscribeChanges([view], (change) => recordSeen(seen, change.entityKey, change.asOfMs))
process.stdout.write('ready\n')

process.stdin.resume()
process.stdin.on('end', () => {
  void (async () => {
    await unsubscribe()
    await online.close()
    writeFileSync(outFile, JSON.stringify(seen))
    process.exit(0)
  })()
})
