/**
 * A value made on first use and shared — unless making it failed, so the next use tries again
 * (a client that could not connect while its server was down must not stay broken).
 */
export class RetryingLazy<T> {
  readonly #make: () => Promise<T>
  #value: Promise<T> | undefined

  constructor(make: () => Promise<T>) {
    this.#make = make
  }

  get(): Promise<T> {
    if (this.#value === undefined) {
      const value = this.#make()
      this.#value = value
      value.catch(() => {
        if (this.#value === value) this.#value = undefined
      })
    }
    return this.#value
  }

  /** What `get` made so far (pending or settled), without making it. */
  get current(): Promise<T> | undefined {
    return this.#value
  }
}
