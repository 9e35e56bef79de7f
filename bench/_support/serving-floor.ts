/**
 * The serving floor: a minimal uWS server answering each lookup with one raw-RESP HMGET — no
 * validation, no decoding, no metrics. What any server over the same Redis layout can at best
 * reach on this machine; bench/serving.ts and serving-batch.ts measure kfs against it.
 */
import { connect } from 'node:net'
import { loadNativeUws } from '../../serving/server/transport/uws.ts'

type Reply = string | null | Reply[]

/**
 * One RESP reply at `pos` of `buf` (bulk strings, nil, arrays of them, nested; a simple string
 * or error as its text): the value and the position after it, or undefined when incomplete.
 */
function parseReply(buf: Buffer, pos: number): [Reply, number] | undefined {
  const eol = buf.indexOf('\r\n', pos)
  if (eol === -1) return undefined
  const type = buf[pos]
  if (type === 0x2b || type === 0x2d) return [buf.subarray(pos + 1, eol).toString('utf8'), eol + 2] // + and -
  const n = Number(buf.subarray(pos + 1, eol).toString('latin1'))
  if (type === 0x24) {
    // $: a bulk string, or nil ($-1)
    if (n < 0) return [null, eol + 2]
    if (buf.length < eol + 2 + n + 2) return undefined
    return [buf.subarray(eol + 2, eol + 2 + n).toString('utf8'), eol + 2 + n + 2]
  }
  // *: an array (nil array: null)
  if (n < 0) return [null, eol + 2]
  const out: Reply[] = []
  let at = eol + 2
  for (let i = 0; i < n; i++) {
    const item = parseReply(buf, at)
    if (item === undefined) return undefined
    out.push(item[0])
    at = item[1]
  }
  return [out, at]
}

/** A minimal RESP client: one connection, pipelined, FIFO replies. */
export function rawRedis(port: number): { send(args: readonly string[], cb: (reply: Reply) => void): void; cork(): void; uncork(): void } {
  const socket = connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  const queue: ((reply: Reply) => void)[] = []
  let buf: Buffer = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
    let pos = 0
    for (;;) {
      const item = pos < buf.length ? parseReply(buf, pos) : undefined
      if (item === undefined) break
      pos = item[1]
      queue.shift()!(item[0])
    }
    buf = buf.subarray(pos)
  })
  return {
    send(args, cb) {
      let cmd = `*${args.length}\r\n`
      for (const a of args) cmd += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
      queue.push(cb)
      socket.write(cmd)
    },
    cork: () => socket.cork(),
    uncork: () => socket.uncork(),
  }
}

/**
 * Serves `GET /v1/features/:view/:key` (one HMGET) and `POST /v1/features` (one HMGET per entity
 * of `entities.user_id`) straight from Redis, and prints `READY <port>`. Like
 * kfs (adapters/online-store/redis/poll-cork.ts), it writes the commands of one poll phase in one
 * system call.
 */
export async function startFloorServer(redisPort: number, fields: readonly string[], keyOf: (view: string, id: string) => string, batchView: string): Promise<void> {
  // The native build or a clear failure: the package's pure-JS fallback would be a false floor.
  const uWS = loadNativeUws()
  const redis = rawRedis(redisPort)
  let corked = false
  const corkUntilPollEnds = (): void => {
    if (corked) return
    corked = true
    redis.cork()
    setImmediate(() => {
      corked = false
      redis.uncork()
    })
  }
  const app = uWS.App()
  app.get('/v1/features/:view/:key', (res, req) => {
    let aborted = false
    res.onAborted(() => (aborted = true))
    const key = keyOf(req.getParameter(0), req.getParameter(1))
    corkUntilPollEnds()
    redis.send(['HMGET', key, ...fields], (reply) => {
      if (aborted) return
      res.cork(() => res.writeHeader('content-type', 'application/json').end(JSON.stringify(reply)))
    })
  })
  app.post('/v1/features', (res) => {
    let aborted = false
    res.onAborted(() => (aborted = true))
    const chunks: Buffer[] = []
    res.onData((chunk, isLast) => {
      chunks.push(Buffer.from(new Uint8Array(chunk)))
      if (!isLast) return
      const ids = (JSON.parse(Buffer.concat(chunks).toString()) as { entities: { user_id: string[] } }).entities.user_id
      // One HMGET per entity, pipelined in one write. (kfs's read script in one command instead
      // measured slower here: Redis runs the Lua, and this client parses one big nested reply.)
      const out: Reply[] = []
      corkUntilPollEnds()
      for (const id of ids) {
        redis.send(['HMGET', keyOf(batchView, id), ...fields], (reply) => {
          out.push(reply)
          if (out.length === ids.length && !aborted) res.cork(() => res.writeHeader('content-type', 'application/json').end(JSON.stringify(out)))
        })
      }
    })
  })
  app.listen('127.0.0.1', 0, (socket) => {
    if (!socket) throw new Error('floor cannot listen')
    console.log(`READY ${uWS.us_socket_local_port(socket as unknown as import('uWebSockets.js').us_socket)}`)
  })
}
