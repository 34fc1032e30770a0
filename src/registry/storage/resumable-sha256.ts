/**
 * SHA-256 (FIPS 180-4) whose state can be saved and resumed in another process: node's
 * `Hash` cannot export its state, and an upload session whose chunks arrive at different
 * replicas would otherwise re-read every byte from storage at commit to hash it. Slower than
 * node's native hash, so the upload store uses it only where a session's chunks may land on
 * several processes (pending files), where it saves that whole re-read.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const INITIAL = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/** A saved hash: chaining values, the bytes of an unfinished block, and the length so far. */
export interface Sha256State {
  readonly h: readonly number[];
  /** base64 of fewer than 64 bytes. */
  readonly pending: string;
  readonly length: number;
}

export class ResumableSha256 {
  private readonly h = new Int32Array(INITIAL);
  private readonly block = new Uint8Array(64);
  private blockBytes = 0;
  private length = 0;
  private readonly w = new Int32Array(64);

  /** A hash continuing `state` (from `save`); throws when it is malformed. */
  static resume(state: Sha256State): ResumableSha256 {
    const hash = new ResumableSha256();
    const pending = Buffer.from(state.pending, 'base64');
    if (
      !Array.isArray(state.h) ||
      state.h.length !== 8 ||
      !state.h.every((v) => Number.isInteger(v)) ||
      pending.length >= 64 ||
      !Number.isSafeInteger(state.length) ||
      state.length % 64 !== pending.length
    ) {
      throw new Error('malformed SHA-256 state');
    }
    hash.h.set(state.h);
    hash.block.set(pending);
    hash.blockBytes = pending.length;
    hash.length = state.length;
    return hash;
  }

  update(data: Uint8Array): this {
    let offset = 0;
    this.length += data.length;
    if (this.blockBytes > 0) {
      const take = Math.min(64 - this.blockBytes, data.length);
      this.block.set(data.subarray(0, take), this.blockBytes);
      this.blockBytes += take;
      offset = take;
      if (this.blockBytes < 64) return this;
      this.compress(this.block, 0);
      this.blockBytes = 0;
    }
    const whole = offset + Math.floor((data.length - offset) / 64) * 64;
    if (whole > offset) this.compress(data, offset, whole);
    offset = whole;
    if (offset < data.length) {
      this.block.set(data.subarray(offset), 0);
      this.blockBytes = data.length - offset;
    }
    return this;
  }

  save(): Sha256State {
    return {
      h: Array.from(this.h),
      pending: Buffer.from(this.block.subarray(0, this.blockBytes)).toString('base64'),
      length: this.length,
    };
  }

  /** The digest as hex; the hash must not be used afterwards. */
  hex(): string {
    const bits = this.length * 8;
    const padding = new Uint8Array((this.blockBytes < 56 ? 56 : 120) - this.blockBytes + 8);
    padding[0] = 0x80;
    const view = new DataView(padding.buffer);
    view.setUint32(padding.length - 8, Math.floor(bits / 0x100000000));
    view.setUint32(padding.length - 4, bits >>> 0);
    this.update(padding);
    const out = Buffer.alloc(32);
    for (let i = 0; i < 8; i++) out.writeInt32BE(this.h[i]!, i * 4);
    return out.toString('hex');
  }

  /** Hashes the whole blocks of `data` from `offset` to `end` (a multiple of 64 apart). */
  private compress(data: Uint8Array, offset: number, end = offset + 64): void {
    const w = this.w;
    const h = this.h;
    let h0 = h[0]!;
    let h1 = h[1]!;
    let h2 = h[2]!;
    let h3 = h[3]!;
    let h4 = h[4]!;
    let h5 = h[5]!;
    let h6 = h[6]!;
    let h7 = h[7]!;
    for (let block = offset; block < end; block += 64) {
      for (let i = 0, j = block; i < 16; i++, j += 4) {
        w[i] = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!;
      }
      for (let i = 16; i < 64; i++) {
        const x = w[i - 15]!;
        const y = w[i - 2]!;
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
      }
      let a = h0;
      let b = h1;
      let c = h2;
      let d = h3;
      let e = h4;
      let f = h5;
      let g = h6;
      let k = h7;
      for (let i = 0; i < 64; i++) {
        const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const t1 = (k + s1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
        const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        k = g;
        g = f;
        f = e;
        e = (d + t1) | 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + t2) | 0;
      }
      h0 = (h0 + a) | 0;
      h1 = (h1 + b) | 0;
      h2 = (h2 + c) | 0;
      h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0;
      h5 = (h5 + f) | 0;
      h6 = (h6 + g) | 0;
      h7 = (h7 + k) | 0;
    }
    h[0] = h0;
    h[1] = h1;
    h[2] = h2;
    h[3] = h3;
    h[4] = h4;
    h[5] = h5;
    h[6] = h6;
    h[7] = h7;
  }
}
