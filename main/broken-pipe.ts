/**
 * A reader that quits early (`kfs registry list | head -1`, `npm start | head`) closes the pipe,
 * and the next write to it fails with EPIPE. Unhandled, that 'error' event killed the process with
 * a stack trace and exit 1 — in the middle of a `kfs run` or of the demo. What nobody reads is
 * dropped instead, and the command runs on to its own exit code. Any other stream error still
 * surfaces as before.
 */
export function dropOutputNobodyReads(streams: readonly NodeJS.WritableStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err
    })
  }
}
