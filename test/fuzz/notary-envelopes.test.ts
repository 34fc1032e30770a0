/**
 * Property-based tests of the Notary Project envelope readers (JWS JSON and COSE_Sign1) and
 * of their description for `nv2 inspect`: every input parses or is refused with a typed
 * error, and no change to a valid envelope's signed bytes verifies. See fuzz.ts for replay.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tag, decode, encode } from 'cbor2';
import * as fc from 'fast-check';
import { InvalidInputError, Nv2Error } from '../../src/errors.js';
import {
  NotationMediaTypes,
  describeNotationEnvelope,
  encodeCoseSign1,
  parseNotationEnvelope,
  signNotation,
  verifyEnvelopeSignature,
} from '../../src/notation/index.js';
import { createDescriptor } from '../../src/oci/index.js';
import { SAMPLE_MANIFEST } from '../helpers/fixtures.js';
import { issuedSigner, rootCA } from '../helpers/pki.js';
import { anyText, fuzzParameters, mutateBytes, mutateText, parsesOrRefuses } from './fuzz.js';

const root = await rootCA('Fuzz Root');
const signer = await issuedSigner(root, 'fuzz signer');
const SUBJECT = createDescriptor('application/vnd.oci.image.manifest.v1+json', SAMPLE_MANIFEST);
function signed(format: 'jws' | 'cose'): Buffer {
  return signNotation({
    format,
    key: signer.key,
    certificateChain: [signer.cert, root.cert],
    descriptor: SUBJECT,
    userMetadata: { build: '42' },
    expiry: new Date(Date.now() + 86400_000),
  }).envelope;
}
const JWS = signed('jws');
const COSE = signed('cose');
const { jws: JWS_TYPE, cose: COSE_TYPE } = NotationMediaTypes;

/** Parse and describe (the inspect path) both end in a value or a typed error. */
function readBoth(bytes: Uint8Array, mediaType: string): void {
  parsesOrRefuses(() => parseNotationEnvelope(bytes, mediaType));
  parsesOrRefuses(() => describeNotationEnvelope(bytes, mediaType), [InvalidInputError]);
}

/** Header values of every kind, Notary Project names included. */
const headerValue = fc.oneof(
  fc.constantFrom(
    'notary.x509',
    'notary.x509.signingAuthority',
    'application/vnd.cncf.notary.payload.v1+json',
    '2027-02-28T00:00:00Z',
    '2027-02-30T00:00:00Z',
    'ES256',
    ['io.cncf.notary.signingScheme'],
  ),
  fc.jsonValue({ maxDepth: 2 }),
  anyText(30),
);
const headerName = fc.constantFrom(
  'alg',
  'crit',
  'cty',
  'io.cncf.notary.signingScheme',
  'io.cncf.notary.signingTime',
  'io.cncf.notary.authenticSigningTime',
  'io.cncf.notary.expiry',
  'io.cncf.notary.verificationPlugin',
  'io.cncf.notary.verificationPluginMinVersion',
  'x',
);
const headerArb = fc.dictionary(headerName, headerValue, { maxKeys: 8 });

/** CBOR values of every kind: what a COSE header or structure could hold. */
const cborValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.double(),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    anyText(20),
    fc.uint8Array({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
    fc.tuple(fc.constantFrom(0, 1, 18, 24, 32), tie('value')).map(([t, v]) => new Tag(t, v)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc
      .array(fc.tuple(fc.oneof(fc.integer({ min: -3, max: 40 }), headerName), tie('value')), {
        maxLength: 5,
      })
      .map((entries) => new Map(entries)),
  ),
})).value;

describe('fuzz: Notary Project JWS envelopes', () => {
  it('a valid envelope changed at one place', () => {
    const text = JWS.toString('utf8');
    fc.assert(
      fc.property(mutateText(text), (changed) => readBoth(Buffer.from(changed, 'utf8'), JWS_TYPE)),
      fuzzParameters(3000),
    );
  });

  it('any protected header, payload and unprotected header', () => {
    const envelope = JSON.parse(JWS.toString('utf8')) as Record<string, unknown>;
    const b64 = (v: unknown): string =>
      Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
    fc.assert(
      fc.property(
        headerArb,
        fc.oneof(fc.constant(envelope['payload'] as string), fc.jsonValue().map(b64)),
        fc.oneof(fc.constant(envelope['header']), fc.jsonValue({ maxDepth: 2 })),
        (header, payload, unprotected) =>
          readBoth(
            Buffer.from(
              JSON.stringify({ ...envelope, protected: b64(header), payload, header: unprotected }),
            ),
            JWS_TYPE,
          ),
      ),
      fuzzParameters(2500),
    );
  });

  it('any JSON, and any bytes', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) =>
        readBoth(Buffer.from(JSON.stringify(value)), JWS_TYPE),
      ),
      fuzzParameters(2000),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => readBoth(bytes, JWS_TYPE)),
      fuzzParameters(2000),
    );
  });

  it('no change to the protected header or payload verifies', () => {
    verifyEnvelopeSignature(parseNotationEnvelope(JWS, JWS_TYPE));
    const envelope = JSON.parse(JWS.toString('utf8')) as Record<string, string>;
    const changed = fc.oneof(
      ...(['protected', 'payload'] as const).flatMap((member) => [
        mutateText(envelope[member]!).map((v) => ({ ...envelope, [member]: v })),
        mutateBytes(Buffer.from(envelope[member]!, 'base64url')).map((v) => ({
          ...envelope,
          [member]: v.toString('base64url'),
        })),
      ]),
    );
    fc.assert(
      fc.property(changed, (value) => {
        const bytes = Buffer.from(JSON.stringify(value));
        fc.pre(!bytes.equals(Buffer.from(JSON.stringify(envelope))));
        assert.throws(
          () => verifyEnvelopeSignature(parseNotationEnvelope(bytes, JWS_TYPE)),
          (err: unknown) => err instanceof Nv2Error,
        );
      }),
      fuzzParameters(1000),
    );
  });
});

describe('fuzz: Notary Project COSE envelopes', () => {
  it('a valid envelope changed at one place', () => {
    fc.assert(
      fc.property(mutateBytes(COSE), (changed) => readBoth(changed, COSE_TYPE)),
      fuzzParameters(3000),
    );
  });

  it('any CBOR in the structure and the headers', () => {
    const [protectedBytes, unprotected, payload, signature] = (decode(COSE) as Tag)
      .contents as unknown[];
    fc.assert(
      fc.property(
        fc.oneof(
          cborValue,
          fc.array(fc.constantFrom(protectedBytes, unprotected, payload, signature), {
            maxLength: 5,
          }),
        ),
        (value) => readBoth(encode(new Tag(18, value)), COSE_TYPE),
      ),
      fuzzParameters(1000),
    );
    fc.assert(
      fc.property(
        fc.dictionary(headerName, cborValue, { maxKeys: 6 }),
        cborValue,
        (header, anyUnprotected) => {
          const protectedMap = new Map<unknown, unknown>([
            [1, -7],
            [2, ['io.cncf.notary.signingScheme']],
            [3, 'application/vnd.cncf.notary.payload.v1+json'],
            ['io.cncf.notary.signingScheme', 'notary.x509'],
            ['io.cncf.notary.signingTime', new Tag(1, 1_800_000_000)],
            ...Object.entries(header),
          ]);
          const body = [new Uint8Array(encode(protectedMap)), unprotected, payload, signature];
          readBoth(encode(new Tag(18, body)), COSE_TYPE);
          readBoth(encode(new Tag(18, [body[0], anyUnprotected, payload, signature])), COSE_TYPE);
        },
      ),
      fuzzParameters(1000),
    );
  });

  it('no change to the protected header or payload verifies', () => {
    verifyEnvelopeSignature(parseNotationEnvelope(COSE, COSE_TYPE));
    const [protectedBytes, unprotected, payload, signature] = (decode(COSE) as Tag).contents as [
      Uint8Array,
      Map<unknown, unknown>,
      Uint8Array,
      Uint8Array,
    ];
    const changed = fc.oneof(
      mutateBytes(protectedBytes).map((p) => encodeCoseSign1(p, unprotected, payload, signature)),
      mutateBytes(payload).map((p) => encodeCoseSign1(protectedBytes, unprotected, p, signature)),
    );
    fc.assert(
      fc.property(changed, (bytes) => {
        fc.pre(!bytes.equals(COSE));
        assert.throws(
          () => verifyEnvelopeSignature(parseNotationEnvelope(bytes, COSE_TYPE)),
          (err: unknown) => err instanceof Nv2Error,
        );
      }),
      fuzzParameters(1000),
    );
  });
});
