/** Typed arrays that grow: the column buffers of the engine (rows between checkpoints) and of ingest. */

type GrowableArray = Float64Array | Int32Array | Uint8Array

/** A new array of `a`'s kind with room for `capacity` elements, `a`'s elements copied to its front. */
export function withCapacity<A extends GrowableArray>(a: A, capacity: number): A {
  const grown = new (a.constructor as new (n: number) => A)(capacity)
  grown.set(a)
  return grown
}
