/**
 * kafkajs 2.2.4's request queue arms `setTimeout` with a negative delay when no request is
 * throttled (tulios/kafkajs#1751); Node ≥ 22 turns that into a `TimeoutNegativeWarning` on stderr
 * at every client start — harmless (Node waits 1 ms, which is what kafkajs means) but alarming in
 * the output of `kfs run` on its baseline runtime. This filter drops exactly that warning: its
 * name, raised from kafkajs's request queue. Every other warning is printed as Node prints it.
 *
 * Node prints warnings through one default 'warning' listener; the filter takes its place and
 * hands everything else to it. Installed once per process, by the first Kafka event log.
 */
let installed = false

/** Whether `warning` is kafkajs's negative-timeout warning (the only one this filter drops). */
export function isKafkajsNegativeTimeout(warning: Error): boolean {
  return warning.name === 'TimeoutNegativeWarning' && (warning.stack ?? '').includes('kafkajs/src/network/requestQueue')
}

export function quietKafkajsNegativeTimeouts(): void {
  if (installed) return
  installed = true
  const printers = process.listeners('warning')
  process.removeAllListeners('warning')
  process.on('warning', (warning) => {
    if (isKafkajsNegativeTimeout(warning)) return
    for (const print of printers) print(warning)
  })
}
