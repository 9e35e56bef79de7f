/** The fixed-rate load generator of the serving benches (run in a child process). */
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export interface RateResult {
  sent: number
  ok: number
  errors: number
  achievedRps: number
  /** Length of the measured phase, s. */
  elapsedS: number
  p50Ms: number
  p99Ms: number
  /** Every measured latency (ms), unsorted, as the bytes of a Float64Array in base64 (_support/interleaved.ts merges rounds). */
  latencies: string
}

export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

/**
 * Open-loop load at a fixed rate: args port rate seconds connections kind(get|batch).
 * One request in flight per connection (as real keep-alive clients do; uWS closes connections
 * that pipeline behind an unanswered async response). A request due while every connection is
 * busy waits in a backlog, and its latency counts from when it was due (no coordinated omission).
 */
export async function loadgen(port: number, rate: number, seconds: number, connections: number, makeRequest: (i: number) => string): Promise<RateResult> {
  interface Conn {
    socket: Socket
    dueAt: number
    measured: boolean
    busy: boolean
    buf: Buffer
  }
  const idle: Conn[] = []
  const backlog: { dueAt: number; i: number; measured: boolean }[] = []
  const latencies = new Float64Array(Math.ceil(rate * seconds * 1.2) + 16)
  let done = 0
  let ok = 0
  let errors = 0
  let inflight = 0
  let warm = true
  const send = (conn: Conn, dueAt: number, i: number, measured: boolean): void => {
    conn.busy = true
    conn.dueAt = dueAt
    conn.measured = measured
    inflight++
    conn.socket.write(makeRequest(i))
  }
  const all: Conn[] = []
  for (let c = 0; c < connections; c++) {
    const socket = connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    await new Promise((resolve) => socket.once('connect', resolve))
    const conn: Conn = { socket, dueAt: 0, measured: false, busy: false, buf: Buffer.alloc(0) }
    socket.on('close', () => {
      if (conn.busy) errors++
    })
    socket.on('data', (chunk: Buffer) => {
      conn.buf = conn.buf.length ? Buffer.concat([conn.buf, chunk]) : chunk
      const headEnd = conn.buf.indexOf('\r\n\r\n')
      if (headEnd === -1) return
      const head = conn.buf.subarray(0, headEnd).toString('latin1')
      const m = /content-length: *(\d+)/i.exec(head)
      const total = headEnd + 4 + (m ? Number(m[1]) : 0)
      if (conn.buf.length < total) return
      conn.buf = conn.buf.subarray(total)
      conn.busy = false
      inflight--
      // Only requests sent during the measured phase count, whenever their response arrives.
      if (conn.measured) {
        if (head.startsWith('HTTP/1.1 200')) ok++
        else errors++
        if (done < latencies.length) latencies[done++] = performance.now() - conn.dueAt
      }
      const next = backlog.shift()
      if (next) send(conn, next.dueAt, next.i, next.measured)
      else idle.push(conn)
    })
    all.push(conn)
    idle.push(conn)
  }
  const run = async (durationS: number): Promise<number> => {
    const t0 = performance.now()
    let sent = 0
    while (performance.now() - t0 < durationS * 1000) {
      const now = performance.now()
      const due = Math.floor(((now - t0) / 1000) * rate) - sent
      for (let k = 0; k < due; k++) {
        const conn = idle.pop()
        if (conn) send(conn, now, sent, !warm)
        else backlog.push({ dueAt: now, i: sent, measured: !warm })
        sent++
      }
      await sleep(1)
    }
    while ((inflight > 0 || backlog.length > 0) && performance.now() - t0 < (durationS + 10) * 1000) await sleep(5)
    return sent
  }
  await run(Math.min(2, seconds / 4))
  warm = false
  const t0 = performance.now()
  const sent = await run(seconds)
  const elapsed = (performance.now() - t0) / 1000
  for (const c of all) c.socket.destroy()
  const measured = latencies.subarray(0, done)
  // Copied out before sorting in place: the rounds of an A B B A comparison are merged unsorted.
  const kept = Buffer.from(new Float64Array(measured).buffer).toString('base64')
  const sorted = measured.sort()
  return { sent, ok, errors, achievedRps: done / elapsed, elapsedS: elapsed, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), latencies: kept }
}
