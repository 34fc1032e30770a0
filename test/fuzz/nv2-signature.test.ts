/**
 * Property-based tests of the nv2 compact JWS reader: every input parses or is refused with a
 * typed error (never a plain exception), and no change to the signed bytes of a valid
 * signature verifies. See fuzz.ts for replaying a failure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { Nv2Error } from '../../src/errors.js';
import { parseSignature, sign } from '../../src/signature/index.js';
import { TrustSet, verify } from '../../src/trust/index.js';
import { SAMPLE, SAMPLE_SUBJECT } from '../helpers/fixtures.js';
import { NOW, craftJws, selfSignedSigner, x5cOf } from '../helpers/pki.js';
import { anyText, fuzzParameters, mutateBytes, mutateText, parsesOrRefuses } from './fuzz.js';

const signer = await selfSignedSigner('registry.example.com');
const trust = new TrustSet({ certificates: [signer.cert] });
const GOOD = sign(
  SAMPLE.descriptor,
  { key: signer.key, certificateChain: [signer.cert.der] },
  { now: NOW, references: ['registry.example.com/app:v1'], expiresIn: 3600 },
);
const [GOOD_HEADER, GOOD_CLAIMS, GOOD_SIGNATURE] = GOOD.split('.') as [string, string, string];
const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Claim values of every kind: plausible, edge and absurd. */
const claimValue = fc.oneof(
  fc.constantFrom(
    SAMPLE.descriptor.digest,
    SAMPLE.descriptor.mediaType,
    SAMPLE.descriptor.size,
    'registry.example.com/app:v1',
    1e13,
    -1e13,
    8.64e12,
    Number.MAX_SAFE_INTEGER,
  ),
  fc.double(),
  fc.integer(),
  anyText(40),
  fc.array(anyText(40), { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 2 }),
);

const headerArb = fc.record(
  {
    typ: fc.oneof(fc.constant('x509'), claimValue),
    alg: fc.oneof(fc.constantFrom('ES256', 'RS256', 'PS512', 'none', 'HS256'), claimValue),
    x5c: fc.oneof(fc.constant(x5cOf(signer)), fc.array(anyText(60), { maxLength: 3 }), claimValue),
    kid: claimValue,
    crit: fc.oneof(fc.constant(['alg']), fc.array(anyText(8), { maxLength: 3 }), claimValue),
  },
  { requiredKeys: [] },
);

const claimsArb = fc.record(
  {
    mediaType: claimValue,
    digest: claimValue,
    size: claimValue,
    references: fc.oneof(fc.array(claimValue, { maxLength: 3 }), claimValue),
    iat: claimValue,
    nbf: claimValue,
    exp: claimValue,
  },
  { requiredKeys: [] },
);

describe('fuzz: nv2 compact JWS', () => {
  it('any text parses or is refused with a typed error', () => {
    fc.assert(
      fc.property(anyText(300), (text) => parsesOrRefuses(() => parseSignature(text))),
      fuzzParameters(5000),
    );
  });

  it('a valid signature changed at one place, as text or bytes', () => {
    fc.assert(
      fc.property(mutateText(GOOD), (text) => parsesOrRefuses(() => parseSignature(text))),
      fuzzParameters(10000),
    );
    fc.assert(
      fc.property(mutateBytes(Buffer.from(GOOD)), (bytes) =>
        parsesOrRefuses(() => parseSignature(bytes)),
      ),
      fuzzParameters(5000),
    );
  });

  it('well-formed segments holding any header and claims', () => {
    fc.assert(
      fc.property(
        headerArb,
        claimsArb,
        fc.uint8Array({ maxLength: 80 }),
        (header, claims, signature) =>
          parsesOrRefuses(() =>
            parseSignature(
              `${b64(header)}.${b64(claims)}.${Buffer.from(signature).toString('base64url')}`,
            ),
          ),
      ),
      fuzzParameters(10000),
    );
  });

  it('any header and claims signed by a trusted key verify or are refused with a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(claimsArb, async (claims) => {
        const jws = craftJws({ typ: 'x509', alg: 'ES256', x5c: x5cOf(signer) }, claims, signer.key);
        try {
          await verify(jws, SAMPLE_SUBJECT, trust, { now: NOW });
        } catch (err) {
          if (!(err instanceof Nv2Error)) throw err;
        }
      }),
      fuzzParameters(1500),
    );
  });

  it('no change to the signed bytes verifies', async () => {
    await verify(GOOD, SAMPLE_SUBJECT, trust, { now: NOW });
    const signedText = `${GOOD_HEADER}.${GOOD_CLAIMS}`;
    const changed = fc.oneof(
      // The signing input changed as text …
      mutateText(signedText).map((input) => `${input}.${GOOD_SIGNATURE}`),
      // … or the header or claims changed as bytes and re-encoded strictly.
      mutateBytes(Buffer.from(GOOD_HEADER, 'base64url')).map(
        (h) => `${h.toString('base64url')}.${GOOD_CLAIMS}.${GOOD_SIGNATURE}`,
      ),
      mutateBytes(Buffer.from(GOOD_CLAIMS, 'base64url')).map(
        (c) => `${GOOD_HEADER}.${c.toString('base64url')}.${GOOD_SIGNATURE}`,
      ),
    );
    await fc.assert(
      fc.asyncProperty(changed, async (jws) => {
        fc.pre(jws !== GOOD);
        await assert.rejects(verify(jws, SAMPLE_SUBJECT, trust, { now: NOW }), (err: unknown) => {
          assert.ok(err instanceof Nv2Error, `not a typed error: ${String(err)}`);
          return true;
        });
      }),
      fuzzParameters(3000),
    );
  });
});
