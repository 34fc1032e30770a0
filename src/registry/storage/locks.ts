/**
 * In-process mutual exclusion keyed by string, for the storage layer's read-check-write
 * sequences that the driver cannot make atomic on its own (an upload session's offset check
 * and append, the "blob exists? move : drop" step of a commit).
 *
 * Scope: one Node process. Several registry processes sharing one storage root need a
 * shared lock (or sticky routing of an upload session to one process); these locks do not
 * see each other.
 */

/**
 * A mutex per key: `run(key, fn)` calls run one at a time for the same key, in the order
 * `run` was called (FIFO), and concurrently for different keys. A key takes memory only while
 * a call holds or waits for it, so unbounded key spaces (upload ids, digests) do not leak.
 *
 * Not re-entrant: calling `run` for a key from inside a `run` of the same key deadlocks.
 *
 * @example
 * const locks = new KeyedMutex();
 * await locks.run(`${repo}@${id}`, async () => {
 *   const size = await currentSize();
 *   await appendAt(size);
 * });
 */
export class KeyedMutex {
  /** Per key: settles when the last queued call for that key has finished. Never rejects. */
  readonly #tails = new Map<string, Promise<void>>();

  /**
   * Runs `fn` once every earlier call for `key` has finished, and returns (or throws) what
   * `fn` does. A throwing `fn` releases the key like a returning one.
   */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Registered synchronously, before any await, so the queue order is the call order.
    const tail = previous === undefined ? done : previous.then(() => done);
    this.#tails.set(key, tail);
    try {
      if (previous !== undefined) await previous;
      return await fn();
    } finally {
      release();
      // Last in line: forget the key. Otherwise a later caller's tail already chains on ours.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Whether a call for `key` is running or waiting. */
  isLocked(key: string): boolean {
    return this.#tails.has(key);
  }

  /** How many keys are held or waited for (0 when idle: keys are not retained). */
  get size(): number {
    return this.#tails.size;
  }
}
