import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { parseDigest } from '../../../src/oci/index.js';
import { keyId, parseSignature } from '../../../src/signature/index.js';
import { TrustSet, verify } from '../../../src/trust/index.js';
import { loadCertificates } from '../../../src/x509/index.js';
import { VECTORS_DIR } from '../../helpers/fixtures.js';

const SEED = new URL('nv2-seed/', VECTORS_DIR);
const read = (name: string): Promise<Buffer> => readFile(new URL(name, SEED));

/** The descriptor both seed signatures sign (the manifest itself is not available). */
const DESCRIPTOR = {
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  digest: parseDigest('sha256:c4516b8a311e85f1f2a60573abf4c6b740ca3ade4127e29b05616848de487d34'),
  size: 528,
};
const INSIDE = new Date('2021-01-01T00:00:00Z');

describe('nv2 seed vectors', async () => {
  const [cert] = loadCertificates(await read('example.crt'), 'example.crt');
  const trusted = new TrustSet({ certificates: [cert!] });

  it('decodes both signatures as the README shows', async () => {
    const x5c = parseSignature(await read('x509_x5c.nv2.jwt'));
    assert.equal(x5c.header.alg, 'RS256');
    assert.equal(x5c.header.x5c?.length, 1);
    assert.deepEqual(x5c.claims.references, [
      'registry.example.com/example:latest',
      'registry.example.com/example:v1.0',
    ]);
    assert.equal(x5c.claims.iat, 1597051119);
    assert.equal(x5c.claims.exp, 1628587119);
    const kid = parseSignature(await read('x509_kid.nv2.jwt'));
    assert.equal(kid.header.kid, 'XP5O:Y7W2:PRB6:O355:56CC:P3A6:CBDV:EDMN:QZCK:W5PO:QMV3:T2LX');
    assert.equal(kid.claims.nbf, 1597051341);
  });

  it("computes the libtrust key ID of example.crt's key equal to the kid", () => {
    assert.equal(
      keyId(cert!.publicKey),
      'XP5O:Y7W2:PRB6:O355:56CC:P3A6:CBDV:EDMN:QZCK:W5PO:QMV3:T2LX',
    );
  });

  for (const file of ['x509_x5c.nv2.jwt', 'x509_kid.nv2.jwt']) {
    it(`${file} verifies with example.crt trusted, inside its validity`, async () => {
      const result = await verify(await read(file), DESCRIPTOR, trusted, { now: INSIDE });
      assert.equal(result.digest, DESCRIPTOR.digest);
      assert.equal(
        result.signer.fingerprintSha256,
        'ffb0548e06cd7f232f32b30c249e5c1fec1092f4288f83b682f2f4af71ce8517',
      );
    });

    it(`${file} fails after the certificate expired and before nbf`, async () => {
      await assert.rejects(
        verify(await read(file), DESCRIPTOR, trusted, { now: new Date('2021-07-28T00:00:00Z') }),
        {
          code: 'NV2_ERR_CERT_EXPIRED',
        },
      );
      await assert.rejects(
        verify(await read(file), DESCRIPTOR, trusted, { now: new Date('2020-08-01T00:00:00Z') }),
        {
          code: 'NV2_ERR_SIGNATURE_NOT_YET_VALID',
        },
      );
    });

    it(`${file} fails against another digest, size or media type`, async () => {
      const sig = await read(file);
      const other = { ...DESCRIPTOR, digest: parseDigest(`sha256:${'0'.repeat(64)}`) };
      await assert.rejects(verify(sig, other, trusted, { now: INSIDE }), {
        code: 'NV2_ERR_DIGEST_MISMATCH',
      });
      await assert.rejects(verify(sig, { ...DESCRIPTOR, size: 529 }, trusted, { now: INSIDE }), {
        code: 'NV2_ERR_SIZE_MISMATCH',
      });
      await assert.rejects(
        verify(
          sig,
          { ...DESCRIPTOR, mediaType: 'application/vnd.oci.image.manifest.v1+json' },
          trusted,
          { now: INSIDE },
        ),
        {
          code: 'NV2_ERR_MEDIA_TYPE_MISMATCH',
        },
      );
    });

    it(`${file} fails when any part changes`, async () => {
      const parts = (await read(file)).toString().split('.');
      for (let i = 0; i < 3; i++) {
        const changed = [...parts];
        const p = changed[i]!;
        // Flip a character in the middle of the part to another base64url character.
        const mid = Math.floor(p.length / 2);
        changed[i] = p.slice(0, mid) + (p[mid] === 'A' ? 'B' : 'A') + p.slice(mid + 1);
        await assert.rejects(
          verify(changed.join('.'), DESCRIPTOR, trusted, { now: INSIDE }),
          (err: { code?: string }) => {
            assert.ok(err.code?.startsWith('NV2_ERR_'), String(err));
            return true;
          },
        );
      }
    });
  }

  it('fails as untrusted (x5c) and as unknown signer (kid) without example.crt', async () => {
    const untrusted = new TrustSet();
    await assert.rejects(
      verify(await read('x509_x5c.nv2.jwt'), DESCRIPTOR, untrusted, { now: INSIDE }),
      { code: 'NV2_ERR_CERT_UNTRUSTED' },
    );
    await assert.rejects(
      verify(await read('x509_kid.nv2.jwt'), DESCRIPTOR, untrusted, { now: INSIDE }),
      { code: 'NV2_ERR_SIGNER_UNKNOWN' },
    );
  });
});
