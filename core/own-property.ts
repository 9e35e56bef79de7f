/**
 * Own properties of objects keyed by names from outside. A lookup table written as an object
 * literal inherits Object.prototype's members, so `table[name]` for a name like `toString` or
 * `constructor` found a function, not "no entry" (a Debezium message naming such a Connect type
 * stopped `kfs run`); and an assignment of `__proto__` sets the prototype instead.
 */

/** The entry `name` of a lookup table, or undefined when the table has none of its own. */
export function ownValue<T>(table: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined
}

/**
 * Sets `name` on `target` as an own, enumerable property — '__proto__' too, which an assignment
 * takes as the object's prototype (so a record header of that name vanished on the way in). For
 * objects whose keys come from outside (record headers).
 */
export function setOwn<T>(target: Record<string, T>, name: string, value: T): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true })
  else target[name] = value
}
