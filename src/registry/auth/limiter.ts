/**
 * Slows down guessing: each client address has a bucket of failed attempts (a bad password,
 * an unknown user, a forged or foreign token). Every failure takes one from the bucket, and one
 * comes back every `refillSeconds`. With the bucket empty, requests from that address that
 * carry credentials are answered 429 TOOMANYREQUESTS with `Retry-After` until a failure has
 * been paid back — without checking the credentials, so guessing stops costing the server
 * bcrypt work too. Requests without credentials are never limited (anonymous pulls, the 401
 * that starts every token flow). With the defaults a client can fail 10 times in a row, then
 * once every 10 seconds: about 8,600 guesses a day instead of millions.
 */

/** Limits of `FailureLimiter`. */
export interface FailureLimits {
  /** Failures allowed in a row before the client is slowed down (the bucket size). */
  readonly burst?: number;
  /** Seconds for one failure to be forgiven. */
  readonly refillSeconds?: number;
}

export const DEFAULT_FAILURE_BURST = 10;
export const DEFAULT_FAILURE_REFILL_SECONDS = 10;

/** Most addresses tracked: a bound on memory under a spray of addresses. */
const MAX_CLIENTS = 10_000;

interface Bucket {
  tokens: number;
  updated: number;
}

/** Per-address failure buckets. */
export class FailureLimiter {
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(limits: FailureLimits = {}, now: () => number = Date.now) {
    this.#burst = limits.burst ?? DEFAULT_FAILURE_BURST;
    this.#refillMs = (limits.refillSeconds ?? DEFAULT_FAILURE_REFILL_SECONDS) * 1000;
    this.#now = now;
  }

  #bucket(client: string): Bucket | undefined {
    const bucket = this.#buckets.get(client);
    if (bucket === undefined) return undefined;
    const now = this.#now();
    const earned = Math.floor((now - bucket.updated) / this.#refillMs);
    if (earned > 0) {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + earned);
      bucket.updated += earned * this.#refillMs;
    }
    if (bucket.tokens >= this.#burst) {
      this.#buckets.delete(client);
      return undefined;
    }
    return bucket;
  }

  /** Seconds `client` must wait before its credentials are checked again; 0 when it need not. */
  retryAfter(client: string): number {
    const bucket = this.#bucket(client);
    if (bucket === undefined || bucket.tokens > 0) return 0;
    return Math.max(1, Math.ceil((bucket.updated + this.#refillMs - this.#now()) / 1000));
  }

  /** Counts a failed attempt of `client`. */
  fail(client: string): void {
    let bucket = this.#bucket(client);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_CLIENTS)
        this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { tokens: this.#burst, updated: this.#now() };
      this.#buckets.set(client, bucket);
    }
    bucket.tokens = Math.max(0, bucket.tokens - 1);
  }
}
