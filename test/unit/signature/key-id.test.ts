import assert from 'node:assert/strict';
import { type KeyObject, createHash, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { keyId } from '../../../src/signature/index.js';
import { KEY_TYPES, generateKeyPair, loadCertificates } from '../../../src/x509/index.js';
import { VECTORS_DIR } from '../../helpers/fixtures.js';

const EXAMPLE_KID = 'XP5O:Y7W2:PRB6:O355:56CC:P3A6:CBDV:EDMN:QZCK:W5PO:QMV3:T2LX';
const SHAPE = /^[A-Z2-7]{4}(?::[A-Z2-7]{4}){11}$/;

/**
 * libtrust's key ID computed another way: the first 240 bits of SHA-256(SPKI) as one big
 * number, cut into 48 five-bit base32 digits.
 */
function referenceKeyId(key: KeyObject): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const spki = key.export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(spki).digest().subarray(0, 30);
  let n = BigInt(`0x${hash.toString('hex')}`);
  let digits = '';
  for (let i = 0; i < 48; i++) {
    digits = alphabet[Number(n & 31n)]! + digits;
    n >>= 5n;
  }
  return digits.match(/.{4}/g)!.join(':');
}

describe('keyId', () => {
  it('gives the libtrust key ID of the nv2 seed certificate', async () => {
    const pem = await readFile(new URL('nv2-seed/example.crt', VECTORS_DIR));
    const [cert] = loadCertificates(pem, 'example.crt');
    assert.equal(keyId(cert!.publicKey), EXAMPLE_KID);
    assert.equal(referenceKeyId(cert!.publicKey), EXAMPLE_KID);
  });

  for (const type of KEY_TYPES.filter((t) => t.startsWith('ec-'))) {
    it(`has the 12 groups of 4 base32 characters for ${type} keys`, () => {
      const { publicKey } = generateKeyPair(type);
      const id = keyId(publicKey);
      assert.match(id, SHAPE);
      assert.equal(id, referenceKeyId(publicKey));
    });
  }

  it('is the same for a public key and the public half of its private key', () => {
    const { privateKey, publicKey } = generateKeyPair('ec-p256');
    assert.equal(keyId(createPublicKey(privateKey)), keyId(publicKey));
  });

  it('differs between keys', () => {
    const ids = new Set(
      Array.from({ length: 8 }, () => keyId(generateKeyPair('ec-p256').publicKey)),
    );
    assert.equal(ids.size, 8);
  });
});
