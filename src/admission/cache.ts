/**
 * A bounded map whose entries expire: least recently used entries are evicted first when it
 * is full, and an entry older than its time to live is never returned. A Map keeps insertion
 * order, so re-inserting on every hit makes its first key the least recently used one.
 */
export class TtlCache<K, V> {
  readonly #entries = new Map<K, { readonly value: V; readonly expires: number }>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(maxEntries: number, now: () => number = Date.now) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) {
      throw new RangeError(`maxEntries must be a non-negative integer, not ${maxEntries}`);
    }
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  /** The live value of `key`, which becomes the most recently used; undefined when absent or expired. */
  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.expires <= this.#now()) return undefined;
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value` for `ttlMs` milliseconds, evicting the least recently used entry when full. */
  set(key: K, value: V, ttlMs: number): void {
    this.#entries.delete(key);
    if (this.#maxEntries === 0 || ttlMs <= 0) return;
    while (this.#entries.size >= this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value as K);
    }
    this.#entries.set(key, { value, expires: this.#now() + ttlMs });
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Entries held, expired ones not yet dropped included. */
  get size(): number {
    return this.#entries.size;
  }
}
