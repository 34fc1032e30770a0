/**
 * Time values a JavaScript Date cannot hold (beyond ±8.64e15 ms, ECMA-262 §21.4.1.1) are
 * refused when a signature is parsed, with a typed error: they never reach a `new Date()`
 * whose `toISOString()` throws a plain RangeError later (in `verify`, `nv2 list`, inspect).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tag, encode } from 'cbor2';
import { VerificationFailedError } from '../../../src/errors.js';
import {
  NotationMediaTypes,
  describeNotationEnvelope,
  parseNotationEnvelope,
} from '../../../src/notation/index.js';
import { parseSignature } from '../../../src/signature/index.js';
import { TrustSet, verify } from '../../../src/trust/index.js';
import { SAMPLE, SAMPLE_SUBJECT } from '../../helpers/fixtures.js';
import { NOW, craftJws, selfSignedSigner, x5cOf } from '../../helpers/pki.js';

const MALFORMED = (err: unknown): true => {
  assert.ok(err instanceof VerificationFailedError, `not a VerificationFailedError: ${err}`);
  assert.equal(err.code, 'NV2_ERR_SIGNATURE_MALFORMED');
  return true;
};

const signer = await selfSignedSigner('registry.example.com');
const trust = new TrustSet({ certificates: [signer.cert] });
const HEADER = { typ: 'x509', alg: 'ES256', x5c: x5cOf(signer) };
const CLAIMS = {
  mediaType: SAMPLE.descriptor.mediaType,
  digest: SAMPLE.descriptor.digest,
  size: SAMPLE.descriptor.size,
};
const nowSeconds = Math.floor(NOW.getTime() / 1000);

describe('nv2 signatures: time claims outside the Date range', () => {
  for (const name of ['iat', 'nbf', 'exp'] as const) {
    for (const value of [1e13, -1e13, 8.64e12 + 1, Number.MAX_VALUE]) {
      it(`${name}: ${value} is refused by parse and by a trusted verify`, async () => {
        const claims: Record<string, unknown> = { ...CLAIMS, iat: nowSeconds, [name]: value };
        const jws = craftJws(HEADER, claims, signer.key);
        assert.throws(() => parseSignature(jws), MALFORMED);
        await assert.rejects(verify(jws, SAMPLE_SUBJECT, trust, { now: NOW }), MALFORMED);
      });
    }
  }

  it('the edges of the range still parse and verify', async () => {
    const jws = craftJws(
      HEADER,
      { ...CLAIMS, iat: -8.64e12, nbf: -8.64e12, exp: 8.64e12 },
      signer.key,
    );
    const result = await verify(jws, SAMPLE_SUBJECT, trust, { now: NOW });
    assert.equal(result.expiresAt?.toISOString(), '+275760-09-13T00:00:00.000Z');
    assert.equal(result.issuedAt?.toISOString(), '-271821-04-20T00:00:00.000Z');
  });
});

describe('Notary Project COSE: epoch times outside the Date range', () => {
  function coseWithSigningTime(seconds: number): Buffer {
    const protectedHeader = new Map<unknown, unknown>([
      [1, -7],
      [2, ['io.cncf.notary.signingScheme']],
      [3, 'application/vnd.cncf.notary.payload.v1+json'],
      ['io.cncf.notary.signingScheme', 'notary.x509'],
      ['io.cncf.notary.signingTime', new Tag(1, seconds)],
    ]);
    return Buffer.from(
      encode(
        new Tag(18, [
          new Uint8Array(encode(protectedHeader)),
          new Map([[33, [new Uint8Array(signer.cert.der)]]]),
          new Uint8Array(Buffer.from('{}')),
          new Uint8Array(64),
        ]),
      ),
    );
  }

  it('parse refuses them with a typed error; describe shows them without throwing', () => {
    for (const seconds of [1e13, -1e13, 1e300]) {
      const envelope = coseWithSigningTime(seconds);
      assert.throws(() => parseNotationEnvelope(envelope, NotationMediaTypes.cose), MALFORMED);
      const described = describeNotationEnvelope(envelope, NotationMediaTypes.cose);
      assert.equal(
        typeof described.protectedHeader['io.cncf.notary.signingTime'],
        'string',
        'an unrepresentable time is shown as text',
      );
    }
  });
});
