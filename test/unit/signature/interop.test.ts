/**
 * Interoperability with an independent JWS implementation, jose (WebCrypto-based): what nv2
 * signs verifies with jose, and what jose signs in nv2's shape verifies with nv2.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompactSign, compactVerify, importPKCS8, importSPKI } from 'jose';
import { VerificationFailedError } from '../../../src/errors.js';
import { type Algorithm, keyId, sign } from '../../../src/signature/index.js';
import { TrustSet, verify } from '../../../src/trust/index.js';
import { SAMPLE, SAMPLE_SUBJECT } from '../../helpers/fixtures.js';
import {
  NOW,
  type TestIdentity,
  intermediateCA,
  issuedSigner,
  rootCA,
  selfSignedSigner,
  x5cOf,
} from '../../helpers/pki.js';

/** `NOW` on a whole second, as JWS times are. */
const T = new Date(Math.floor(NOW.getTime() / 1000) * 1000);
const T_SECONDS = T.getTime() / 1000;
const REFERENCES = ['registry.example.com/net-monitor:v1'];

const rsa = await selfSignedSigner('registry.example.com', { keyType: 'rsa-2048' });
const p256 = await selfSignedSigner('registry.example.com', { keyType: 'ec-p256' });
const p384 = await selfSignedSigner('registry.example.com', { keyType: 'ec-p384' });
const p521 = await selfSignedSigner('registry.example.com', { keyType: 'ec-p521' });
const trust = new TrustSet({ certificates: [rsa.cert, p256.cert, p384.cert, p521.cert] });

const CASES: readonly (readonly [Algorithm, TestIdentity])[] = [
  ['RS256', rsa],
  ['RS384', rsa],
  ['RS512', rsa],
  ['PS256', rsa],
  ['PS384', rsa],
  ['PS512', rsa],
  ['ES256', p256],
  ['ES384', p384],
  ['ES512', p521],
];

function publicKeyPem(id: TestIdentity): string {
  return id.cert.publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/** What jose signs: nv2-shaped claims for the sample manifest. */
const CLAIMS = {
  mediaType: SAMPLE.descriptor.mediaType,
  digest: SAMPLE.descriptor.digest,
  size: SAMPLE.descriptor.size,
  references: REFERENCES,
  iat: T_SECONDS,
  nbf: T_SECONDS,
  exp: T_SECONDS + 3600,
};

async function joseSign(alg: Algorithm, id: TestIdentity, header: object): Promise<string> {
  const key = await importPKCS8(id.keyPem, alg);
  return new CompactSign(new TextEncoder().encode(JSON.stringify(CLAIMS)))
    .setProtectedHeader({ alg, ...header })
    .sign(key);
}

describe('nv2 sign() → jose compactVerify', () => {
  for (const [alg, id] of CASES) {
    it(`${alg}: verifies with the certificate's public key; header and claims as expected`, async () => {
      const jws = sign(
        SAMPLE.descriptor,
        { key: id.key, certificateChain: [id.cert.der] },
        { algorithm: alg, references: REFERENCES, expiresIn: 3600, now: T },
      );
      const key = await importSPKI(publicKeyPem(id), alg);
      const { payload, protectedHeader } = await compactVerify(jws, key, { algorithms: [alg] });
      assert.deepEqual(protectedHeader, { typ: 'x509', alg, x5c: x5cOf(id) });
      assert.deepEqual(JSON.parse(new TextDecoder().decode(payload)), CLAIMS);
      // jose also takes the certificate's node KeyObject.
      await compactVerify(jws, id.cert.publicKey, { algorithms: [alg] });
    });
  }

  it('a kid-form signature carries the libtrust key ID and verifies with jose', async () => {
    const jws = sign(SAMPLE.descriptor, { key: p256.key }, { now: T });
    const { protectedHeader } = await compactVerify(
      jws,
      await importSPKI(publicKeyPem(p256), 'ES256'),
    );
    assert.deepEqual(protectedHeader, {
      typ: 'x509',
      alg: 'ES256',
      kid: keyId(p256.cert.publicKey),
    });
  });

  it('jose refuses an nv2 signature under another key (the check is not vacuous)', async () => {
    const jws = sign(
      SAMPLE.descriptor,
      { key: p256.key, certificateChain: [p256.cert.der] },
      { now: T },
    );
    const other = await selfSignedSigner('registry.example.com');
    await assert.rejects(compactVerify(jws, await importSPKI(publicKeyPem(other), 'ES256')), {
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
  });
});

describe('jose CompactSign → nv2 verify()', () => {
  for (const [alg, id] of CASES) {
    it(`${alg}: a jose-made nv2 signature verifies`, async () => {
      const jws = await joseSign(alg, id, { typ: 'x509', x5c: x5cOf(id) });
      const result = await verify(jws, SAMPLE_SUBJECT, trust, { now: T });
      assert.equal(result.algorithm, alg);
      assert.equal(result.digest, SAMPLE.descriptor.digest);
      assert.equal(result.signer.fingerprintSha256, id.cert.fingerprintSha256);
      assert.deepEqual(result.references, REFERENCES);
      assert.deepEqual(result.expiresAt, new Date((T_SECONDS + 3600) * 1000));
    });
  }

  it('a jose-made kid-form signature verifies', async () => {
    const jws = await joseSign('ES384', p384, { typ: 'x509', kid: keyId(p384.cert.publicKey) });
    const result = await verify(jws, SAMPLE_SUBJECT, trust, { now: T });
    assert.equal(result.signer.fingerprintSha256, p384.cert.fingerprintSha256);
  });

  it('a jose-made signature with a chain verifies to the root', async () => {
    const root = await rootCA('Interop Root');
    const intermediate = await intermediateCA(root, 'Interop Intermediate');
    const leaf = await issuedSigner(intermediate, 'registry.example.com');
    const jws = await joseSign('ES256', leaf, { typ: 'x509', x5c: x5cOf(leaf, intermediate) });
    const result = await verify(jws, SAMPLE_SUBJECT, new TrustSet({ roots: [root.cert] }), {
      now: T,
    });
    assert.deepEqual(
      result.certificateChain.map((c) => c.fingerprintSha256),
      [leaf, intermediate, root].map((id) => id.cert.fingerprintSha256),
    );
  });

  it('nv2 refuses a jose-made signature whose x5c names another key', async () => {
    const x5cOther = await selfSignedSigner('registry.example.com');
    const forged = await joseSign('ES256', p256, { typ: 'x509', x5c: x5cOf(x5cOther) });
    await assert.rejects(
      verify(forged, SAMPLE_SUBJECT, new TrustSet({ certificates: [x5cOther.cert] }), { now: T }),
      (err: unknown) => {
        assert.ok(err instanceof VerificationFailedError);
        assert.equal(err.code, 'NV2_ERR_SIGNATURE_INVALID');
        return true;
      },
    );
  });

  it('nv2 refuses a jose-made JWT (typ JWT)', async () => {
    const jws = await joseSign('ES256', p256, { typ: 'JWT', x5c: x5cOf(p256) });
    await assert.rejects(verify(jws, SAMPLE_SUBJECT, trust, { now: T }), {
      code: 'NV2_ERR_SIGNATURE_MALFORMED',
    });
  });
});
