/**
 * Byte-exact encoding conformance with notation-core-go: for the same inputs, nv2's JWS and
 * COSE protected headers, payloads and envelopes are the bytes notation writes.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify as cryptoVerify } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Tag } from 'cbor2';
import { decode, encode } from 'cbor2';
import {
  type SignRequest,
  coseProtectedHeader,
  coseUnprotectedHeader,
  encodeCoseSign1,
  jwsProtectedHeader,
  signJwsEnvelope,
} from '../../../src/notation/index.js';
import { vector } from './helpers.js';

const AGENT = 'NotationConformanceTest/1.0.0';

describe('JWS encoding conformance', () => {
  const expected = JSON.parse(vector('encoding/jws-conformance.json').toString('utf8')) as {
    payload: string;
    protected: string;
    header: Record<string, string>;
  };
  const request: SignRequest = {
    signingScheme: 'notary.x509',
    signingTime: new Date('2022-08-29T13:50:00Z'),
    expiry: new Date('2099-08-30T13:50:00Z'),
    extendedAttributes: [
      { key: 'signedCritKey1', value: 'signedCritValue1', critical: true },
      { key: 'signedKey1', value: 'signedValue1', critical: false },
      { key: 'signedKey2', value: 'signedValue1', critical: false },
      { key: 'signedKey3', value: 'signedValue1', critical: false },
      { key: 'signedKey4', value: 'signedValue1', critical: false },
    ],
    signingAgent: AGENT,
  };

  it('reproduces the protected header byte for byte', () => {
    assert.equal(jwsProtectedHeader(request, 'ES256'), expected.protected);
  });

  it('reproduces payload, protected and unprotected header of a whole envelope; the signature verifies', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const payload = Buffer.from('{"key":"hello JWS"}');
    const envelope = JSON.parse(
      signJwsEnvelope(request, payload, 'ES256', privateKey, []).toString('utf8'),
    ) as {
      payload: string;
      protected: string;
      header: Record<string, unknown>;
      signature: string;
    };
    assert.deepEqual(Object.keys(envelope), ['payload', 'protected', 'header', 'signature']);
    assert.equal(envelope.payload, expected.payload);
    assert.equal(envelope.protected, expected.protected);
    assert.equal(
      envelope.header['io.cncf.notary.signingAgent'],
      expected.header['io.cncf.notary.signingAgent'],
    );
    const input = Buffer.from(`${envelope.protected}.${envelope.payload}`);
    const signature = Buffer.from(envelope.signature, 'base64url');
    assert.equal(signature.byteLength, 64);
    assert.ok(
      cryptoVerify('sha256', input, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature),
    );
  });

  it('orders crit as notation does: scheme, critical attributes, authenticSigningTime, expiry', () => {
    const header = JSON.parse(
      Buffer.from(
        jwsProtectedHeader(
          {
            signingScheme: 'notary.x509.signingAuthority',
            signingTime: new Date('2022-08-29T13:50:00Z'),
            expiry: new Date('2099-08-30T13:50:00Z'),
            extendedAttributes: [{ key: 'k', value: 'v', critical: true }],
          },
          'PS256',
        ),
        'base64url',
      ).toString(),
    ) as { crit: string[] };
    assert.deepEqual(header.crit, [
      'io.cncf.notary.signingScheme',
      'k',
      'io.cncf.notary.authenticSigningTime',
      'io.cncf.notary.expiry',
    ]);
  });
});

describe('COSE encoding conformance', () => {
  const expected = JSON.parse(vector('encoding/cose-conformance.json').toString('utf8')) as {
    signingTime: number;
    expiry: number;
    payload: string;
    protectedHeaders: { cborHex: string };
    unprotectedHeaders: { cborHex: string };
    expectedOutput: { cborHex: string };
  };
  const request: SignRequest = {
    signingScheme: 'notary.x509',
    signingTime: new Date(expected.signingTime * 1000),
    expiry: new Date(expected.expiry * 1000),
    extendedAttributes: [
      { key: 'signedCritKey1', value: 'signedCritValue1', critical: true },
      { key: 'signedKey1', value: 'signedValue1', critical: false },
    ],
    signingAgent: AGENT,
  };
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

  it('reproduces the protected header byte for byte', () => {
    assert.equal(hex(coseProtectedHeader(request, 'PS384')), expected.protectedHeaders.cborHex);
  });

  it('reproduces the unprotected header byte for byte', () => {
    assert.equal(
      hex(encode(coseUnprotectedHeader(request, []), { sortKeys: null })),
      expected.unprotectedHeaders.cborHex,
    );
  });

  it('reproduces the whole COSE_Sign1_Tagged envelope for the same signature bytes', () => {
    const whole = decode(Buffer.from(expected.expectedOutput.cborHex, 'hex')) as Tag;
    const signature = (whole.contents as Uint8Array[])[3]!;
    const envelope = encodeCoseSign1(
      coseProtectedHeader(request, 'PS384'),
      coseUnprotectedHeader(request, []),
      Buffer.from(expected.payload, 'hex'),
      signature,
    );
    assert.equal(hex(envelope), expected.expectedOutput.cborHex);
  });
});
