/**
 * Every verification rule of the nv2 signature spec ("Verification", rules 1 to 6), one
 * `describe` each, enforced by `verify()`. Each refusal is paired with a signature that
 * differs only in the point under test and does verify, so that every test fails if its rule
 * were dropped.
 */
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  InvalidInputError,
  type Nv2ErrorCode,
  VerificationFailedError,
} from '../../../src/errors.js';
import { type Descriptor, createDescriptor, digestOf } from '../../../src/oci/index.js';
import { type Algorithm, keyId, parseSignature, sign } from '../../../src/signature/index.js';
import {
  HEADER_CACHE_SIZE,
  TrustSet,
  type VerificationResult,
  verify,
} from '../../../src/trust/index.js';
import { KeyUsageFlags, issueCertificate } from '../../../src/x509/index.js';
import { SAMPLE, SAMPLE_MANIFEST, SAMPLE_SUBJECT } from '../../helpers/fixtures.js';
import {
  NOW,
  type TestIdentity,
  craftJws,
  customIdentity,
  days,
  intermediateCA,
  issuedSigner,
  jwsSignature,
  rootCA,
  segment,
  selfSignedSigner,
  x5cOf,
} from '../../helpers/pki.js';

/** `NOW` on a whole second: certificate times and JWS times have second precision. */
const T = new Date(Math.floor(NOW.getTime() / 1000) * 1000);
const T_SECONDS = T.getTime() / 1000;
const HOUR = 3600_000;
const DS = KeyUsageFlags.digitalSignature;
const CA_USAGE = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;
/** A private extension OID no verifier processes; its value is DER NULL. */
const PRIVATE_OID = '1.3.6.1.4.1.55555.1.1';
const DER_NULL = new Uint8Array([0x05, 0x00]);

/** The claims `sign()` would write for the sample manifest, without times. */
const CLAIMS = {
  mediaType: SAMPLE.descriptor.mediaType,
  digest: SAMPLE.descriptor.digest,
  size: SAMPLE.descriptor.size,
};

async function assertFails(promise: Promise<unknown>, code: Nv2ErrorCode): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof VerificationFailedError, `not a VerificationFailedError: ${err}`);
    assert.equal(err.code, code);
    return true;
  });
}

function trusting(...identities: readonly TestIdentity[]): TrustSet {
  return new TrustSet({ certificates: identities.map((id) => id.cert) });
}

function rootedIn(...roots: readonly TestIdentity[]): TrustSet {
  return new TrustSet({ roots: roots.map((id) => id.cert) });
}

/** nv2's own signature of the sample manifest, with `chain` in `x5c` (signer first). */
function signSample(
  by: TestIdentity,
  chain: readonly TestIdentity[] = [by],
  options: { references?: readonly string[]; now?: Date; expiresIn?: number } = {},
): string {
  return sign(
    SAMPLE.descriptor,
    { key: by.key, certificateChain: chain.map((id) => id.cert.der) },
    { now: T, ...options },
  );
}

/** A hand-made ES256 signature of the sample claims (plus `claims`) with `header` fields added. */
function craftSample(
  by: TestIdentity,
  header: Record<string, unknown> = {},
  claims: Record<string, unknown> = {},
): string {
  return craftJws(
    { typ: 'x509', alg: 'ES256', x5c: x5cOf(by), ...header },
    { ...CLAIMS, ...claims },
    by.key,
  );
}

function verifyAt(jws: string, trust: TrustSet, now: Date = T): Promise<VerificationResult> {
  return verify(jws, SAMPLE_SUBJECT, trust, { now });
}

/** A copy of `bytes` with one bit of byte `index` flipped. */
function flipByte(bytes: Uint8Array, index: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[index] = copy[index]! ^ 0x01;
  return copy;
}

function fingerprints(certs: readonly { fingerprintSha256: string }[]): string[] {
  return certs.map((c) => c.fingerprintSha256);
}

// Identities shared by the tests below. EC keys wherever RSA is not the point: they are fast.
const signer = await selfSignedSigner('registry.example.com');
const signerP384 = await selfSignedSigner('registry.example.com', { keyType: 'ec-p384' });
const signerP521 = await selfSignedSigner('registry.example.com', { keyType: 'ec-p521' });
const signerRsa = await selfSignedSigner('registry.example.com', { keyType: 'rsa-2048' });
const root = await rootCA('Test Root');
const intermediate = await intermediateCA(root, 'Test Intermediate');
const leaf = await issuedSigner(intermediate, 'registry.example.com');

describe('rule 1: alg is on the allow-list', () => {
  const refused: unknown[] = [
    'none',
    'HS256',
    'HS384',
    'HS512',
    'ES256K',
    'EdDSA',
    'RS1',
    'rs256',
    'es256',
    '',
    'constructor',
    '__proto__',
    'toString',
    256,
    null,
    ['ES256'],
  ];
  for (const alg of refused) {
    it(`refuses alg ${JSON.stringify(alg)}`, async () => {
      const jws = craftJws({ typ: 'x509', alg, x5c: x5cOf(signer) }, CLAIMS, randomBytes(64));
      assert.throws(() => parseSignature(jws), { code: 'NV2_ERR_SIGNATURE_ALGORITHM' });
      await assertFails(verifyAt(jws, trusting(signer)), 'NV2_ERR_SIGNATURE_ALGORITHM');
    });
  }

  it('refuses a header without alg', async () => {
    const jws = craftJws({ typ: 'x509', x5c: x5cOf(signer) }, CLAIMS, randomBytes(64));
    await assertFails(verifyAt(jws, trusting(signer)), 'NV2_ERR_SIGNATURE_ALGORITHM');
  });

  it('refuses HS256 keyed with the trusted certificate (the alg-confusion attack)', async () => {
    const header = { typ: 'x509', alg: 'HS256', x5c: x5cOf(signer) };
    const input = `${segment(header)}.${segment(CLAIMS)}`;
    for (const secret of [signer.certPem, signer.cert.der]) {
      const mac = createHmac('sha256', secret).update(input).digest();
      await assertFails(
        verifyAt(`${input}.${mac.toString('base64url')}`, trusting(signer)),
        'NV2_ERR_SIGNATURE_ALGORITHM',
      );
    }
  });

  it('refuses an unsecured (alg none) token with an empty signature part', async () => {
    const jws = `${segment({ typ: 'x509', alg: 'none', x5c: x5cOf(signer) })}.${segment(CLAIMS)}.`;
    await assert.rejects(verifyAt(jws, trusting(signer)), (err: unknown) => {
      assert.ok(err instanceof VerificationFailedError);
      assert.ok(
        ['NV2_ERR_SIGNATURE_ALGORITHM', 'NV2_ERR_SIGNATURE_MALFORMED'].includes(err.code),
        err.code,
      );
      return true;
    });
  });

  const allowed: [alg: Algorithm, id: () => TestIdentity][] = [
    ['RS256', () => signerRsa],
    ['RS384', () => signerRsa],
    ['RS512', () => signerRsa],
    ['PS256', () => signerRsa],
    ['PS384', () => signerRsa],
    ['PS512', () => signerRsa],
    ['ES256', () => signer],
    ['ES384', () => signerP384],
    ['ES512', () => signerP521],
  ];
  for (const [alg, id] of allowed) {
    it(`accepts ${alg} with a fitting key, signed by hand and by sign()`, async () => {
      const crafted = craftJws({ typ: 'x509', alg, x5c: x5cOf(id()) }, CLAIMS, id().key);
      assert.equal((await verifyAt(crafted, trusting(id()))).algorithm, alg);
      const signed = sign(
        SAMPLE.descriptor,
        { key: id().key, certificateChain: [id().cert.der] },
        { algorithm: alg, now: T },
      );
      assert.equal((await verifyAt(signed, trusting(id()))).algorithm, alg);
    });
  }
});

describe('rule 2: alg fits the key type and curve', () => {
  const mismatches: [name: string, alg: string, id: () => TestIdentity, sigBytes: number][] = [
    ['RS256 with an EC P-256 key', 'RS256', () => signer, 64],
    ['PS256 with an EC P-256 key', 'PS256', () => signer, 64],
    ['ES256 with an RSA key', 'ES256', () => signerRsa, 64],
    ['ES384 with a P-256 key', 'ES384', () => signer, 96],
    ['ES256 with a P-384 key', 'ES256', () => signerP384, 64],
    ['ES512 with a P-384 key', 'ES512', () => signerP384, 132],
    ['ES384 with a P-521 key', 'ES384', () => signerP521, 96],
  ];
  for (const [name, alg, id, sigBytes] of mismatches) {
    it(`refuses ${name} (x5c and kid forms)`, async () => {
      // Signature bytes of the length `alg` prescribes, so that only the key can be at fault.
      const sig = (header: object): string => craftJws(header, CLAIMS, randomBytes(sigBytes));
      await assertFails(
        verifyAt(sig({ typ: 'x509', alg, x5c: x5cOf(id()) }), trusting(id())),
        'NV2_ERR_KEY_ALGORITHM_MISMATCH',
      );
      await assertFails(
        verifyAt(sig({ typ: 'x509', alg, kid: keyId(id().cert.publicKey) }), trusting(id())),
        'NV2_ERR_KEY_ALGORITHM_MISMATCH',
      );
    });
  }

  it('refuses a valid ES256 signature relabelled ES384 (same r‖s bytes, padded)', async () => {
    const header = { typ: 'x509', alg: 'ES384', x5c: x5cOf(signer) };
    const input = Buffer.from(`${segment(header)}.${segment(CLAIMS)}`, 'latin1');
    const rs = jwsSignature('ES256', signer.key, input);
    const jws = `${input.toString('latin1')}.${Buffer.concat([rs, Buffer.alloc(32)]).toString('base64url')}`;
    await assertFails(verifyAt(jws, trusting(signer)), 'NV2_ERR_KEY_ALGORITHM_MISMATCH');
  });

  it('sign() refuses an algorithm that does not fit the key', () => {
    for (const [alg, id] of [
      ['ES384', signer],
      ['RS256', signer],
      ['ES256', signerRsa],
    ] as const) {
      assert.throws(
        () => sign(SAMPLE.descriptor, { key: id.key }, { algorithm: alg, now: T }),
        (err: unknown) => {
          assert.ok(err instanceof InvalidInputError);
          assert.equal(err.code, 'NV2_ERR_KEY_ALGORITHM_MISMATCH');
          return true;
        },
      );
    }
  });

  describe('an RSASSA-PSS key restricted to SHA-512 (id-RSASSA-PSS SubjectPublicKeyInfo)', async () => {
    const pss = generateKeyPairSync('rsa-pss', {
      modulusLength: 2048,
      hashAlgorithm: 'sha512',
      mgf1HashAlgorithm: 'sha512',
      // @types/node (20 and 22) declares saltLength a string; node takes a number of bytes.
      saltLength: 64 as unknown as string,
    });
    const cert = await issueCertificate({
      subject: 'CN=registry.example.com',
      publicKey: pss.publicKey,
      issuer: { key: root.key, certificate: root.cert },
      notBefore: new Date(T.getTime() - days(1)),
      notAfter: new Date(T.getTime() + days(30)),
      keyUsage: DS,
      dnsNames: ['registry.example.com'],
    });
    const x5c = [cert.der.toString('base64')];

    it('verifies PS512, which the key allows', async () => {
      const jws = craftJws({ typ: 'x509', alg: 'PS512', x5c }, CLAIMS, pss.privateKey);
      assert.equal((await verifyAt(jws, rootedIn(root))).algorithm, 'PS512');
    });

    it('refuses PS256 with a typed error, not an OpenSSL exception', async () => {
      const jws = craftJws({ typ: 'x509', alg: 'PS256', x5c }, CLAIMS, randomBytes(256));
      await assertFails(verifyAt(jws, rootedIn(root)), 'NV2_ERR_KEY_ALGORITHM_MISMATCH');
    });

    it('refuses RS512 with it (the key is for PSS only)', async () => {
      const jws = craftJws({ typ: 'x509', alg: 'RS512', x5c }, CLAIMS, randomBytes(256));
      await assertFails(verifyAt(jws, rootedIn(root)), 'NV2_ERR_KEY_ALGORITHM_MISMATCH');
    });

    it('sign() refuses PS256 with it with a typed error', () => {
      assert.throws(
        () => sign(SAMPLE.descriptor, { key: pss.privateKey }, { algorithm: 'PS256', now: T }),
        (err: unknown) => {
          assert.ok(err instanceof InvalidInputError, `not an InvalidInputError: ${err}`);
          assert.equal(err.code, 'NV2_ERR_KEY_ALGORITHM_MISMATCH');
          return true;
        },
      );
    });

    it('sign() without an algorithm signs what verifies, or refuses with a typed error', async () => {
      let jws: string;
      try {
        jws = sign(
          SAMPLE.descriptor,
          { key: pss.privateKey, certificateChain: [cert.der] },
          { now: T },
        );
      } catch (err) {
        assert.ok(err instanceof InvalidInputError, `not an InvalidInputError: ${err}`);
        return;
      }
      await verifyAt(jws, rootedIn(root));
    });
  });
});

describe('rule 2: RSA keys have at least 2048 bits', async () => {
  const weak = await selfSignedSigner('registry.example.com', { keyType: 'rsa-1024' });

  for (const alg of ['RS256', 'PS256', 'RS512']) {
    it(`refuses a correct ${alg} signature by an RSA-1024 key (x5c and kid forms)`, async () => {
      const x5c = craftJws({ typ: 'x509', alg, x5c: x5cOf(weak) }, CLAIMS, weak.key);
      await assertFails(verifyAt(x5c, trusting(weak)), 'NV2_ERR_KEY_TOO_WEAK');
      const kid = craftJws({ typ: 'x509', alg, kid: keyId(weak.cert.publicKey) }, CLAIMS, weak.key);
      await assertFails(verifyAt(kid, trusting(weak)), 'NV2_ERR_KEY_TOO_WEAK');
    });
  }

  it('refuses an RSA-1024 root or intermediate anywhere in the chain', async () => {
    const weakRoot = await rootCA('Weak Root', { keyType: 'rsa-1024' });
    const leafOfWeakRoot = await issuedSigner(weakRoot, 'registry.example.com');
    await assertFails(
      verifyAt(signSample(leafOfWeakRoot), rootedIn(weakRoot)),
      'NV2_ERR_KEY_TOO_WEAK',
    );
    const weakIntermediate = await intermediateCA(root, 'Weak Intermediate', {
      keyType: 'rsa-1024',
    });
    const leafOfWeak = await issuedSigner(weakIntermediate, 'registry.example.com');
    await assertFails(
      verifyAt(signSample(leafOfWeak, [leafOfWeak, weakIntermediate]), rootedIn(root)),
      'NV2_ERR_KEY_TOO_WEAK',
    );
  });

  it('sign() refuses an RSA-1024 key with InvalidInputError NV2_ERR_KEY_TOO_WEAK', () => {
    for (const algorithm of [undefined, 'RS256', 'PS256'] as const) {
      assert.throws(
        () =>
          sign(
            SAMPLE.descriptor,
            { key: weak.key, certificateChain: [weak.cert.der] },
            algorithm === undefined ? { now: T } : { algorithm, now: T },
          ),
        (err: unknown) => {
          assert.ok(err instanceof InvalidInputError);
          assert.equal(err.code, 'NV2_ERR_KEY_TOO_WEAK');
          return true;
        },
      );
    }
  });
});

describe('rule 1: crit names only understood, present parameters', () => {
  it('accepts crit naming an understood, present parameter', async () => {
    for (const crit of [['x5c'], ['alg'], ['typ', 'alg', 'x5c']]) {
      await verifyAt(craftSample(signer, { crit }), trusting(signer));
    }
  });

  const refused: [name: string, header: Record<string, unknown>][] = [
    ['an unknown name (present)', { crit: ['exp'], exp: T_SECONDS + 60 }],
    ['a notation extension', { crit: ['io.cncf.notary.expiry'], 'io.cncf.notary.expiry': 1 }],
    ['b64 (RFC 7797 unencoded payload)', { crit: ['b64'], b64: false }],
    ['an understood and an unknown name', { crit: ['x5c', 'foo'], foo: 1 }],
    ['an empty list', { crit: [] }],
    ['a string instead of a list', { crit: 'x5c' }],
    ['null', { crit: null }],
    ['an absent header parameter (kid, with x5c)', { crit: ['kid'] }],
    ['a name twice', { crit: ['x5c', 'x5c'] }],
    ['a non-string name', { crit: [1] }],
    ['an empty name', { crit: [''] }],
  ];
  for (const [name, header] of refused) {
    it(`refuses crit with ${name}`, async () => {
      const jws = craftSample(signer, header);
      assert.throws(() => parseSignature(jws), { code: 'NV2_ERR_SIGNATURE_CRIT' });
      await assertFails(verifyAt(jws, trusting(signer)), 'NV2_ERR_SIGNATURE_CRIT');
    });
  }

  it('ignores unknown header parameters that crit does not name', async () => {
    await verifyAt(craftSample(signer, { foo: 'bar', exp: 1 }), trusting(signer));
  });
});

describe('rule 1: typ is "x509"', () => {
  it('accepts typ "x509"', async () => {
    await verifyAt(craftSample(signer, { typ: 'x509' }), trusting(signer));
  });

  for (const typ of ['JWT', 'jwt', 'x509 ', 'JOSE', '', 509, null, ['x509']]) {
    it(`refuses typ ${JSON.stringify(typ)}`, async () => {
      await assertFails(
        verifyAt(craftSample(signer, { typ }), trusting(signer)),
        'NV2_ERR_SIGNATURE_MALFORMED',
      );
    });
  }

  it('refuses a header without typ', async () => {
    const jws = craftJws({ alg: 'ES256', x5c: x5cOf(signer) }, CLAIMS, signer.key);
    await assertFails(verifyAt(jws, trusting(signer)), 'NV2_ERR_SIGNATURE_MALFORMED');
  });
});

describe('rule 2: exactly one of x5c and kid', () => {
  const kid = keyId(signer.cert.publicKey);

  it('accepts either alone', async () => {
    await verifyAt(craftSample(signer), trusting(signer));
    await verifyAt(
      craftJws({ typ: 'x509', alg: 'ES256', kid }, CLAIMS, signer.key),
      trusting(signer),
    );
  });

  it('refuses both', async () => {
    await assertFails(
      verifyAt(craftSample(signer, { kid }), trusting(signer)),
      'NV2_ERR_SIGNATURE_MALFORMED',
    );
  });

  it('refuses neither', async () => {
    const jws = craftJws({ typ: 'x509', alg: 'ES256' }, CLAIMS, signer.key);
    await assertFails(verifyAt(jws, trusting(signer)), 'NV2_ERR_SIGNATURE_MALFORMED');
  });

  it('refuses an empty x5c and an empty or non-string kid', async () => {
    for (const header of [
      { x5c: [] },
      { x5c: undefined, kid: '' },
      { x5c: undefined, kid: 42 },
      { x5c: undefined, kid: null },
    ]) {
      await assertFails(
        verifyAt(craftSample(signer, header), trusting(signer)),
        'NV2_ERR_SIGNATURE_MALFORMED',
      );
    }
  });
});

describe('rule 2: kid is looked up among the given certificates', async () => {
  const others = [
    await selfSignedSigner('a.example.com'),
    await selfSignedSigner('b.example.com'),
  ] as const;
  const kidSigned = signSample(signer, []);

  it('sign() without a chain writes the libtrust kid of the key', () => {
    assert.equal(parseSignature(kidSigned).header.kid, keyId(signer.cert.publicKey));
  });

  it('finds the certificate among several and verifies', async () => {
    const trust = new TrustSet({ certificates: [others[0].cert, signer.cert, others[1].cert] });
    const result = await verifyAt(kidSigned, trust);
    assert.equal(result.signer.fingerprintSha256, signer.cert.fingerprintSha256);
    assert.deepEqual(fingerprints(result.certificateChain), [signer.cert.fingerprintSha256]);
  });

  it('refuses with NV2_ERR_SIGNER_UNKNOWN when no given certificate has the key', async () => {
    await assertFails(verifyAt(kidSigned, trusting(...others)), 'NV2_ERR_SIGNER_UNKNOWN');
    await assertFails(verifyAt(kidSigned, new TrustSet()), 'NV2_ERR_SIGNER_UNKNOWN');
    const unknownKid = craftJws(
      {
        typ: 'x509',
        alg: 'ES256',
        kid: 'AAAA:AAAA:AAAA:AAAA:AAAA:AAAA:AAAA:AAAA:AAAA:AAAA:AAAA:AAAA',
      },
      CLAIMS,
      signer.key,
    );
    await assertFails(verifyAt(unknownKid, trusting(signer)), 'NV2_ERR_SIGNER_UNKNOWN');
  });

  it('does not find a leaf whose root alone is trusted (kid carries no chain)', async () => {
    await assertFails(verifyAt(signSample(leaf, []), rootedIn(root)), 'NV2_ERR_SIGNER_UNKNOWN');
  });

  it("refuses a kid naming a trusted key over another key's signature", async () => {
    const jws = craftJws(
      { typ: 'x509', alg: 'ES256', kid: keyId(signer.cert.publicKey) },
      CLAIMS,
      others[0].key,
    );
    await assertFails(verifyAt(jws, trusting(signer, ...others)), 'NV2_ERR_SIGNATURE_INVALID');
  });
});

describe('rule 3: the chain reaches a trusted certificate', () => {
  it('builds signing certificate → x5c intermediate → trusted root', async () => {
    const result = await verifyAt(signSample(leaf, [leaf, intermediate]), rootedIn(root));
    assert.deepEqual(
      fingerprints(result.certificateChain),
      fingerprints([leaf, intermediate, root].map((id) => id.cert)),
    );
  });

  it('builds a chain when x5c also carries the root', async () => {
    const result = await verifyAt(signSample(leaf, [leaf, intermediate, root]), rootedIn(root));
    assert.equal(result.certificateChain.length, 3);
  });

  it('refuses when the intermediate is missing from x5c', async () => {
    await assertFails(verifyAt(signSample(leaf, [leaf]), rootedIn(root)), 'NV2_ERR_CERT_UNTRUSTED');
  });

  it('refuses when the root is not trusted, even when x5c carries it', async () => {
    const otherRoot = await rootCA('Other Root');
    for (const trust of [new TrustSet(), rootedIn(otherRoot), trusting(signer)]) {
      await assertFails(
        verifyAt(signSample(leaf, [leaf, intermediate, root]), trust),
        'NV2_ERR_CERT_UNTRUSTED',
      );
    }
  });

  it('refuses a trusted impostor root that has the real root’s name but another key', async () => {
    const impostor = await rootCA('Test Root');
    await assertFails(
      verifyAt(signSample(leaf, [leaf, intermediate]), rootedIn(impostor)),
      'NV2_ERR_CERT_UNTRUSTED',
    );
  });

  it('accepts a trusted intermediate as the anchor', async () => {
    const result = await verifyAt(signSample(leaf, [leaf]), rootedIn(intermediate));
    assert.deepEqual(
      fingerprints(result.certificateChain),
      fingerprints([leaf.cert, intermediate.cert]),
    );
  });

  it('accepts a self-signed signing certificate trusted directly (certificates)', async () => {
    const result = await verifyAt(signSample(signer), trusting(signer));
    assert.deepEqual(fingerprints(result.certificateChain), [signer.cert.fingerprintSha256]);
  });

  it('accepts an issued signing certificate trusted directly, without its issuers', async () => {
    const result = await verifyAt(signSample(leaf, [leaf]), trusting(leaf));
    assert.deepEqual(fingerprints(result.certificateChain), [leaf.cert.fingerprintSha256]);
  });

  it('refuses a self-signed signing certificate that is not trusted', async () => {
    const stranger = await selfSignedSigner('registry.example.com');
    await assertFails(verifyAt(signSample(stranger), trusting(signer)), 'NV2_ERR_CERT_UNTRUSTED');
    await assertFails(verifyAt(signSample(stranger), new TrustSet()), 'NV2_ERR_CERT_UNTRUSTED');
  });
});

describe('rule 3: every issuer is a CA (basic constraints)', () => {
  const cases: [name: string, options: Parameters<typeof customIdentity>[0]][] = [
    ['without basic constraints', { keyUsage: CA_USAGE }],
    ['with ca:false', { keyUsage: CA_USAGE, basicConstraints: { ca: false } }],
  ];
  for (const [name, options] of cases) {
    it(`refuses a root ${name}`, async () => {
      const badRoot = await customIdentity({ subject: 'CN=Not A CA Root', ...options });
      const child = await issuedSigner(badRoot, 'registry.example.com');
      await assertFails(verifyAt(signSample(child), rootedIn(badRoot)), 'NV2_ERR_CERT_NOT_CA');
    });

    it(`refuses an intermediate ${name}`, async () => {
      const badIntermediate = await customIdentity({ subject: 'CN=Not A CA', ...options }, root);
      const child = await issuedSigner(badIntermediate, 'registry.example.com');
      await assertFails(
        verifyAt(signSample(child, [child, badIntermediate]), rootedIn(root)),
        'NV2_ERR_CERT_NOT_CA',
      );
    });
  }

  it('refuses a certificate issued by a trusted signing (end-entity) certificate', async () => {
    const child = await issuedSigner(signer, 'registry.example.com', { subject: 'CN=child' });
    await assertFails(verifyAt(signSample(child), trusting(signer)), 'NV2_ERR_CERT_NOT_CA');
  });

  it('accepts a CA without a key usage extension (unrestricted)', async () => {
    const openRoot = await customIdentity({
      subject: 'CN=Open Root',
      basicConstraints: { ca: true },
    });
    const child = await issuedSigner(openRoot, 'registry.example.com');
    await verifyAt(signSample(child), rootedIn(openRoot));
  });
});

describe('rule 3: a CA with key usage has keyCertSign', () => {
  it('refuses a root whose key usage lacks keyCertSign', async () => {
    const badRoot = await rootCA('No CertSign Root', {
      keyUsage: KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature,
    });
    const child = await issuedSigner(badRoot, 'registry.example.com');
    await assertFails(verifyAt(signSample(child), rootedIn(badRoot)), 'NV2_ERR_CERT_KEY_USAGE');
  });

  it('refuses an intermediate whose key usage lacks keyCertSign', async () => {
    const badIntermediate = await intermediateCA(root, 'No CertSign', {
      keyUsage: KeyUsageFlags.cRLSign,
    });
    const child = await issuedSigner(badIntermediate, 'registry.example.com');
    await assertFails(
      verifyAt(signSample(child, [child, badIntermediate]), rootedIn(root)),
      'NV2_ERR_CERT_KEY_USAGE',
    );
  });
});

describe('rule 3: path length constraints', async () => {
  const root0 = await rootCA('Root pathlen 0', { basicConstraints: { ca: true, pathLength: 0 } });
  const root1 = await rootCA('Root pathlen 1', { basicConstraints: { ca: true, pathLength: 1 } });

  it('refuses an intermediate below a pathLength 0 root', async () => {
    const i = await intermediateCA(root0, 'Below 0');
    const child = await issuedSigner(i, 'registry.example.com');
    await assertFails(
      verifyAt(signSample(child, [child, i]), rootedIn(root0)),
      'NV2_ERR_CERT_PATH_LENGTH',
    );
  });

  it('accepts a signing certificate directly below a pathLength 0 root', async () => {
    const child = await issuedSigner(root0, 'registry.example.com');
    await verifyAt(signSample(child), rootedIn(root0));
  });

  it('accepts one intermediate below pathLength 1 and refuses two', async () => {
    const i1 = await intermediateCA(root1, 'I1');
    const child1 = await issuedSigner(i1, 'registry.example.com');
    await verifyAt(signSample(child1, [child1, i1]), rootedIn(root1));
    const i2 = await intermediateCA(i1, 'I2');
    const child2 = await issuedSigner(i2, 'registry.example.com');
    await assertFails(
      verifyAt(signSample(child2, [child2, i2, i1]), rootedIn(root1)),
      'NV2_ERR_CERT_PATH_LENGTH',
    );
  });

  it("enforces an intermediate's own pathLength 0", async () => {
    const i0 = await intermediateCA(root, 'I pathlen 0', {
      basicConstraints: { ca: true, pathLength: 0 },
    });
    const direct = await issuedSigner(i0, 'registry.example.com');
    await verifyAt(signSample(direct, [direct, i0]), rootedIn(root));
    const below = await intermediateCA(i0, 'Below I0');
    const child = await issuedSigner(below, 'registry.example.com');
    await assertFails(
      verifyAt(signSample(child, [child, below, i0]), rootedIn(root)),
      'NV2_ERR_CERT_PATH_LENGTH',
    );
  });
});

describe('rule 3: every certificate is inside its validity period at `now`', async () => {
  const expired = {
    notBefore: new Date(T.getTime() - days(10)),
    notAfter: new Date(T.getTime() - HOUR),
  };
  const future = {
    notBefore: new Date(T.getTime() + HOUR),
    notAfter: new Date(T.getTime() + days(10)),
  };

  /** root → intermediate → leaf, with the validity of `which` replaced by `validity`. */
  async function chainWith(
    which: 'root' | 'intermediate' | 'leaf',
    validity: { notBefore: Date; notAfter: Date },
  ): Promise<{ jws: string; trust: TrustSet }> {
    const r = await rootCA('Validity Root', which === 'root' ? validity : {});
    const i = await intermediateCA(
      r,
      'Validity Intermediate',
      which === 'intermediate' ? validity : {},
    );
    const l = await issuedSigner(i, 'registry.example.com', which === 'leaf' ? validity : {});
    return { jws: signSample(l, [l, i]), trust: rootedIn(r) };
  }

  for (const which of ['leaf', 'intermediate', 'root'] as const) {
    it(`refuses an expired ${which} (NV2_ERR_CERT_EXPIRED)`, async () => {
      const { jws, trust } = await chainWith(which, expired);
      await assertFails(verifyAt(jws, trust), 'NV2_ERR_CERT_EXPIRED');
      // The same chain verifies while the certificate was valid: only time decides.
      await verifyAt(jws, trust, new Date(T.getTime() - 2 * HOUR));
    });

    it(`refuses a ${which} that is not yet valid (NV2_ERR_CERT_NOT_YET_VALID)`, async () => {
      const { jws, trust } = await chainWith(which, future);
      await assertFails(verifyAt(jws, trust), 'NV2_ERR_CERT_NOT_YET_VALID');
      await verifyAt(jws, trust, new Date(T.getTime() + 2 * HOUR));
    });
  }

  it('treats notBefore and notAfter as inclusive, to the second', async () => {
    const edge = await selfSignedSigner('registry.example.com', {
      notBefore: new Date(T.getTime() - HOUR),
      notAfter: new Date(T.getTime() + HOUR),
    });
    const jws = signSample(edge, [edge], { now: new Date(T.getTime() - HOUR) });
    const trust = trusting(edge);
    await verifyAt(jws, trust, new Date(T.getTime() - HOUR));
    await verifyAt(jws, trust, new Date(T.getTime() + HOUR));
    await assertFails(
      verifyAt(jws, trust, new Date(T.getTime() - HOUR - 1000)),
      'NV2_ERR_CERT_NOT_YET_VALID',
    );
    await assertFails(
      verifyAt(jws, trust, new Date(T.getTime() + HOUR + 1000)),
      'NV2_ERR_CERT_EXPIRED',
    );
  });

  it('decides validity at each verification: a trust set reused at another time agrees', async () => {
    const jws = signSample(leaf, [leaf, intermediate]);
    const trust = rootedIn(root);
    await verifyAt(jws, trust);
    await assertFails(
      verifyAt(jws, trust, new Date(T.getTime() + days(60))),
      'NV2_ERR_CERT_EXPIRED',
    );
    await verifyAt(jws, trust);
    await assertFails(
      verifyAt(jws, trust, new Date(T.getTime() - days(60))),
      'NV2_ERR_CERT_NOT_YET_VALID',
    );
  });
});

describe('rule 3: the signing certificate may make digital signatures', () => {
  for (const [name, keyUsage] of [
    ['keyEncipherment', KeyUsageFlags.keyEncipherment],
    ['nonRepudiation', KeyUsageFlags.nonRepudiation],
    ['keyCertSign and cRLSign', CA_USAGE],
  ] as const) {
    it(`refuses a signing certificate whose key usage is only ${name}`, async () => {
      const self = await selfSignedSigner('registry.example.com', { keyUsage });
      await assertFails(verifyAt(signSample(self), trusting(self)), 'NV2_ERR_CERT_KEY_USAGE');
      const issued = await issuedSigner(intermediate, 'registry.example.com', { keyUsage });
      await assertFails(
        verifyAt(signSample(issued, [issued, intermediate]), rootedIn(root)),
        'NV2_ERR_CERT_KEY_USAGE',
      );
    });
  }

  it('accepts a signing certificate without a key usage extension (RFC 5280: unrestricted)', async () => {
    const bare = await customIdentity({ subject: 'CN=registry.example.com' });
    assert.equal(bare.cert.keyUsage, undefined);
    await verifyAt(signSample(bare), trusting(bare));
    const issuedBare = await customIdentity({ subject: 'CN=registry.example.com' }, intermediate);
    await verifyAt(signSample(issuedBare, [issuedBare, intermediate]), rootedIn(root));
  });

  it('accepts a TLS server certificate (digitalSignature + keyEncipherment, EKU serverAuth)', async () => {
    const tls = await issuedSigner(intermediate, 'registry.example.com', {
      keyUsage: DS | KeyUsageFlags.keyEncipherment,
      extendedKeyUsage: ['1.3.6.1.5.5.7.3.1'],
    });
    await verifyAt(
      signSample(tls, [tls, intermediate], { references: ['registry.example.com/app:v1'] }),
      rootedIn(root),
    );
  });
});

describe('rule 3: no unknown critical extension', () => {
  const ext = (critical: boolean) => ({
    extraExtensions: [{ oid: PRIVATE_OID, critical, value: DER_NULL }],
  });

  it('refuses a signing certificate with an unknown critical extension', async () => {
    const bad = await selfSignedSigner('registry.example.com', ext(true));
    await assertFails(verifyAt(signSample(bad), trusting(bad)), 'NV2_ERR_CERT_CRITICAL_EXTENSION');
    const issued = await issuedSigner(intermediate, 'registry.example.com', ext(true));
    await assertFails(
      verifyAt(signSample(issued, [issued, intermediate]), rootedIn(root)),
      'NV2_ERR_CERT_CRITICAL_EXTENSION',
    );
  });

  it('refuses an intermediate with an unknown critical extension', async () => {
    const i = await intermediateCA(root, 'Critical Intermediate', ext(true));
    const child = await issuedSigner(i, 'registry.example.com');
    await assertFails(
      verifyAt(signSample(child, [child, i]), rootedIn(root)),
      'NV2_ERR_CERT_CRITICAL_EXTENSION',
    );
  });

  it('accepts the same extension when it is not critical', async () => {
    const ok = await selfSignedSigner('registry.example.com', ext(false));
    await verifyAt(signSample(ok), trusting(ok));
    const i = await intermediateCA(root, 'Plain Intermediate', ext(false));
    const child = await issuedSigner(i, 'registry.example.com');
    await verifyAt(signSample(child, [child, i]), rootedIn(root));
  });
});

describe('rule 4: nbf ≤ now < exp', () => {
  const trust = trusting(signer);

  it('refuses a signature whose nbf is in the future (sign() with expiresIn)', async () => {
    const later = signSample(signer, [signer], {
      now: new Date(T.getTime() + HOUR),
      expiresIn: 60,
    });
    await assertFails(verifyAt(later, trust), 'NV2_ERR_SIGNATURE_NOT_YET_VALID');
    await verifyAt(later, trust, new Date(T.getTime() + HOUR));
  });

  it('refuses a signature whose exp has passed (sign() with expiresIn)', async () => {
    const jws = signSample(signer, [signer], { expiresIn: 60 });
    await verifyAt(jws, trust);
    await assertFails(
      verifyAt(jws, trust, new Date(T.getTime() + 61_000)),
      'NV2_ERR_SIGNATURE_EXPIRED',
    );
  });

  it('refuses at exp == now and accepts a second before', async () => {
    const jws = craftSample(signer, {}, { exp: T_SECONDS });
    await assertFails(verifyAt(jws, trust, T), 'NV2_ERR_SIGNATURE_EXPIRED');
    await assertFails(verifyAt(jws, trust, new Date(T.getTime() + 1)), 'NV2_ERR_SIGNATURE_EXPIRED');
    await verifyAt(jws, trust, new Date(T.getTime() - 1));
    await verifyAt(jws, trust, new Date(T.getTime() - 1000));
  });

  it('accepts at nbf == now and refuses a moment before', async () => {
    const jws = craftSample(signer, {}, { nbf: T_SECONDS });
    await verifyAt(jws, trust, T);
    await verifyAt(jws, trust, new Date(T.getTime() + 1000));
    await assertFails(
      verifyAt(jws, trust, new Date(T.getTime() - 1)),
      'NV2_ERR_SIGNATURE_NOT_YET_VALID',
    );
  });

  it('applies nbf and exp each on its own, and together', async () => {
    await assertFails(
      verifyAt(craftSample(signer, {}, { exp: T_SECONDS - 1 }), trust),
      'NV2_ERR_SIGNATURE_EXPIRED',
    );
    await assertFails(
      verifyAt(craftSample(signer, {}, { nbf: T_SECONDS + 1 }), trust),
      'NV2_ERR_SIGNATURE_NOT_YET_VALID',
    );
    const window = craftSample(signer, {}, { nbf: T_SECONDS - 10, exp: T_SECONDS + 10 });
    await verifyAt(window, trust);
    await assertFails(
      verifyAt(window, trust, new Date(T.getTime() - 11_000)),
      'NV2_ERR_SIGNATURE_NOT_YET_VALID',
    );
    await assertFails(
      verifyAt(window, trust, new Date(T.getTime() + 10_000)),
      'NV2_ERR_SIGNATURE_EXPIRED',
    );
  });
});

describe('rule 5: digest, size and media type are those of the manifest bytes', () => {
  const trust = trusting(signer);
  const jws = signSample(signer);

  it('accepts the exact bytes and media type', async () => {
    const result = await verify(jws, SAMPLE_SUBJECT, trust, { now: T });
    assert.equal(result.digest, digestOf(SAMPLE_MANIFEST));
  });

  it('refuses other bytes of the same length (NV2_ERR_DIGEST_MISMATCH)', async () => {
    const changed = flipByte(SAMPLE_MANIFEST, SAMPLE_MANIFEST.length - 2);
    await assertFails(
      verify(jws, { mediaType: SAMPLE_SUBJECT.mediaType, content: changed }, trust, { now: T }),
      'NV2_ERR_DIGEST_MISMATCH',
    );
  });

  it('refuses bytes with a trailing newline added (NV2_ERR_DIGEST_MISMATCH)', async () => {
    const longer = Buffer.concat([SAMPLE_MANIFEST, Buffer.from('\n')]);
    await assertFails(
      verify(jws, { mediaType: SAMPLE_SUBJECT.mediaType, content: longer }, trust, { now: T }),
      'NV2_ERR_DIGEST_MISMATCH',
    );
  });

  it('computes the size from the bytes (claims with the right digest and a wrong size)', async () => {
    for (const size of [CLAIMS.size + 1, CLAIMS.size - 1, 0]) {
      await assertFails(
        verifyAt(craftSample(signer, {}, { size }), trust),
        'NV2_ERR_SIZE_MISMATCH',
      );
    }
  });

  it('refuses another media type (NV2_ERR_MEDIA_TYPE_MISMATCH)', async () => {
    for (const mediaType of [
      'application/vnd.docker.distribution.manifest.v2+json',
      'application/vnd.oci.image.index.v1+json',
    ]) {
      await assertFails(
        verify(jws, { mediaType, content: SAMPLE_MANIFEST }, trust, { now: T }),
        'NV2_ERR_MEDIA_TYPE_MISMATCH',
      );
    }
  });

  it('checks a descriptor subject field by field', async () => {
    const d: Descriptor = SAMPLE.descriptor;
    await verify(jws, d, trust, { now: T });
    await assertFails(
      verify(jws, { ...d, digest: digestOf(Buffer.from('other')) }, trust, { now: T }),
      'NV2_ERR_DIGEST_MISMATCH',
    );
    await assertFails(
      verify(jws, { ...d, size: d.size + 1 }, trust, { now: T }),
      'NV2_ERR_SIZE_MISMATCH',
    );
    await assertFails(
      verify(jws, { ...d, mediaType: 'application/vnd.oci.image.index.v1+json' }, trust, {
        now: T,
      }),
      'NV2_ERR_MEDIA_TYPE_MISMATCH',
    );
  });

  it('verifies a sha512 digest claim by hashing the bytes with sha512', async () => {
    const d512 = createDescriptor(SAMPLE.descriptor.mediaType, SAMPLE_MANIFEST, 'sha512');
    const jws512 = sign(d512, { key: signer.key, certificateChain: [signer.cert.der] }, { now: T });
    const result = await verify(jws512, SAMPLE_SUBJECT, trust, { now: T });
    assert.equal(result.digest, digestOf(SAMPLE_MANIFEST, 'sha512'));
    const changed = flipByte(SAMPLE_MANIFEST, SAMPLE_MANIFEST.length - 2);
    await assertFails(
      verify(jws512, { mediaType: SAMPLE_SUBJECT.mediaType, content: changed }, trust, { now: T }),
      'NV2_ERR_DIGEST_MISMATCH',
    );
  });
});

describe('rule 6: reference hosts match the signing certificate’s CN or DNS SANs', () => {
  interface Case {
    readonly cn: string;
    readonly sans?: readonly string[];
    readonly references: readonly string[];
  }
  const matching: Case[] = [
    {
      cn: 'registry.example.com',
      sans: ['registry.example.com'],
      references: ['registry.example.com/net-monitor:v1'],
    },
    { cn: 'registry.example.com', references: ['REGISTRY.Example.COM/net-monitor:v1'] },
    { cn: 'Registry.Example.COM', references: ['registry.example.com/app'] },
    { cn: 'cn-only.example', references: ['cn-only.example/app:v1'] },
    {
      cn: 'Example Signer',
      sans: ['san-one.example', 'san-two.example'],
      references: ['san-two.example/app', 'san-one.example/app@' + SAMPLE.descriptor.digest],
    },
    { cn: 'Example Signer', sans: ['SAN.Example'], references: ['san.example/app'] },
    { cn: 'registry.io', references: ['registry.io:5000/app:v1'] },
    { cn: 'localhost', references: ['localhost:5000/app:v1'] },
    { cn: 'localhost:5000', references: ['localhost:5000/app:v1'] },
    { cn: 'Example Signer', sans: ['localhost:5000'], references: ['localhost:5000/app:v1'] },
    {
      cn: 'docker.io',
      references: [
        'ubuntu',
        'ubuntu:22.04',
        'library/ubuntu',
        'wabbit/net-monitor:v1',
        'docker.io/library/ubuntu:latest',
        'index.docker.io/library/ubuntu',
      ],
    },
    { cn: 'registry.example.com', references: [] },
  ];
  const mismatching: (Case & { readonly why: string })[] = [
    { why: 'another host', cn: 'registry.example.com', references: ['other.example.com/app:v1'] },
    {
      why: 'one of two references on another host',
      cn: 'registry.example.com',
      references: ['registry.example.com/app:v1', 'other.example.com/app:v1'],
    },
    {
      why: 'a port on the name, none on the reference',
      cn: 'registry.io:5000',
      references: ['registry.io/app'],
    },
    { why: 'another port', cn: 'registry.io:5000', references: ['registry.io:5001/app'] },
    { why: 'another port of localhost', cn: 'localhost:5000', references: ['localhost:5001/app'] },
    {
      why: 'localhost without the port the name has',
      cn: 'localhost:5000',
      references: ['localhost/app'],
    },
    {
      why: 'a reference without host (docker.io) and a non-docker.io name',
      cn: 'registry.example.com',
      references: ['ubuntu'],
    },
    {
      why: 'library/ubuntu (docker.io) and a non-docker.io name',
      cn: 'registry.example.com',
      references: ['library/ubuntu'],
    },
    {
      why: 'library/ubuntu against a name "library"',
      cn: 'library',
      references: ['library/ubuntu'],
    },
    {
      why: 'a wildcard SAN',
      cn: 'Example Signer',
      sans: ['*.example.com'],
      references: ['a.example.com/app'],
    },
    { why: 'a wildcard CN', cn: '*.example.com', references: ['a.example.com/app'] },
    {
      why: 'a name that is a suffix of the host',
      cn: 'example.com',
      references: ['registry.example.com/app'],
    },
    {
      why: 'a host that is a suffix of the name',
      cn: 'registry.example.com',
      references: ['example.com/app'],
    },
    {
      why: 'a name that is a string suffix of the host',
      cn: 'example.com',
      references: ['notexample.com/app'],
    },
    {
      why: 'a name that is a prefix of the host',
      cn: 'registry.example.com',
      references: ['registry.example.com.evil.io/app'],
    },
    {
      why: 'docker.io against a name on another registry of the same name',
      cn: 'docker.io',
      references: ['registry.docker.io/library/ubuntu'],
    },
  ];

  async function signerFor(c: Case): Promise<TestIdentity> {
    return customIdentity({
      subject: `CN=${c.cn}`,
      keyUsage: DS,
      ...(c.sans !== undefined ? { dnsNames: c.sans } : {}),
    });
  }

  for (const c of matching) {
    it(`accepts ${JSON.stringify(c.references)} signed by ${[c.cn, ...(c.sans ?? [])].join(' / ')}`, async () => {
      const id = await signerFor(c);
      const result = await verifyAt(
        signSample(id, [id], { references: c.references }),
        trusting(id),
      );
      assert.deepEqual(result.references, c.references);
    });
  }

  for (const c of mismatching) {
    it(`refuses ${c.why}: ${JSON.stringify(c.references)} vs ${[c.cn, ...(c.sans ?? [])].join(' / ')}`, async () => {
      const id = await signerFor(c);
      await assertFails(
        verifyAt(signSample(id, [id], { references: c.references }), trusting(id)),
        'NV2_ERR_REFERENCE_MISMATCH',
      );
    });
  }

  it('matches against the signing certificate, not its issuers', async () => {
    const namedRoot = await rootCA('registry.example.com');
    const child = await issuedSigner(namedRoot, 'other.example.com');
    await assertFails(
      verifyAt(
        signSample(child, [child], { references: ['registry.example.com/app:v1'] }),
        rootedIn(namedRoot),
      ),
      'NV2_ERR_REFERENCE_MISMATCH',
    );
    await verifyAt(
      signSample(child, [child], { references: ['other.example.com/app:v1'] }),
      rootedIn(namedRoot),
    );
  });

  it('matches the certificate found by kid', async () => {
    const jws = signSample(signer, [], { references: ['registry.example.com/app:v1'] });
    await verifyAt(jws, trusting(signer));
    const elsewhere = signSample(signer, [], { references: ['other.example.com/app:v1'] });
    await assertFails(verifyAt(elsewhere, trusting(signer)), 'NV2_ERR_REFERENCE_MISMATCH');
  });
});

describe('rule 2: the signature verifies over header.claims', () => {
  const trust = trusting(signer, signerRsa);

  function flipSignatureByte(jws: string, index: number): string {
    const [h, c, s] = jws.split('.') as [string, string, string];
    return `${h}.${c}.${flipByte(Buffer.from(s, 'base64url'), index).toString('base64url')}`;
  }

  for (const [alg, id] of [
    ['ES256', signer],
    ['RS256', signerRsa],
    ['PS256', signerRsa],
  ] as const) {
    it(`refuses a ${alg} signature with one byte changed (NV2_ERR_SIGNATURE_INVALID)`, async () => {
      const jws = sign(
        SAMPLE.descriptor,
        { key: id.key, certificateChain: [id.cert.der] },
        { algorithm: alg, now: T },
      );
      await verifyAt(jws, trust);
      const length = Buffer.from(jws.split('.')[2]!, 'base64url').length;
      for (const index of [0, Math.floor(length / 2), length - 1]) {
        await assertFails(
          verifyAt(flipSignatureByte(jws, index), trust),
          'NV2_ERR_SIGNATURE_INVALID',
        );
      }
    });
  }

  it('refuses claims changed under the same signature', async () => {
    const jws = signSample(signer, [signer], { references: ['registry.example.com/app:v1'] });
    const [h, , s] = jws.split('.') as [string, string, string];
    const claims = parseSignature(jws).claims;
    for (const changed of [
      { ...claims, references: ['registry.example.com/app:v2'] },
      { ...claims, iat: (claims.iat ?? 0) + 1 },
      { ...claims, extra: true },
    ]) {
      await assertFails(
        verifyAt(`${h}.${segment(changed)}.${s}`, trust),
        'NV2_ERR_SIGNATURE_INVALID',
      );
    }
  });

  it('refuses an equivalent header re-encoded under the same signature', async () => {
    const jws = signSample(signer);
    const [, c, s] = jws.split('.') as [string, string, string];
    const { header } = parseSignature(jws);
    const reordered = { x5c: header.x5c, alg: header.alg, typ: header.typ };
    await assertFails(
      verifyAt(`${segment(reordered)}.${c}.${s}`, trust),
      'NV2_ERR_SIGNATURE_INVALID',
    );
  });

  it('refuses a signature by another key than the certificate’s', async () => {
    const other = await selfSignedSigner('registry.example.com');
    const jws = craftJws({ typ: 'x509', alg: 'ES256', x5c: x5cOf(signer) }, CLAIMS, other.key);
    await assertFails(verifyAt(jws, trust), 'NV2_ERR_SIGNATURE_INVALID');
  });
});

describe('verdicts do not leak between verifications through the trust set', async () => {
  const stranger = await selfSignedSigner('registry.example.com');

  it('same header with other claims or another signature: each its own verdict', async () => {
    const trust = trusting(signer);
    const good = signSample(signer);
    const otherSize = craftSample(signer, {}, { size: CLAIMS.size + 1 });
    assert.equal(otherSize.split('.')[0], good.split('.')[0], 'the same header segment');
    const [h, c, s] = good.split('.') as [string, string, string];
    const badSignature = `${h}.${c}.${Buffer.from(s, 'base64url').reverse().toString('base64url')}`;
    for (let round = 0; round < 3; round++) {
      await verifyAt(good, trust);
      await assertFails(verifyAt(otherSize, trust), 'NV2_ERR_SIZE_MISMATCH');
      await assertFails(verifyAt(badSignature, trust), 'NV2_ERR_SIGNATURE_INVALID');
    }
  });

  it('a signer refused once does not affect a trusted one, and stays refused', async () => {
    const trust = trusting(signer);
    for (let round = 0; round < 3; round++) {
      await assertFails(verifyAt(signSample(stranger), trust), 'NV2_ERR_CERT_UNTRUSTED');
      await verifyAt(signSample(signer), trust);
    }
  });

  it('one signature under two trust sets: each its own verdict', async () => {
    const jws = signSample(signer);
    const trusted = trusting(signer);
    const other = trusting(stranger);
    for (let round = 0; round < 2; round++) {
      await verifyAt(jws, trusted);
      await assertFails(verifyAt(jws, other), 'NV2_ERR_CERT_UNTRUSTED');
    }
  });

  it(`keeps verdicts right past ${HEADER_CACHE_SIZE} distinct headers`, async () => {
    const trust = trusting(signer);
    const first = craftSample(signer, { n: -1 });
    const refused = craftSample(stranger, { n: -1 });
    await verifyAt(first, trust);
    await assertFails(verifyAt(refused, trust), 'NV2_ERR_CERT_UNTRUSTED');
    // kid-form fillers: distinct headers that are cheap to resolve.
    const kid = keyId(signer.cert.publicKey);
    for (let n = 0; n < HEADER_CACHE_SIZE + 8; n++) {
      await verifyAt(craftSample(signer, { x5c: undefined, kid, n }), trust);
    }
    await verifyAt(first, trust);
    await assertFails(verifyAt(refused, trust), 'NV2_ERR_CERT_UNTRUSTED');
  });

  it('takes a parsed signature and gives the same verdicts as for its text', async () => {
    const trust = trusting(signer);
    const good = signSample(signer);
    const result = await verify(parseSignature(good), SAMPLE_SUBJECT, trust, { now: T });
    assert.equal(result.signer.fingerprintSha256, signer.cert.fingerprintSha256);
    await assertFails(
      verify(parseSignature(signSample(stranger)), SAMPLE_SUBJECT, trust, { now: T }),
      'NV2_ERR_CERT_UNTRUSTED',
    );
    const elsewhere = signSample(signer, [signer], { references: ['other.example.com/app:v1'] });
    await assertFails(
      verify(parseSignature(elsewhere), SAMPLE_SUBJECT, trust, { now: T }),
      'NV2_ERR_REFERENCE_MISMATCH',
    );
  });
});

describe('the verification result', () => {
  it('reports digest, media type, size, algorithm, signer, chain (leaf → anchor), references and times', async () => {
    const references = [
      'registry.example.com/net-monitor:v1',
      'registry.example.com/net-monitor@' + SAMPLE.descriptor.digest,
    ];
    const jws = signSample(leaf, [leaf, intermediate], { references, expiresIn: 3600 });
    const result = await verifyAt(jws, rootedIn(root));
    assert.equal(result.digest, SAMPLE.descriptor.digest);
    assert.equal(result.mediaType, SAMPLE.descriptor.mediaType);
    assert.equal(result.size, SAMPLE_MANIFEST.byteLength);
    assert.equal(result.algorithm, 'ES256');
    assert.equal(result.signer.fingerprintSha256, leaf.cert.fingerprintSha256);
    assert.equal(result.signer.subject, 'CN=registry.example.com');
    assert.deepEqual(
      fingerprints(result.certificateChain),
      fingerprints([leaf.cert, intermediate.cert, root.cert]),
    );
    assert.deepEqual(result.references, references);
    assert.deepEqual(result.issuedAt, T);
    assert.deepEqual(result.notBefore, T);
    assert.deepEqual(result.expiresAt, new Date(T.getTime() + HOUR));
  });

  it('reports no references and no times when the claims have none', async () => {
    const result = await verifyAt(craftSample(signer), trusting(signer));
    assert.deepEqual(result.references, []);
    assert.equal(result.issuedAt, undefined);
    assert.equal(result.notBefore, undefined);
    assert.equal(result.expiresAt, undefined);
  });
});
