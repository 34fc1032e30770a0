/**
 * RFC 3339 times in a Notary Project JWS protected header are read strictly: a day past the
 * end of its month, February 29th of a common year, hour 24, minute or second 60, an offset
 * beyond ±23:59 are refused, never rolled over into a neighbouring date as `Date` would.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VerificationFailedError } from '../../../src/errors.js';
import { NotationMediaTypes, parseNotationEnvelope } from '../../../src/notation/index.js';
import { selfSignedSigner } from '../../helpers/pki.js';

const signer = await selfSignedSigner('dates.example');

/** A JWS envelope (unsigned: parsing does not check the signature) with this expiry. */
function envelopeWithExpiry(expiry: string, signingTime = '2026-01-01T00:00:00Z'): Buffer {
  const header = {
    alg: 'ES256',
    crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'],
    cty: 'application/vnd.cncf.notary.payload.v1+json',
    'io.cncf.notary.expiry': expiry,
    'io.cncf.notary.signingScheme': 'notary.x509',
    'io.cncf.notary.signingTime': signingTime,
  };
  const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64url');
  return Buffer.from(
    JSON.stringify({
      payload: b64('{}'),
      protected: b64(JSON.stringify(header)),
      header: { x5c: [signer.cert.der.toString('base64')] },
      signature: b64(Buffer.alloc(64)),
    }),
  );
}

const parse = (envelope: Buffer) => parseNotationEnvelope(envelope, NotationMediaTypes.jws);

describe('Notary Project JWS: impossible dates', () => {
  it('reads real dates exactly, offsets included', () => {
    for (const [text, iso] of [
      ['2027-02-28T00:00:00Z', '2027-02-28T00:00:00.000Z'],
      ['2028-02-29T23:59:59Z', '2028-02-29T23:59:59.000Z'],
      ['2400-02-29T12:00:00+01:30', '2400-02-29T10:30:00.000Z'],
      ['2027-04-30T00:00:00.5-23:59', '2027-04-30T23:59:00.500Z'],
      ['2027-12-31t23:59:59z', '2027-12-31T23:59:59.000Z'],
    ] as const) {
      assert.equal(parse(envelopeWithExpiry(text)).expiry?.toISOString(), iso, text);
    }
  });

  for (const text of [
    '2027-02-30T00:00:00Z',
    '2027-02-29T00:00:00Z',
    '2100-02-29T00:00:00Z',
    '2027-04-31T00:00:00Z',
    '2027-06-31T00:00:00Z',
    '2027-13-01T00:00:00Z',
    '2027-00-10T00:00:00Z',
    '2027-01-00T00:00:00Z',
    '2027-01-01T24:00:00Z',
    '2027-01-01T23:60:00Z',
    '2027-01-01T23:59:60Z',
    '2027-01-01T00:00:00+24:00',
    '2027-01-01T00:00:00+23:60',
    '2027-01-01T00:00:00',
    '2027-01-01 00:00:00Z',
    '2027-1-01T00:00:00Z',
  ]) {
    it(`refuses ${text}`, () => {
      assert.throws(
        () => parse(envelopeWithExpiry(text)),
        (err: unknown) => {
          assert.ok(err instanceof VerificationFailedError, String(err));
          assert.equal(err.code, 'NV2_ERR_SIGNATURE_MALFORMED');
          return true;
        },
      );
    });
  }

  it('refuses an impossible signing time as well', () => {
    assert.throws(() => parse(envelopeWithExpiry('2027-03-01T00:00:00Z', '2026-02-29T00:00:00Z')), {
      code: 'NV2_ERR_SIGNATURE_MALFORMED',
    });
  });
});
