/**
 * Sets `name` on `target` as an own, enumerable property — '__proto__' too, which an assignment
 * takes as the object's prototype (so a record header of that name vanished on the way in). For
 * objects whose keys come from outside (record headers).
 */
export function setOwn<T>(target: Record<string, T>, name: string, value: T): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true })
  else target[name] = value
}
