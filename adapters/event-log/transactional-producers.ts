/**
 * The transactional producers of a Kafka adapter (both clients): one per transactional id,
 * reused while its last transaction has ended; opening a transaction while the previous one of
 * the id is still open makes a new producer, whose InitProducerId fences the old one (Kafka's
 * zombie fencing, as two processes with the id would). Every producer ever made is kept, fenced
 * ones included, so the adapter's close() closes them all.
 */
export class TransactionalProducers<P, T extends { readonly isOpen: boolean }> {
  readonly #make: (transactionalId: string) => P
  readonly #slots = new Map<string, { producer: P; current: T | undefined }>()
  readonly #made = new Set<P>()

  constructor(make: (transactionalId: string) => P) {
    this.#make = make
  }

  /** Opens a transaction with `begin` on the id's producer (a new one if its transaction is still open). */
  async open(transactionalId: string, begin: (producer: P) => Promise<T>): Promise<T> {
    let slot = this.#slots.get(transactionalId)
    const fresh = !slot || slot.current?.isOpen === true
    if (!slot || fresh) {
      const producer = this.#make(transactionalId)
      this.#made.add(producer)
      slot = { producer, current: undefined }
      this.#slots.set(transactionalId, slot)
    }
    try {
      slot.current = await begin(slot.producer)
      return slot.current
    } catch (err: unknown) {
      // A producer that never began a transaction (it could not connect) is not kept for the next call.
      if (fresh) this.#slots.delete(transactionalId)
      throw err
    }
  }

  all(): P[] {
    return [...this.#made]
  }
}
