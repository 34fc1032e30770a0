import { type IHasher, createSHA256 } from 'hash-wasm';

/**
 * SHA-256 whose state can be saved and resumed in another process: node's `Hash` cannot
 * export its state, and an upload session whose chunks arrive at different replicas would
 * otherwise re-read every byte from storage at commit to hash it. The hashing is hash-wasm's
 * (WebAssembly, about a fifth of node's native speed here); its `save`/`load` carry the state.
 *
 * One hasher serves every hash of the process: each `update` loads the hash's saved state,
 * hashes and saves it again, all synchronously, so hashes never see each other's bytes and
 * a thousand open sessions cost a thousand small states, not a thousand WebAssembly memories.
 */

/** A saved hash, as JSON: hash-wasm's state (base64) and the bytes hashed so far. */
export interface Sha256State {
  /** Which implementation wrote `state`; another cannot read it. */
  readonly format: typeof FORMAT;
  readonly state: string;
  readonly length: number;
}

const FORMAT = 'hash-wasm-sha256';

let hasher: IHasher | undefined;
let loading: Promise<IHasher> | undefined;

async function sharedHasher(): Promise<IHasher> {
  if (hasher !== undefined) return hasher;
  loading ??= createSHA256();
  hasher = await loading;
  return hasher;
}

export class ResumableSha256 {
  #state: Uint8Array;
  #length: number;
  readonly #hasher: IHasher;

  private constructor(hasher: IHasher, state: Uint8Array, length: number) {
    this.#hasher = hasher;
    this.#state = state;
    this.#length = length;
  }

  /** A new, empty hash. */
  static async create(): Promise<ResumableSha256> {
    const h = await sharedHasher();
    h.init();
    return new ResumableSha256(h, h.save(), 0);
  }

  /** A hash continuing `saved` (from `save`); throws when it is malformed or another format. */
  static async resume(saved: Sha256State): Promise<ResumableSha256> {
    if (
      saved.format !== FORMAT ||
      typeof saved.state !== 'string' ||
      !Number.isSafeInteger(saved.length) ||
      saved.length < 0
    ) {
      throw new Error('malformed SHA-256 state');
    }
    const h = await sharedHasher();
    const state = Buffer.from(saved.state, 'base64');
    h.load(state); // throws on a state hash-wasm did not write
    return new ResumableSha256(h, state, saved.length);
  }

  update(data: Uint8Array): this {
    const h = this.#hasher;
    h.load(this.#state);
    h.update(data);
    this.#state = h.save();
    this.#length += data.byteLength;
    return this;
  }

  save(): Sha256State {
    return {
      format: FORMAT,
      state: Buffer.from(this.#state).toString('base64'),
      length: this.#length,
    };
  }

  /** The digest as hex; the hash must not be used afterwards. */
  hex(): string {
    this.#hasher.load(this.#state);
    return this.#hasher.digest('hex');
  }
}
