import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeBase64, decodeBase64url, encodeBase64url } from '../../../src/signature/index.js';

const MALFORMED = { code: 'NV2_ERR_SIGNATURE_MALFORMED' };
const URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const STD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Returns the decoded bytes, or undefined when refused with the malformed code. */
function tryDecode(decode: (s: string) => Buffer, s: string): Buffer | undefined {
  try {
    return decode(s);
  } catch (err) {
    assert.equal((err as { code?: string }).code, MALFORMED.code, s);
    return undefined;
  }
}

describe('decodeBase64url', () => {
  it('decodes unpadded base64url of every tail length', () => {
    assert.deepEqual(decodeBase64url('QQ', 'x'), Buffer.from('A'));
    assert.deepEqual(decodeBase64url('QUI', 'x'), Buffer.from('AB'));
    assert.deepEqual(decodeBase64url('QUJD', 'x'), Buffer.from('ABC'));
    assert.deepEqual(decodeBase64url('-_8', 'x'), Buffer.from([0xfb, 0xff]));
    assert.equal(decodeBase64url('', 'x').length, 0);
  });

  it('refuses padding', () => {
    for (const s of ['QQ==', 'QQ=', 'QUI=', 'QUJD====', '=']) {
      assert.throws(() => decodeBase64url(s, 'x'), MALFORMED, s);
    }
  });

  it('refuses the standard alphabet’s + and /', () => {
    for (const s of ['+_8', '-/8', '++++', '////']) {
      assert.throws(() => decodeBase64url(s, 'x'), MALFORMED, s);
    }
  });

  it('refuses whitespace and other characters anywhere', () => {
    for (const s of [' QQ', 'QQ ', 'Q Q', 'QQ\n', '\tQQ', 'QUJD\r\nQUJD', 'QQ.', 'Q!', 'QÄ']) {
      assert.throws(() => decodeBase64url(s, 'x'), MALFORMED, JSON.stringify(s));
    }
  });

  it('refuses lengths that leave a single character (length % 4 == 1)', () => {
    for (const s of ['Q', 'QUJDR', 'QUJDQUJDA']) {
      assert.throws(() => decodeBase64url(s, 'x'), MALFORMED, s);
    }
  });

  it('refuses non-zero spare bits: QR is not one byte, QUJ is not two', () => {
    assert.deepEqual(decodeBase64url('QQ', 'x'), Buffer.from([0x41]));
    assert.throws(() => decodeBase64url('QR', 'x'), MALFORMED);
    assert.throws(() => decodeBase64url('QUJ', 'x'), MALFORMED);
    assert.throws(() => decodeBase64url('QUJDQR', 'x'), MALFORMED);
  });

  it('accepts exactly the canonical encodings of one byte (4096 two-character strings)', () => {
    const seen = new Set<number>();
    for (const a of URL_ALPHABET) {
      for (const b of URL_ALPHABET) {
        const s = a + b;
        const out = tryDecode((x) => decodeBase64url(x, 'x'), s);
        assert.equal(out !== undefined, encodeBase64url(Buffer.from(s, 'base64url')) === s, s);
        if (out !== undefined) {
          assert.equal(out.length, 1);
          assert.equal(encodeBase64url(out), s);
          seen.add(out[0]!);
        }
      }
    }
    assert.equal(seen.size, 256);
  });

  it('accepts 16 of the 64 last characters after two-byte prefixes, each canonical', () => {
    for (const prefix of ['QU', 'AA', '__', '-9']) {
      let accepted = 0;
      for (const c of URL_ALPHABET) {
        const out = tryDecode((x) => decodeBase64url(x, 'x'), prefix + c);
        if (out !== undefined) {
          accepted++;
          assert.equal(encodeBase64url(out), prefix + c);
        }
      }
      assert.equal(accepted, 16, prefix);
    }
  });

  it('round-trips random bytes of every length from 0 to 200', () => {
    for (let n = 0; n <= 200; n++) {
      const bytes = randomBytes(n);
      const encoded = encodeBase64url(bytes);
      assert.deepEqual(decodeBase64url(encoded, 'x'), bytes, encoded);
    }
  });
});

describe('decodeBase64', () => {
  it('decodes standard, padded base64', () => {
    assert.deepEqual(decodeBase64('QQ==', 'x'), Buffer.from('A'));
    assert.deepEqual(decodeBase64('QUI=', 'x'), Buffer.from('AB'));
    assert.deepEqual(decodeBase64('QUJD', 'x'), Buffer.from('ABC'));
    assert.deepEqual(decodeBase64('+/8=', 'x'), Buffer.from([0xfb, 0xff]));
  });

  it('requires padding', () => {
    for (const s of ['QQ', 'QUI', 'QQ=', 'QUJDQQ', 'QUJDQQ=']) {
      assert.throws(() => decodeBase64(s, 'x'), MALFORMED, s);
    }
  });

  it('refuses misplaced or excess padding', () => {
    for (const s of ['Q===', '====', 'QQ===', 'QQ==QUJD', '=QQ=', 'QUI==', 'Q=Q=']) {
      assert.throws(() => decodeBase64(s, 'x'), MALFORMED, s);
    }
  });

  it('refuses the URL alphabet’s - and _', () => {
    for (const s of ['-/8=', '+_8=', '____']) {
      assert.throws(() => decodeBase64(s, 'x'), MALFORMED, s);
    }
  });

  it('refuses empty input, whitespace and line breaks', () => {
    for (const s of ['', ' QQ==', 'QQ== ', 'QUJD\nQUJD', 'QU JD']) {
      assert.throws(() => decodeBase64(s, 'x'), MALFORMED, JSON.stringify(s));
    }
  });

  it('refuses non-zero spare bits: QR== is not one byte, QUJ= is not two', () => {
    assert.throws(() => decodeBase64('QR==', 'x'), MALFORMED);
    assert.throws(() => decodeBase64('QUJ=', 'x'), MALFORMED);
    assert.throws(() => decodeBase64('QUJDQR==', 'x'), MALFORMED);
  });

  it('accepts exactly the canonical encodings of one byte (4096 padded strings)', () => {
    const seen = new Set<number>();
    for (const a of STD_ALPHABET) {
      for (const b of STD_ALPHABET) {
        const s = `${a}${b}==`;
        const out = tryDecode((x) => decodeBase64(x, 'x'), s);
        if (out !== undefined) {
          assert.equal(out.toString('base64'), s);
          seen.add(out[0]!);
        }
      }
    }
    assert.equal(seen.size, 256);
  });

  it('round-trips random bytes of every length from 1 to 200', () => {
    for (let n = 1; n <= 200; n++) {
      const bytes = randomBytes(n);
      const encoded = bytes.toString('base64');
      assert.deepEqual(decodeBase64(encoded, 'x'), bytes, encoded);
    }
  });
});
