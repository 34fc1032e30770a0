import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DIGEST_ALGORITHMS,
  digestAlgorithm,
  digestHex,
  digestOf,
  isDigest,
  parseDigest,
} from '../../../src/oci/index.js';

const HEX64 = '0123456789abcdef'.repeat(4);
const HEX128 = HEX64.repeat(2);
const INVALID = { code: 'NV2_ERR_INVALID_DIGEST' };

/** Known answers, checked with `printf … | sha256sum` and `sha512sum`. */
const EMPTY_OBJECT_SHA256 =
  'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
const EMPTY_OBJECT_SHA512 =
  'sha512:27c74670adb75075fad058d5ceaf7b20c4e7786c83bae8a32f626f9782af34c9a33c2046ef60fd2a7878d378e29fec851806bbd9a67878f3a9f1cda4830763fd';
const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ABC_SHA512 =
  'sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f';

describe('parseDigest and isDigest', () => {
  it('accept sha256 with 64 and sha512 with 128 lower-case hex digits', () => {
    for (const d of [`sha256:${HEX64}`, `sha512:${HEX128}`, EMPTY_OBJECT_SHA256]) {
      assert.equal(isDigest(d), true, d);
      assert.equal(parseDigest(d), d);
    }
    assert.deepEqual([...DIGEST_ALGORITHMS], ['sha256', 'sha512']);
  });

  it('refuse upper-case hex and upper-case algorithms', () => {
    for (const d of [
      `sha256:${HEX64.toUpperCase()}`,
      `sha256:${HEX64.slice(0, 63)}A`,
      `SHA256:${HEX64}`,
    ]) {
      assert.equal(isDigest(d), false, d);
      assert.throws(() => parseDigest(d), INVALID, d);
    }
  });

  it('refuse wrong lengths, including the other algorithm’s length', () => {
    for (const d of [
      `sha256:${HEX64.slice(1)}`,
      `sha256:${HEX64}0`,
      `sha256:${HEX128}`,
      `sha512:${HEX64}`,
      `sha512:${HEX128.slice(1)}`,
      `sha512:${HEX128}0`,
      'sha256:',
    ]) {
      assert.equal(isDigest(d), false, d);
      assert.throws(() => parseDigest(d), INVALID, d);
    }
  });

  it('refuse unknown algorithms and malformed strings', () => {
    for (const d of [
      `sha384:${'0'.repeat(96)}`,
      `md5:${'0'.repeat(32)}`,
      `sha256+b64:${HEX64}`,
      HEX64,
      `:${HEX64}`,
      `sha256${HEX64}`,
      `sha256::${HEX64}`,
      ` sha256:${HEX64}`,
      `sha256:${HEX64} `,
      `sha256:${HEX64}\n`,
      `sha256:${'g'.repeat(64)}`,
      '',
    ]) {
      assert.equal(isDigest(d), false, JSON.stringify(d));
      assert.throws(() => parseDigest(d), INVALID, JSON.stringify(d));
    }
  });

  it('isDigest refuses non-strings', () => {
    for (const v of [
      undefined,
      null,
      42,
      {},
      [`sha256:${HEX64}`],
      Buffer.from(`sha256:${HEX64}`),
    ]) {
      assert.equal(isDigest(v), false);
    }
  });
});

describe('digestOf', () => {
  it('computes sha256 by default, matching known answers', () => {
    assert.equal(digestOf(Buffer.from('{}')), EMPTY_OBJECT_SHA256);
    assert.equal(digestOf(new Uint8Array(0)), EMPTY_SHA256);
  });

  it('computes sha512 on request, matching known answers', () => {
    assert.equal(digestOf(Buffer.from('{}'), 'sha512'), EMPTY_OBJECT_SHA512);
    assert.equal(digestOf(Buffer.from('abc'), 'sha512'), ABC_SHA512);
  });

  it('hashes only the bytes of a view, not the rest of its buffer', () => {
    const whole = Buffer.from('xx{}yy');
    assert.equal(digestOf(whole.subarray(2, 4)), EMPTY_OBJECT_SHA256);
    assert.equal(
      digestOf(new Uint8Array(whole.buffer, whole.byteOffset + 2, 2)),
      EMPTY_OBJECT_SHA256,
    );
  });

  it('returns digests that parseDigest accepts', () => {
    for (const alg of DIGEST_ALGORITHMS) {
      const d = digestOf(Buffer.from('content'), alg);
      assert.equal(parseDigest(d), d);
    }
  });
});

describe('digestAlgorithm and digestHex', () => {
  it('split a digest at its colon', () => {
    const d256 = parseDigest(EMPTY_OBJECT_SHA256);
    assert.equal(digestAlgorithm(d256), 'sha256');
    assert.equal(digestHex(d256), EMPTY_OBJECT_SHA256.slice('sha256:'.length));
    const d512 = parseDigest(ABC_SHA512);
    assert.equal(digestAlgorithm(d512), 'sha512');
    assert.equal(digestHex(d512).length, 128);
  });
});
