/**
 * A name from a request as an error message (or its context) repeats it. A request may send a
 * view, feature, key or field name of any length up to the body or header limit; the refusal
 * names it, but does not carry a megabyte back (twice: message and context). The cut keeps the
 * start, which is what a reader needs to recognise the name, and says how long it was.
 */
const CLIPPED_NAME_CHARS = 128

/** `name` as a message repeats it: whole up to CLIPPED_NAME_CHARS, else its start and its length. */
export function clippedName(name: string): string {
  return name.length <= CLIPPED_NAME_CHARS ? name : `${name.slice(0, CLIPPED_NAME_CHARS)}… (${name.length} characters)`
}
