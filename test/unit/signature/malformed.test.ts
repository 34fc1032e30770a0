/**
 * Malformed signatures of every kind are refused with a typed error (VerificationFailedError
 * carrying an NV2_ERR_SIGNATURE_* code), by `parseSignature` and by `verify`, and never crash.
 * Where a lenient decoder would read the same bytes (base64 whitespace, padding, spare bits),
 * the malformed input is otherwise a valid signature, so the refusal is the strictness itself.
 */
import assert from 'node:assert/strict';
import { randomBytes, sign as cryptoSign } from 'node:crypto';
import { describe, it } from 'node:test';
import { type Nv2ErrorCode, VerificationFailedError } from '../../../src/errors.js';
import {
  MAX_REFERENCES,
  MAX_SIGNATURE_BYTES,
  MAX_X5C_ENTRIES,
  parseSignature,
  sign,
} from '../../../src/signature/index.js';
import { TrustSet, verify } from '../../../src/trust/index.js';
import { SAMPLE, SAMPLE_SUBJECT } from '../../helpers/fixtures.js';
import {
  NOW,
  type TestIdentity,
  craftJws,
  intermediateCA,
  issuedSigner,
  jwsSignature,
  rootCA,
  segment,
  selfSignedSigner,
  x5cOf,
} from '../../helpers/pki.js';

const MALFORMED = 'NV2_ERR_SIGNATURE_MALFORMED';
const CLAIMS = {
  mediaType: SAMPLE.descriptor.mediaType,
  digest: SAMPLE.descriptor.digest,
  size: SAMPLE.descriptor.size,
};
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const signer = await selfSignedSigner('registry.example.com');
const p384 = await selfSignedSigner('registry.example.com', { keyType: 'ec-p384' });
const p521 = await selfSignedSigner('registry.example.com', { keyType: 'ec-p521' });
const trust = new TrustSet({ certificates: [signer.cert, p384.cert, p521.cert] });
const HEADER = { typ: 'x509', alg: 'ES256', x5c: x5cOf(signer) };
/** A valid signature; every malformed input below is derived from it or made like it. */
const GOOD = sign(
  SAMPLE.descriptor,
  { key: signer.key, certificateChain: [signer.cert.der] },
  { now: NOW, references: ['registry.example.com/app:v1'] },
);
const [GOOD_HEADER, GOOD_CLAIMS, GOOD_SIGNATURE] = GOOD.split('.') as [string, string, string];

function checkError(code: Nv2ErrorCode | RegExp): (err: unknown) => true {
  return (err: unknown) => {
    assert.ok(err instanceof VerificationFailedError, `not a VerificationFailedError: ${err}`);
    if (typeof code === 'string') assert.equal(err.code, code);
    else assert.match(err.code, code);
    return true;
  };
}

function verifyNow(input: string | Uint8Array): Promise<unknown> {
  return verify(input, SAMPLE_SUBJECT, trust, { now: NOW });
}

/** Refused by parseSignature and by verify, with `code`. */
async function assertRefused(
  input: string | Uint8Array,
  code: Nv2ErrorCode = MALFORMED,
): Promise<void> {
  assert.throws(() => parseSignature(input), checkError(code));
  await assert.rejects(verifyNow(input), checkError(code));
}

/** `base` with part `index` (0 header, 1 claims, 2 signature) replaced. */
function withPart(index: 0 | 1 | 2, replacement: string, base = GOOD): string {
  const parts = base.split('.');
  parts[index] = replacement;
  return parts.join('.');
}

/** A signature over claims given as raw JSON text (for values JSON.stringify cannot write). */
function signRawClaims(claimsJson: string | Uint8Array, header: object = HEADER): string {
  return craftJws(header, Buffer.from(claimsJson), signer.key);
}

describe('malformed signatures: overall shape', () => {
  it('accepts the well-formed signature these cases are made from', async () => {
    parseSignature(GOOD);
    await verifyNow(GOOD);
  });

  for (const input of ['', ' ', '\n', '\r\n', '\t \n ']) {
    it(`refuses ${JSON.stringify(input)} (empty or whitespace only)`, async () => {
      await assertRefused(input);
      await assertRefused(Buffer.from(input));
    });
  }

  const wrongCounts: [string, string][] = [
    ['1 part', GOOD_HEADER],
    ['1 part (header.claims.signature without dots)', GOOD.replaceAll('.', '')],
    ['2 parts', `${GOOD_HEADER}.${GOOD_CLAIMS}`],
    ['4 parts', `${GOOD}.${GOOD_SIGNATURE}`],
    ['4 parts, the last empty', `${GOOD}.`],
    ['5 parts', `${GOOD}.${GOOD_CLAIMS}.${GOOD_SIGNATURE}`],
    [
      'JWS JSON serialization',
      JSON.stringify({ protected: GOOD_HEADER, payload: GOOD_CLAIMS, signature: GOOD_SIGNATURE }),
    ],
  ];
  for (const [name, input] of wrongCounts) {
    it(`refuses ${name}`, async () => {
      await assertRefused(input);
    });
  }

  const emptyParts: [string, string][] = [
    ['all parts empty', '..'],
    ['empty header', `.${GOOD_CLAIMS}.${GOOD_SIGNATURE}`],
    ['empty claims (a detached payload)', `${GOOD_HEADER}..${GOOD_SIGNATURE}`],
    ['empty signature', `${GOOD_HEADER}.${GOOD_CLAIMS}.`],
  ];
  for (const [name, input] of emptyParts) {
    it(`refuses ${name}`, async () => {
      await assertRefused(input);
    });
  }

  for (const [name, ending] of [
    ['a trailing newline', '\n'],
    ['a trailing CRLF', '\r\n'],
    ['several trailing newlines and spaces', ' \n\n'],
  ]) {
    it(`accepts ${name}, as a string and as bytes`, async () => {
      assert.equal(parseSignature(GOOD + ending).compact, GOOD);
      await verifyNow(GOOD + ending);
      await verifyNow(Buffer.from(GOOD + ending));
    });
  }

  it('refuses a signature with leading whitespace', async () => {
    await assertRefused(` ${GOOD}`);
  });
});

describe('malformed signatures: size limits', () => {
  it('refuses a 10 MB garbage buffer as too large', async () => {
    await assertRefused(randomBytes(10 * 1024 * 1024), 'NV2_ERR_SIGNATURE_TOO_LARGE');
  });

  it('refuses a 10 MB string as too large', async () => {
    await assertRefused('A'.repeat(10 * 1024 * 1024), 'NV2_ERR_SIGNATURE_TOO_LARGE');
  });

  it('refuses one byte over the limit, even of trailing whitespace, and accepts the limit', async () => {
    const atLimit = GOOD + ' '.repeat(MAX_SIGNATURE_BYTES - GOOD.length);
    await verifyNow(atLimit);
    await assertRefused(`${atLimit} `, 'NV2_ERR_SIGNATURE_TOO_LARGE');
    await assertRefused(Buffer.from(`${atLimit} `), 'NV2_ERR_SIGNATURE_TOO_LARGE');
  });
});

describe('malformed signatures: base64url', () => {
  /**
   * A valid signature with `char` in its ECDSA signature part, where a lenient decoder would
   * read `+` as `-` and `/` as `_` (ECDSA signatures are randomized: sign until one has it).
   */
  function signatureWith(char: '-' | '_'): string {
    for (let i = 0; i < 1000; i++) {
      const jws = craftJws(HEADER, CLAIMS, signer.key);
      if (jws.split('.')[2]!.includes(char)) return jws;
    }
    throw new Error(`no signature with ${char}`);
  }

  for (const [char, replacement] of [
    ['-', '+'],
    ['_', '/'],
  ] as const) {
    it(`refuses '${replacement}' in place of '${char}' (standard, not URL-safe, alphabet)`, async () => {
      const jws = signatureWith(char);
      await verifyNow(jws);
      const altered = withPart(2, jws.split('.')[2]!.replaceAll(char, replacement), jws);
      await assertRefused(altered);
    });
  }

  for (const index of [0, 1, 2] as const) {
    const part = GOOD.split('.')[index]!;
    const name = ['header', 'claims', 'signature'][index]!;

    it(`refuses padding on the ${name}`, async () => {
      const padding = '='.repeat((4 - (part.length % 4)) % 4 || 1);
      await assertRefused(withPart(index, part + padding));
      await assertRefused(withPart(index, `${part}==`));
    });

    it(`refuses whitespace inside the ${name}`, async () => {
      const mid = Math.floor(part.length / 2);
      for (const ws of [' ', '\n', '\t', '\r\n']) {
        await assertRefused(withPart(index, part.slice(0, mid) + ws + part.slice(mid)));
      }
    });

    it(`refuses characters outside base64url in the ${name}`, async () => {
      for (const bad of ['!', '\u00e9', '\0', '%3D', '*']) {
        await assertRefused(withPart(index, bad + part));
      }
    });
  }

  /**
   * A valid signature whose part `index` is a multiple of 4 characters long, made so by an
   * ignored filler parameter (header, claims) or by ES512 (132 bytes: 176 characters).
   */
  function alignedSignature(index: 0 | 1 | 2): string {
    if (index === 2)
      return craftJws({ ...HEADER, alg: 'ES512', x5c: x5cOf(p521) }, CLAIMS, p521.key);
    for (let filler = ''; ; filler += 'x') {
      const jws =
        index === 0
          ? craftJws({ ...HEADER, filler }, CLAIMS, signer.key)
          : craftJws(HEADER, { ...CLAIMS, filler }, signer.key);
      if (jws.split('.')[index]!.length % 4 === 0) return jws;
    }
  }

  for (const index of [0, 1, 2] as const) {
    it(`refuses a ${['header', 'claims', 'signature'][index]} whose length is 1 mod 4`, async () => {
      // A lenient decoder drops the lone last character and reads the same bytes.
      const jws = alignedSignature(index);
      await verifyNow(jws);
      const part = jws.split('.')[index]!;
      assert.deepEqual(Buffer.from(`${part}A`, 'base64url'), Buffer.from(part, 'base64url'));
      await assertRefused(withPart(index, `${part}A`, jws));
    });
  }

  it('refuses non-canonical trailing bits (a second spelling of the same bytes)', async () => {
    let tested = 0;
    for (const index of [0, 1, 2] as const) {
      const part = GOOD.split('.')[index]!;
      if (part.length % 4 === 0) continue;
      const last = BASE64URL.indexOf(part.at(-1)!);
      const altered = part.slice(0, -1) + BASE64URL[last + 1]!;
      assert.deepEqual(Buffer.from(altered, 'base64url'), Buffer.from(part, 'base64url'));
      await assertRefused(withPart(index, altered));
      tested++;
    }
    // An ES256 signature is 64 bytes: 86 characters, with 4 spare bits.
    assert.ok(tested >= 1);
  });
});

describe('malformed signatures: JSON', () => {
  const notJson: [string, string | Uint8Array][] = [
    ['text', 'not json'],
    ['truncated JSON', '{"typ":"x509"'],
    ['JSON followed by garbage', '{"typ":"x509"}garbage'],
    ['two JSON objects', '{}{}'],
    ['single-quoted JSON', "{'typ':'x509'}"],
  ];
  const notObjects: [string, string][] = [
    ['an array', JSON.stringify([HEADER])],
    ['null', 'null'],
    ['a number', '42'],
    ['a string', JSON.stringify('x509')],
    ['true', 'true'],
    ['an empty array', '[]'],
  ];
  for (const [name, content] of [...notJson, ...notObjects]) {
    it(`refuses a header that is ${name}`, async () => {
      await assertRefused(withPart(0, segment(content)));
    });
    it(`refuses claims that are ${name}`, async () => {
      await assertRefused(craftJws(HEADER, Buffer.from(content), signer.key));
    });
  }

  it('refuses claims that are not UTF-8, even in an ignored claim', async () => {
    const prefix = JSON.stringify({ ...CLAIMS, note: '' }).slice(0, -2);
    for (const bytes of [
      [0xff, 0xfe],
      [0xc0, 0xaf], // overlong '/'
      [0xed, 0xa0, 0x80], // a UTF-16 surrogate encoded in UTF-8
      [0xe2, 0x82], // truncated sequence
    ]) {
      const claims = Buffer.concat([Buffer.from(prefix), Buffer.from(bytes), Buffer.from('"}')]);
      await assertRefused(signRawClaims(claims));
    }
    // The same claims with valid UTF-8 verify: only the encoding is at fault.
    await verifyNow(signRawClaims(`${prefix}\u00e9"}`));
  });

  it('refuses a header that is not UTF-8', async () => {
    const prefix = JSON.stringify({ ...HEADER, note: '' }).slice(0, -2);
    const header = Buffer.concat([Buffer.from(prefix), Buffer.from([0xff]), Buffer.from('"}')]);
    const input = `${segment(header)}.${segment(CLAIMS)}`;
    const sig = jwsSignature('ES256', signer.key, Buffer.from(input, 'latin1'));
    await assertRefused(`${input}.${sig.toString('base64url')}`);
  });

  it('refuses input bytes that are not UTF-8 (and not base64url)', async () => {
    await assertRefused(Buffer.concat([Buffer.from([0xff, 0xfe, 0x80]), Buffer.from(GOOD)]));
    await assertRefused(
      Buffer.concat([
        Buffer.from(GOOD_HEADER),
        Buffer.from([0xc3]),
        Buffer.from(GOOD.slice(GOOD_HEADER.length)),
      ]),
    );
  });

  it('refuses deeply nested JSON without crashing', async () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    await assertRefused(withPart(0, segment(deep)));
  });
});

describe('malformed signatures: x5c', async () => {
  const root = await rootCA('Malformed Root');
  const intermediate = await intermediateCA(root, 'Malformed Intermediate');
  const leaf = await issuedSigner(intermediate, 'registry.example.com');
  const chainTrust = new TrustSet({ roots: [root.cert] });

  function x5cJws(x5c: unknown, key = signer.key): string {
    return craftJws({ typ: 'x509', alg: 'ES256', x5c }, CLAIMS, key);
  }

  it('refuses 1000 entries by their count, before decoding any', async () => {
    const entries = Array.from({ length: 1000 }, () => 'AAAA');
    const jws = x5cJws(entries);
    assert.ok(jws.length < MAX_SIGNATURE_BYTES, 'the header fits in the size limit');
    await assertRefused(jws);
    // Each entry alone decodes; only their number is at fault.
    parseSignature(x5cJws(entries.slice(0, MAX_X5C_ENTRIES)));
  });

  it(`accepts ${MAX_X5C_ENTRIES} entries to parse and refuses ${MAX_X5C_ENTRIES + 1}`, async () => {
    const full: string[] = new Array<string>(MAX_X5C_ENTRIES).fill(x5cOf(signer)[0]!);
    assert.equal(parseSignature(x5cJws(full)).x5cDer.length, MAX_X5C_ENTRIES);
    await assertRefused(x5cJws([...full, full[0]!]));
  });

  it('refuses an x5c that is not a non-empty array of strings', async () => {
    for (const x5c of [
      [],
      x5cOf(signer)[0],
      { 0: x5cOf(signer)[0] },
      null,
      42,
      [42],
      [null],
      [[x5cOf(signer)[0]]],
    ]) {
      await assertRefused(x5cJws(x5c));
    }
  });

  it('refuses entries that are not standard padded base64', async () => {
    const b64 = x5cOf(signer)[0]!;
    const candidates = [
      'not base64!',
      '',
      'AAA', // unpadded
      'AB==', // non-canonical spare bits
      'A===',
      Buffer.from(signer.cert.der).toString('base64url'),
      b64.replace(/=+$/, '') + (b64.endsWith('=') ? '' : 'A'),
      `${b64.slice(0, 64)}\n${b64.slice(64)}`, // PEM-style line break
      ` ${b64}`,
      `${b64}=`,
    ];
    for (const entry of candidates) {
      await assertRefused(x5cJws([entry]));
    }
  });

  it('refuses a non-canonical spelling of a real certificate', async () => {
    // Two in three certificates end in padding; mint until one does.
    let padded: TestIdentity = signer;
    for (let i = 0; i < 30 && !x5cOf(padded)[0]!.endsWith('='); i++) {
      padded = await selfSignedSigner('registry.example.com');
    }
    assert.ok(x5cOf(padded)[0]!.endsWith('='), 'a certificate with a padded encoding');
    const paddedTrust = new TrustSet({ certificates: [padded.cert] });
    const b64 = x5cOf(padded)[0]!;
    const unpadded = b64.replace(/=+$/, '');
    const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const altered =
      unpadded.slice(0, -1) + STD[STD.indexOf(unpadded.at(-1)!) + 1]! + b64.slice(unpadded.length);
    assert.deepEqual(Buffer.from(altered, 'base64'), padded.cert.der);
    await verify(x5cJws([b64], padded.key), SAMPLE_SUBJECT, paddedTrust, { now: NOW });
    const jws = x5cJws([altered], padded.key);
    assert.throws(() => parseSignature(jws), checkError(MALFORMED));
    await assert.rejects(
      verify(jws, SAMPLE_SUBJECT, paddedTrust, { now: NOW }),
      checkError(MALFORMED),
    );
  });

  it('refuses, at verification, entries that decode but are not certificates', async () => {
    const notCertificates = [
      'AAAA',
      randomBytes(300).toString('base64'),
      Buffer.from(signer.certPem).toString('base64'),
      signer.cert.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      signer.cert.der.subarray(0, signer.cert.der.length - 10).toString('base64'),
    ];
    for (const entry of notCertificates) {
      const jws = x5cJws([entry]);
      parseSignature(jws);
      await assert.rejects(verifyNow(jws), checkError(MALFORMED));
    }
  });

  it('refuses, at verification, an intermediate entry that is not a certificate', async () => {
    const jws = craftJws(
      { typ: 'x509', alg: 'ES256', x5c: [...x5cOf(leaf), 'AAAA'] },
      CLAIMS,
      leaf.key,
    );
    const good = craftJws(
      { typ: 'x509', alg: 'ES256', x5c: x5cOf(leaf, intermediate) },
      CLAIMS,
      leaf.key,
    );
    await verify(good, SAMPLE_SUBJECT, chainTrust, { now: NOW });
    await assert.rejects(
      verify(jws, SAMPLE_SUBJECT, chainTrust, { now: NOW }),
      checkError(MALFORMED),
    );
  });

  it('refuses a certificate entry with bytes after its DER encoding', async () => {
    // A signer-chosen second spelling of the same certificate: DER is exact, so this is not one.
    const jws = craftJws(
      {
        typ: 'x509',
        alg: 'ES256',
        x5c: [
          Buffer.concat([leaf.cert.der, Buffer.from([0])]).toString('base64'),
          ...x5cOf(intermediate),
        ],
      },
      CLAIMS,
      leaf.key,
    );
    await assert.rejects(
      verify(jws, SAMPLE_SUBJECT, chainTrust, { now: NOW }),
      checkError(MALFORMED),
    );
  });
});

describe('malformed signatures: claims', () => {
  for (const field of ['mediaType', 'digest', 'size'] as const) {
    it(`refuses claims without ${field}`, async () => {
      const claims: Record<string, unknown> = { ...CLAIMS };
      delete claims[field];
      await assertRefused(craftJws(HEADER, claims, signer.key));
    });
  }

  const bad: [string, Record<string, unknown>][] = [
    ['mediaType not a media type', { mediaType: 'manifest' }],
    ['mediaType empty', { mediaType: '' }],
    ['mediaType a number', { mediaType: 1 }],
    ['mediaType with parameters', { mediaType: `${CLAIMS.mediaType}; charset=utf-8` }],
    [
      'digest with upper-case hex',
      { digest: CLAIMS.digest.toUpperCase().replace('SHA256', 'sha256') },
    ],
    ['digest too short', { digest: CLAIMS.digest.slice(0, -1) }],
    ['digest too long', { digest: `${CLAIMS.digest}0` }],
    ['digest sha256 with 128 hex digits', { digest: `sha256:${'0'.repeat(128)}` }],
    ['digest of an unsupported algorithm', { digest: `sha384:${'0'.repeat(96)}` }],
    ['digest md5', { digest: `md5:${'0'.repeat(32)}` }],
    ['digest without algorithm', { digest: CLAIMS.digest.slice('sha256:'.length) }],
    ['digest not a string', { digest: 42 }],
    ['digest null', { digest: null }],
    ['size negative', { size: -1 }],
    ['size a float', { size: 527.5 }],
    ['size a string', { size: String(CLAIMS.size) }],
    ['size beyond 2^53', { size: 2 ** 53 }],
    ['size null', { size: null }],
    ['size true', { size: true }],
    ['references a string', { references: 'registry.example.com/app:v1' }],
    ['references an object', { references: { 0: 'registry.example.com/app:v1' } }],
    ['references null', { references: null }],
    ['references with a number', { references: [42] }],
    ['references with an empty string', { references: [''] }],
    ['references with an upper-case repository', { references: ['registry.example.com/App:v1'] }],
    ['references with a space', { references: ['registry.example.com/app :v1'] }],
    ['references with a bad digest', { references: ['registry.example.com/app@sha256:abc'] }],
    ['references with a URL', { references: ['https://registry.example.com/app:v1'] }],
    [
      'references with one bad among good',
      { references: ['registry.example.com/app:v1', 'bad ref'] },
    ],
    [
      `more than ${MAX_REFERENCES} references`,
      {
        references: Array.from(
          { length: MAX_REFERENCES + 1 },
          (_, i) => `registry.example.com/app:v${i}`,
        ),
      },
    ],
  ];
  for (const claim of ['iat', 'nbf', 'exp']) {
    for (const value of ['1700000000', null, true, [], {}]) {
      bad.push([`${claim} ${JSON.stringify(value)}`, { [claim]: value }]);
    }
  }
  for (const [name, changes] of bad) {
    it(`refuses ${name}`, async () => {
      await assertRefused(craftJws(HEADER, { ...CLAIMS, ...changes }, signer.key));
    });
  }

  it(`accepts exactly ${MAX_REFERENCES} references to parse`, () => {
    const references = Array.from(
      { length: MAX_REFERENCES },
      (_, i) => `registry.example.com/app:v${i}`,
    );
    assert.equal(
      parseSignature(craftJws(HEADER, { ...CLAIMS, references }, signer.key)).claims.references
        ?.length,
      MAX_REFERENCES,
    );
  });

  it('refuses times and sizes that JSON writes as numbers too large for a double', async () => {
    const base = JSON.stringify(CLAIMS).slice(0, -1);
    for (const extra of [',"exp":1e999', ',"nbf":-1e999', ',"iat":1e400']) {
      await assertRefused(signRawClaims(`${base}${extra}}`));
    }
    await assertRefused(
      signRawClaims(JSON.stringify(CLAIMS).replace(/"size":\d+/, '"size":1e999')),
    );
  });
});

describe('malformed signatures: ECDSA signature length', () => {
  const input = Buffer.from(`${GOOD_HEADER}.${GOOD_CLAIMS}`, 'latin1');

  it('refuses an ES256 signature that is not 64 bytes', async () => {
    const rs = jwsSignature('ES256', signer.key, input);
    for (const sig of [
      rs.subarray(0, 63),
      Buffer.concat([rs, Buffer.from([0])]),
      Buffer.concat([Buffer.from([0]), rs]),
      rs.subarray(0, 32),
      Buffer.alloc(1),
    ]) {
      await assertRefused(withPart(2, sig.toString('base64url')));
    }
  });

  it('refuses a DER-encoded (ASN.1) ECDSA signature over the right input', async () => {
    const der = cryptoSign('sha256', input, signer.key);
    assert.notEqual(der.length, 64);
    await assertRefused(withPart(2, der.toString('base64url')));
  });

  it('refuses ES384 and ES512 signatures of the wrong width', async () => {
    for (const [id, alg, wrong] of [
      [p384, 'ES384', [64, 95, 97, 132]],
      [p521, 'ES512', [128, 130, 131, 133]],
    ] as const) {
      const header = { typ: 'x509', alg, x5c: x5cOf(id) };
      const ok = craftJws(header, CLAIMS, id.key);
      await verifyNow(ok);
      for (const length of wrong) {
        await assertRefused(craftJws(header, CLAIMS, randomBytes(length)));
      }
    }
  });
});

describe('malformed signatures: never a crash', () => {
  it('refuses every proper prefix of a valid signature with a typed error', async () => {
    for (let end = 0; end < GOOD.length; end++) {
      await assert.rejects(verifyNow(GOOD.slice(0, end)), checkError(/^NV2_ERR_SIGNATURE_/));
    }
  });

  it('refuses single-character changes anywhere with a typed error', async () => {
    const replacements = ['A', '_', '.', '=', ' ', '\u00ff'];
    for (let at = 0; at < GOOD.length; at += 7) {
      for (const r of replacements) {
        const changed = GOOD.slice(0, at) + r + GOOD.slice(at + 1);
        if (changed === GOOD) continue;
        await assert.rejects(verifyNow(changed), checkError(/^NV2_ERR_/));
      }
    }
  });
});
