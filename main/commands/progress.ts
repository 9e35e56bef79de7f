/**
 * Progress of long commands on stderr: one line redrawn in place, on a terminal only. Off a TTY
 * (CI logs, pipes) and with --json nothing is drawn, so logs and machine-read output stay clean;
 * the command's result on stdout is the same either way.
 */
import type { CommandContext } from './command.ts'

export interface Progress {
  /** Redraw the line (rate-limited to a few times a second, the last call always wins at `done`). */
  update(line: string): void
  /** Redraw the line with elapsed seconds every second until `done` (for work that reports nothing). */
  ticking(label: string): void
  /** Clear the line (or leave `final` in its place). */
  done(final?: string): void
}

const QUIET: Progress = { update: () => {}, ticking: () => {}, done: () => {} }

export function progressFor(ctx: CommandContext): Progress {
  if (ctx.interactive !== true || ctx.json) return QUIET
  let shownAt = -Infinity
  let drawn = false
  let timer: NodeJS.Timeout | undefined
  const draw = (line: string): void => {
    drawn = true
    ctx.err(`\r${line}\u001b[K`)
  }
  const stopTicking = (): void => {
    clearInterval(timer)
    timer = undefined
  }
  return {
    update(line) {
      stopTicking()
      const now = ctx.clock.nowMs()
      if (now - shownAt < 200) return
      shownAt = now
      draw(line)
    },
    ticking(label) {
      stopTicking()
      const tickStart = ctx.clock.nowMs()
      const tick = (): void => draw(`${label} ${Math.round((ctx.clock.nowMs() - tickStart) / 1000)}s`)
      tick()
      timer = setInterval(tick, 1000)
      timer.unref()
    },
    done(final) {
      stopTicking()
      if (final !== undefined) draw(`${final}\n`)
      else if (drawn) ctx.err('\r\u001b[K')
      drawn = false
    },
  }
}
