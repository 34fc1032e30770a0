/**
 * Certificate chains of Notary Project envelopes follow notation's rules (notation-core-go
 * ValidateCodeSigningCertChain), so that nv2 and notation accept the same envelopes; and a
 * signer's chain file (CA repeated, any order) is put in the one order those rules accept.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError, VerificationFailedError } from '../../../src/errors.js';
import {
  NotationMediaTypes,
  type SignRequest,
  parseNotationEnvelope,
  signCoseEnvelope,
  signJwsEnvelope,
  signNotation,
  verifyEnvelopeSignature,
} from '../../../src/notation/index.js';
import { createDescriptor } from '../../../src/oci/index.js';
import { KeyUsageFlags } from '../../../src/x509/index.js';
import { SAMPLE_MANIFEST } from '../../helpers/fixtures.js';
import {
  NOW,
  type TestIdentity,
  customIdentity,
  intermediateCA,
  issuedSigner,
  rootCA,
} from '../../helpers/pki.js';

const SUBJECT = createDescriptor('application/vnd.oci.image.manifest.v1+json', SAMPLE_MANIFEST);
const REQUEST: SignRequest = { signingScheme: 'notary.x509', signingTime: NOW };
const PAYLOAD = Buffer.from('{"targetArtifact":{}}');

const root = await rootCA('Chain Root');
const intermediate = await intermediateCA(root, 'Chain Intermediate');
const leaf = await issuedSigner(root, 'chain leaf');
const deepLeaf = await issuedSigner(intermediate, 'deep leaf');

/** Envelopes of both formats signed by `signer` carrying exactly `chain` (no checks on signing). */
function envelopes(signer: TestIdentity, chain: readonly TestIdentity[]) {
  const certs = chain.map((c) => c.cert);
  const alg = 'ES256' as const;
  return [
    parseNotationEnvelope(
      signJwsEnvelope(REQUEST, PAYLOAD, alg, signer.key, certs),
      NotationMediaTypes.jws,
    ),
    parseNotationEnvelope(
      signCoseEnvelope(REQUEST, PAYLOAD, alg, signer.key, certs),
      NotationMediaTypes.cose,
    ),
  ];
}

function assertRefused(signer: TestIdentity, chain: readonly TestIdentity[], why: RegExp): void {
  for (const envelope of envelopes(signer, chain)) {
    assert.throws(
      () => verifyEnvelopeSignature(envelope),
      (err: unknown) => {
        assert.ok(err instanceof VerificationFailedError, String(err));
        assert.equal(err.code, 'NV2_ERR_SIGNATURE_INVALID');
        assert.match(err.message, why);
        return true;
      },
      envelope.format,
    );
  }
}

describe('Notary Project envelopes: notation’s certificate chain rules', () => {
  it('accepts leaf → root and leaf → intermediate → root', () => {
    for (const envelope of [
      ...envelopes(leaf, [leaf, root]),
      ...envelopes(deepLeaf, [deepLeaf, intermediate, root]),
    ]) {
      verifyEnvelopeSignature(envelope);
    }
  });

  it('refuses a root repeated (leaf, CA, CA): a self-signed intermediate', () => {
    assertRefused(leaf, [leaf, root, root], /self-signed intermediate/);
  });

  it('refuses an intermediate repeated, and the wrong order', () => {
    assertRefused(deepLeaf, [deepLeaf, intermediate, intermediate, root], /not issued by/);
    assertRefused(deepLeaf, [deepLeaf, root, intermediate], /not issued by/);
  });

  it('refuses a self-signed CA certificate signing alone', async () => {
    const selfSignedCA = await customIdentity({
      subject: 'CN=lone CA',
      basicConstraints: { ca: true },
      keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.keyCertSign,
    });
    assertRefused(selfSignedCA, [selfSignedCA], /is a CA certificate/);
  });

  it('refuses signing certificates with key usages beyond digitalSignature, or non-critical', async () => {
    const encipher = await customIdentity(
      {
        subject: 'CN=encipher',
        basicConstraints: { ca: false },
        keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment,
      },
      root,
    );
    assertRefused(encipher, [encipher, root], /digitalSignature only, not keyEncipherment/);
    const nonCritical = await customIdentity(
      {
        subject: 'CN=non-critical',
        basicConstraints: { ca: false },
        // KeyUsage ::= BIT STRING { digitalSignature (0) }, not marked critical.
        extraExtensions: [
          { oid: '2.5.29.15', critical: false, value: Buffer.from('03020780', 'hex') },
        ],
      },
      root,
    );
    assertRefused(nonCritical, [nonCritical, root], /critical key usage/);
  });

  it('refuses clientAuth in the extended key usage', async () => {
    const client = await customIdentity(
      {
        subject: 'CN=client',
        basicConstraints: { ca: false },
        keyUsage: KeyUsageFlags.digitalSignature,
        extendedKeyUsage: ['1.3.6.1.5.5.7.3.3', '1.3.6.1.5.5.7.3.2'],
      },
      root,
    );
    assertRefused(client, [client, root], /clientAuth/);
  });
});

describe('signNotation: the chain as a chain file gives it', () => {
  const sign = (chain: readonly TestIdentity[], signer: TestIdentity) =>
    parseNotationEnvelope(
      signNotation({
        format: 'jws',
        key: signer.key,
        certificateChain: chain.map((c) => c.cert),
        descriptor: SUBJECT,
      }).envelope,
      NotationMediaTypes.jws,
    );

  it('drops a repeated CA (leaf, CA, CA → leaf, CA)', () => {
    const envelope = sign([leaf, root, root], leaf);
    assert.deepEqual(
      envelope.certificateChain.map((c) => c.subject),
      [leaf.cert.subject, root.cert.subject],
    );
    verifyEnvelopeSignature(envelope);
  });

  it('puts CAs in issuing order (leaf, root, intermediate, leaf → leaf, intermediate, root)', () => {
    const envelope = sign([deepLeaf, root, intermediate, deepLeaf], deepLeaf);
    assert.deepEqual(
      envelope.certificateChain.map((c) => c.subject),
      [deepLeaf.cert.subject, intermediate.cert.subject, root.cert.subject],
    );
    verifyEnvelopeSignature(envelope);
  });

  it('refuses a certificate that is not part of the chain', async () => {
    const stranger = await rootCA('Stranger Root');
    assert.throws(
      () => sign([leaf, root, stranger], leaf),
      (err: unknown) => {
        assert.ok(err instanceof InvalidInputError, String(err));
        assert.equal(err.code, 'NV2_ERR_INVALID_CERTIFICATE');
        assert.match(err.message, /Stranger Root/);
        return true;
      },
    );
  });
});
