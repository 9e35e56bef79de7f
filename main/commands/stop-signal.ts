/**
 * The signal that stops a long-running command (SIGINT, SIGTERM), listened for from before the
 * command says it is ready. A listener added only after the ready line left a window in which a
 * signal sent on seeing that line (a supervisor, a test, `docker stop` right after start) met no
 * listener and killed the process with Node's default action: no final checkpoint, no clean close.
 */
export interface StopSignal {
  /** Resolves with the first signal's name. */
  readonly received: Promise<string>
  /** Removes the listeners (a command that returns early must not leave them behind). */
  dispose(): void
}

export function listenForStop(): StopSignal {
  let resolve!: (signal: string) => void
  const received = new Promise<string>((r) => (resolve = r))
  const onInt = () => resolve('SIGINT')
  const onTerm = () => resolve('SIGTERM')
  process.once('SIGINT', onInt)
  process.once('SIGTERM', onTerm)
  return {
    received,
    dispose() {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
    },
  }
}
