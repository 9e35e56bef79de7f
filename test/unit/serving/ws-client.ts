/**
 * A minimal WebSocket client for tests (Node 20 has no global WebSocket): text frames only,
 * enough to subscribe and read pushed rows, plus a close handshake and raw pausing of reads.
 */
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'

export interface TestWs {
  send(text: string): void
  /** Sends `bytes` as one frame of `opcode` (default binary), whatever they hold. */
  sendFrame(bytes: Buffer, opcode?: number): void
  /** Next text message, or a failure after `timeoutMs` (at once when the connection closed with none left). */
  next(timeoutMs?: number): Promise<string>
  /** Next text message, or undefined once the connection closed with none left to read (messages that came before the close frame are all read first). */
  nextOrClosed(timeoutMs?: number): Promise<string | undefined>
  /** Drops the TCP connection without a close frame. */
  close(): void
  /** Sends a close frame and resolves with the server's close code once it answered (its close handler has run). */
  end(): Promise<number>
  /** Stops / resumes reading from the socket (to build backpressure on the server). */
  pause(): void
  resume(): void
  readonly closed: Promise<number>
}

export function openWs(port: number, path: string, headers: Record<string, string> = {}): Promise<TestWs> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1')
    const key = randomBytes(16).toString('base64')
    let buffer = Buffer.alloc(0)
    let upgraded = false
    const messages: string[] = []
    // Each waiter gets the next message, or undefined when the connection closed first.
    const waiters: ((m: string | undefined) => void)[] = []
    let isClosed = false
    let settleClosed: (code: number) => void = () => {}
    const closed = new Promise<number>((r) => (settleClosed = r))
    const onClose = (code: number): void => {
      settleClosed(code)
      isClosed = true
      for (const w of waiters.splice(0)) w(undefined)
    }
    socket.on('error', reject)
    socket.on('close', () => onClose(1006))
    socket.on('connect', () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
      )
    })
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk])
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n')
        if (end === -1) return
        const head = buffer.subarray(0, end).toString()
        if (!head.startsWith('HTTP/1.1 101')) {
          socket.destroy()
          return reject(new Error(`upgrade refused: ${head.split('\r\n')[0]} ${buffer.subarray(end + 4).toString()}`))
        }
        upgraded = true
        buffer = buffer.subarray(end + 4)
        resolve(client)
      }
      while (buffer.length >= 2) {
        const opcode = buffer[0]! & 0x0f
        let len = buffer[1]! & 0x7f
        let offset = 2
        if (len === 126) {
          if (buffer.length < 4) return
          len = buffer.readUInt16BE(2)
          offset = 4
        } else if (len === 127) {
          if (buffer.length < 10) return
          len = Number(buffer.readBigUInt64BE(2))
          offset = 10
        }
        if (buffer.length < offset + len) return
        const payload = buffer.subarray(offset, offset + len)
        buffer = buffer.subarray(offset + len)
        if (opcode === 8) {
          onClose(payload.length >= 2 ? payload.readUInt16BE(0) : 1005)
          socket.end()
        } else if (opcode === 1) {
          const text = payload.toString('utf8')
          const w = waiters.shift()
          if (w) w(text)
          else messages.push(text)
        }
      }
    })
    const client: TestWs = {
      sendFrame(bytes, opcode = 0x2) {
        socket.write(frame(opcode, bytes))
      },
      send(text) {
        socket.write(frame(0x1, Buffer.from(text)))
      },
      async next(timeoutMs = 5000) {
        const message = await client.nextOrClosed(timeoutMs)
        if (message === undefined) throw new Error('the WebSocket closed before another message came')
        return message
      },
      nextOrClosed(timeoutMs = 5000) {
        const queued = messages.shift()
        if (queued !== undefined) return Promise.resolve(queued)
        if (isClosed) return Promise.resolve(undefined)
        return new Promise((res, rej) => {
          const timer = setTimeout(() => rej(new Error(`no WebSocket message within ${timeoutMs} ms`)), timeoutMs)
          waiters.push((m) => {
            clearTimeout(timer)
            res(m)
          })
        })
      },
      close() {
        socket.destroy()
      },
      end() {
        socket.write(frame(0x8, Buffer.from([0x03, 0xe8])))
        return closed
      },
      pause() {
        socket.pause()
      },
      resume() {
        socket.resume()
      },
      closed,
    }
  })
}

/** One masked client frame (RFC 6455 §5.2), any payload length. */
function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4)
  let header: Buffer
  if (payload.length < 126) header = Buffer.from([0x80 | opcode, 0x80 | payload.length])
  else if (payload.length < 65536) header = Buffer.from([0x80 | opcode, 0x80 | 126, payload.length >> 8, payload.length & 0xff])
  else {
    header = Buffer.alloc(10)
    header[0] = 0x80 | opcode
    header[1] = 0x80 | 127
    header.writeBigUInt64BE(BigInt(payload.length), 2)
  }
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))
  return Buffer.concat([header, mask, masked])
}
