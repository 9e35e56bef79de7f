/**
 * What user code (a request feature's `fn`) returned, told safely: serving and training sets both
 * refuse a value of the wrong type, and both must neither run its getters nor leave a refused
 * promise to reject unhandled.
 */

/** `an array`, `an object`, `a string`…: what a returned value is, for messages (reads only `typeof`). */
export function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array'
  const t = typeof value
  return t === 'object' ? 'an object' : `a ${t}`
}

/**
 * An async `fn` returns a promise that is refused; if it later rejects nobody would handle that,
 * and an unhandled rejection ends the process. `Promise.resolve` adopts any thenable without
 * throwing synchronously (a throwing `then` getter becomes a rejection, also handled here). A value
 * that is no object cannot be a thenable: nothing to do.
 */
export function ignoreLaterRejection(value: unknown): void {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return
  try {
    Promise.resolve(value).catch(() => {})
  } catch {
    // A real promise whose `constructor` getter throws: nothing more can be done with it.
  }
}
