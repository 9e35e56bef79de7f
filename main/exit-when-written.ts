/**
 * How kfs ends (main/cli.ts): explicitly, once stdout and stderr are flushed. After a fatal error,
 * client libraries may still hold sockets and timers (reconnecting to a broker that is gone), and
 * a process that lingered there would look alive to its supervisor while doing nothing.
 */
export async function exitWhenWritten(code: number): Promise<never> {
  await Promise.all(
    [process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => stream.write('', () => resolve()))),
  )
  process.exit(code)
}
