/**
 * Characters outside [A-Za-z0-9_-] whose low byte is a base64url character (U+0152 "Œ" reads
 * as "R" to Node's decoder) are refused in every segment of an nv2 signature and of a Notary
 * Project JWS envelope, on every path that reads one: strings, bytes, parse, verify, describe.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VerificationFailedError } from '../../../src/errors.js';
import {
  NotationMediaTypes,
  describeNotationEnvelope,
  parseNotationEnvelope,
  signNotation,
} from '../../../src/notation/index.js';
import { createDescriptor } from '../../../src/oci/index.js';
import {
  decodeBase64,
  decodeBase64url,
  parseSignature,
  sign,
} from '../../../src/signature/index.js';
import { TrustSet, verify } from '../../../src/trust/index.js';
import { SAMPLE, SAMPLE_MANIFEST, SAMPLE_SUBJECT } from '../../helpers/fixtures.js';
import { NOW, issuedSigner, rootCA, selfSignedSigner } from '../../helpers/pki.js';

const MALFORMED = (err: unknown): true => {
  assert.ok(err instanceof VerificationFailedError, `not a VerificationFailedError: ${err}`);
  assert.equal(err.code, 'NV2_ERR_SIGNATURE_MALFORMED');
  return true;
};

/** `text` with its character at `index` replaced by one whose low byte is that character. */
function homoglyph(text: string, index: number): string {
  const c = text.charCodeAt(index);
  return text.slice(0, index) + String.fromCharCode(0x100 + c) + text.slice(index + 1);
}

describe('strict base64url: characters beyond the alphabet whose low byte is in it', () => {
  it('the decoders refuse them (Node alone would read them as their low byte)', () => {
    assert.deepEqual(Buffer.from(homoglyph('QUJD', 1), 'base64url'), Buffer.from('ABC'));
    for (const index of [0, 1, 2, 3]) {
      assert.throws(() => decodeBase64url(homoglyph('QUJD', index), 'x'), MALFORMED);
      assert.throws(() => decodeBase64(homoglyph('QUJD', index), 'x'), MALFORMED);
    }
    assert.throws(() => decodeBase64url('QUJD\u0000', 'x'), MALFORMED);
  });

  it('nv2 signatures: refused in header, claims and signature, as a string', async () => {
    const signer = await selfSignedSigner('registry.example.com');
    const trust = new TrustSet({ certificates: [signer.cert] });
    const good = sign(
      SAMPLE.descriptor,
      { key: signer.key, certificateChain: [signer.cert.der] },
      { now: NOW },
    );
    await verify(good, SAMPLE_SUBJECT, trust, { now: NOW });
    const dots = [0, good.indexOf('.') + 1, good.lastIndexOf('.') + 1];
    for (const start of dots) {
      const altered = homoglyph(good, start + 2);
      assert.throws(() => parseSignature(altered), MALFORMED);
      await assert.rejects(verify(altered, SAMPLE_SUBJECT, trust, { now: NOW }), MALFORMED);
      // As UTF-8 bytes the character becomes two bytes outside the alphabet: refused too.
      const bytes = Buffer.from(altered, 'utf8');
      assert.throws(() => parseSignature(bytes), MALFORMED);
      await assert.rejects(verify(bytes, SAMPLE_SUBJECT, trust, { now: NOW }), MALFORMED);
    }
  });

  it('Notary Project JWS: refused in protected, payload and signature by parse and describe', async () => {
    const root = await rootCA('Homoglyph Root');
    const signer = await issuedSigner(root, 'homoglyph signer');
    const { envelope } = signNotation({
      format: 'jws',
      key: signer.key,
      certificateChain: [signer.cert, root.cert],
      descriptor: createDescriptor('application/vnd.oci.image.manifest.v1+json', SAMPLE_MANIFEST),
    });
    parseNotationEnvelope(envelope, NotationMediaTypes.jws);
    const json = JSON.parse(envelope.toString('utf8')) as Record<string, string>;
    for (const member of ['protected', 'payload', 'signature']) {
      const altered = Buffer.from(
        JSON.stringify({ ...json, [member]: homoglyph(json[member]!, 5) }),
        'utf8',
      );
      assert.throws(() => parseNotationEnvelope(altered, NotationMediaTypes.jws), MALFORMED);
      assert.throws(
        () => describeNotationEnvelope(altered, NotationMediaTypes.jws),
        (err: unknown) => {
          assert.equal((err as { code?: unknown }).code, 'NV2_ERR_SIGNATURE_MALFORMED');
          return true;
        },
      );
    }
  });
});
