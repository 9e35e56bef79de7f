/**
 * A name from a request as an error message (or its context) repeats it. A request may send a
 * view, feature, key or field name of any length up to the body or header limit; the refusal
 * names it, but does not carry a megabyte back (twice: message and context). The cut keeps the
 * start, which is what a reader needs to recognise the name, and says how long it was.
 */
const SHOWN_CHARS = 128

export function shown(name: string): string {
  return name.length <= SHOWN_CHARS ? name : `${name.slice(0, SHOWN_CHARS)}… (${name.length} characters)`
}
