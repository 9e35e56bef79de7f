/**
 * The serving floor: a minimal uWS server answering each lookup with one raw-RESP HMGET — no
 * validation, no decoding, no metrics. What any server over the same Redis layout can at best
 * reach on this machine; bench/serving.ts and serving-batch.ts measure kfs against it.
 */
import { connect } from 'node:net'
import { loadNativeUws } from '../../serving/server/transport/uws.ts'

/** A minimal RESP client: one connection, pipelined, FIFO replies (arrays of bulk strings). */
export function rawRedis(port: number): { hmget(args: readonly string[], cb: (reply: (string | null)[]) => void): void; cork(): void; uncork(): void } {
  const socket = connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  const queue: ((reply: (string | null)[]) => void)[] = []
  let buf: Buffer = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
    for (;;) {
      let pos = buf.indexOf('\r\n')
      if (pos === -1 || buf[0] !== 0x2a) return
      const n = Number(buf.subarray(1, pos).toString('latin1'))
      pos += 2
      const out: (string | null)[] = []
      for (let i = 0; i < n; i++) {
        const end = buf.indexOf('\r\n', pos)
        if (end === -1) return
        const len = Number(buf.subarray(pos + 1, end).toString('latin1'))
        if (len < 0) {
          out.push(null)
          pos = end + 2
        } else {
          if (buf.length < end + 2 + len + 2) return
          out.push(buf.subarray(end + 2, end + 2 + len).toString('utf8'))
          pos = end + 2 + len + 2
        }
      }
      buf = buf.subarray(pos)
      queue.shift()!(out)
    }
  })
  return {
    hmget(args, cb) {
      let cmd = `*${args.length + 1}\r\n$5\r\nHMGET\r\n`
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
 * of `entities.user_id`) straight from Redis, and prints `READY <port>`.
 */
export async function startFloorServer(redisPort: number, fields: readonly string[], keyOf: (view: string, id: string) => string, batchView: string): Promise<void> {
  // The native build or a clear failure: the package's pure-JS fallback would be a false floor.
  const uWS = loadNativeUws()
  const redis = rawRedis(redisPort)
  const app = uWS.App()
  app.get('/v1/features/:view/:key', (res, req) => {
    let aborted = false
    res.onAborted(() => (aborted = true))
    const key = keyOf(req.getParameter(0), req.getParameter(1))
    redis.hmget([key, ...fields], (reply) => {
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
      const out: (string | null)[][] = []
      redis.cork()
      for (const id of ids) {
        redis.hmget([keyOf(batchView, id), ...fields], (reply) => {
          out.push(reply)
          if (out.length === ids.length && !aborted) res.cork(() => res.writeHeader('content-type', 'application/json').end(JSON.stringify(out)))
        })
      }
      redis.uncork()
    })
  })
  app.listen('127.0.0.1', 0, (socket) => {
    if (!socket) throw new Error('floor cannot listen')
    console.log(`READY ${uWS.us_socket_local_port(socket as unknown as import('uWebSockets.js').us_socket)}`)
  })
}
