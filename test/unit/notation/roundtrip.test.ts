/**
 * Sign → verify round trips for every algorithm of the specification in both envelopes, and
 * the signer's refusals.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  NotationMediaTypes,
  parseNotationEnvelope,
  signNotation,
} from '../../../src/notation/index.js';
import { evaluateNotationSignature } from '../../../src/verification/index.js';
import { createDescriptor } from '../../../src/oci/index.js';
import { KEY_TYPES } from '../../../src/x509/index.js';
import { SAMPLE_MANIFEST } from '../../helpers/fixtures.js';
import { NOW, customIdentity, issuedSigner, rootCA, selfSignedSigner } from '../../helpers/pki.js';
import { policy, revocation } from './helpers.js';

const SUBJECT = createDescriptor('application/vnd.oci.image.manifest.v1+json', SAMPLE_MANIFEST);
const EXPECTED_ALG = {
  'rsa-2048': 'PS256',
  'rsa-3072': 'PS384',
  'rsa-4096': 'PS512',
  'ec-p256': 'ES256',
  'ec-p384': 'ES384',
  'ec-p521': 'ES512',
} as const;

describe('sign → verify round trips', async () => {
  const root = await rootCA('Round Trip Root');
  for (const keyType of KEY_TYPES) {
    const signer = await issuedSigner(root, `signer-${keyType}`, { keyType });
    for (const format of ['jws', 'cose'] as const) {
      it(`${format} with ${keyType} signs as ${EXPECTED_ALG[keyType]} and verifies at strict`, async () => {
        const { envelope, mediaType } = signNotation({
          format,
          key: signer.key,
          certificateChain: [signer.cert, root.cert],
          descriptor: SUBJECT,
          userMetadata: { buildId: '42' },
          expiry: new Date(NOW.getTime() + 86400_000),
        });
        assert.equal(
          mediaType,
          format === 'jws' ? NotationMediaTypes.jws : NotationMediaTypes.cose,
        );
        const parsed = parseNotationEnvelope(envelope, mediaType);
        assert.equal(parsed.algorithm, EXPECTED_ALG[keyType]);
        assert.equal(parsed.signingAgent, 'nv2');
        const ok = await evaluateNotationSignature(
          envelope,
          SUBJECT,
          policy({ ca: [root.cert], now: NOW, userMetadata: { buildId: '42' } }),
          { revocation },
        );
        assert.equal(ok.verified, true, JSON.stringify(ok.checks));
        assert.equal(ok.format, format);
        assert.deepEqual(ok.signedDescriptor?.annotations, { buildId: '42' });
        // Without the media type the evaluator recognizes the envelope by its first byte.
        const sniffed = await evaluateNotationSignature(
          envelope,
          SUBJECT,
          policy({ ca: [root.cert], now: NOW }),
          {
            revocation,
          },
        );
        assert.equal(sniffed.verified, true);
        const tampered = Buffer.from(envelope);
        const at = tampered.length - (format === 'jws' ? 10 : 3);
        tampered.writeUInt8(tampered.readUInt8(at) ^ 1, at);
        const bad = await evaluateNotationSignature(
          tampered,
          SUBJECT,
          policy({ ca: [root.cert], now: NOW }),
          {
            mediaType,
            revocation,
          },
        );
        assert.equal(bad.verified, false);
        assert.equal(bad.checks[0]?.passed, false);
      });
    }
  }

  it('signs under notary.x509.signingAuthority, verified against signingAuthority stores', async () => {
    const signer = await selfSignedSigner('sa-signer', { keyType: 'rsa-2048' });
    for (const format of ['jws', 'cose'] as const) {
      const { envelope } = signNotation({
        format,
        key: signer.key,
        certificateChain: [signer.cert],
        descriptor: SUBJECT,
        signingScheme: 'notary.x509.signingAuthority',
      });
      const sa = await evaluateNotationSignature(
        envelope,
        SUBJECT,
        policy({ signingAuthority: [signer.cert], now: NOW }),
        {
          revocation,
        },
      );
      assert.equal(sa.verified, true, JSON.stringify(sa.checks));
      const ca = await evaluateNotationSignature(
        envelope,
        SUBJECT,
        policy({ ca: [signer.cert], now: NOW }),
        { revocation },
      );
      assert.equal(ca.verified, false);
    }
  });

  it('refuses keys outside the table, a key that is not the certificate’s, and CA signing certificates', async () => {
    const signer = await issuedSigner(root, 'x', { keyType: 'ec-p256' });
    const other = await issuedSigner(root, 'y', { keyType: 'ec-p256' });
    assert.throws(
      () =>
        signNotation({
          format: 'jws',
          key: other.key,
          certificateChain: [signer.cert, root.cert],
          descriptor: SUBJECT,
        }),
      { code: 'NV2_ERR_KEY_CERT_MISMATCH' },
    );
    const weak = await customIdentity({ keyType: 'rsa-1024', keyUsage: 1 });
    assert.throws(
      () =>
        signNotation({
          format: 'cose',
          key: weak.key,
          certificateChain: [weak.cert],
          descriptor: SUBJECT,
        }),
      {
        code: 'NV2_ERR_UNSUPPORTED_KEY',
      },
    );
    const noUsage = await customIdentity({ keyType: 'ec-p256' });
    assert.throws(
      () =>
        signNotation({
          format: 'jws',
          key: noUsage.key,
          certificateChain: [noUsage.cert],
          descriptor: SUBJECT,
        }),
      { code: 'NV2_ERR_INVALID_CERTIFICATE' },
    );
    assert.throws(
      () =>
        signNotation({
          format: 'jws',
          key: root.key,
          certificateChain: [root.cert, root.cert],
          descriptor: SUBJECT,
        }),
      { code: 'NV2_ERR_INVALID_CERTIFICATE' },
    );
  });

  it('verification rejects a chain out of order', async () => {
    const signer = await issuedSigner(root, 'order', { keyType: 'ec-p256' });
    const { envelope } = signNotation({
      format: 'jws',
      key: signer.key,
      certificateChain: [signer.cert, root.cert],
      descriptor: SUBJECT,
    });
    const json = JSON.parse(envelope.toString()) as { header: { x5c: string[] } };
    json.header.x5c.reverse();
    const result = await evaluateNotationSignature(
      Buffer.from(JSON.stringify(json)),
      SUBJECT,
      policy({ ca: [root.cert], now: NOW }),
      {
        revocation,
      },
    );
    assert.equal(result.verified, false);
    assert.equal(result.checks[0]?.passed, false);
  });
});
