/**
 * Loading keys and certificates: PEM (PKCS#8, PKCS#1, SEC1, CERTIFICATE chains) and DER;
 * encrypted keys and garbage refused with typed errors.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { InvalidInputError, type Nv2ErrorCode } from '../../../src/errors.js';
import { keysMatch, loadCertificates, loadPrivateKey, parsePem } from '../../../src/x509/index.js';
import { VECTORS_DIR } from '../../helpers/fixtures.js';
import { intermediateCA, issuedSigner, rootCA } from '../../helpers/pki.js';

const CERTS = new URL('notation/certs/', VECTORS_DIR);

function invalid(code: Nv2ErrorCode): (err: unknown) => true {
  return (err: unknown) => {
    assert.ok(err instanceof InvalidInputError, `not an InvalidInputError: ${err}`);
    assert.equal(err.code, code);
    return true;
  };
}

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const crlf = (text: string): string => text.replace(/\r?\n/g, '\r\n');

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const root = await rootCA('PEM Root');
const intermediate = await intermediateCA(root, 'PEM Intermediate');
const leaf = await issuedSigner(intermediate, 'registry.example.com');

describe('loadPrivateKey', () => {
  const formats: [name: string, data: () => Buffer, pair: typeof rsa][] = [
    [
      'PKCS#8 PEM (RSA)',
      () => bytes(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      rsa,
    ],
    [
      'PKCS#8 PEM (EC)',
      () => bytes(p256.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      p256,
    ],
    [
      "PKCS#1 PEM ('RSA PRIVATE KEY')",
      () => bytes(rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()),
      rsa,
    ],
    [
      "SEC1 PEM ('EC PRIVATE KEY', P-256)",
      () => bytes(p256.privateKey.export({ type: 'sec1', format: 'pem' }).toString()),
      p256,
    ],
    [
      "SEC1 PEM ('EC PRIVATE KEY', P-384)",
      () => bytes(p384.privateKey.export({ type: 'sec1', format: 'pem' }).toString()),
      p384,
    ],
    ['PKCS#8 DER', () => p256.privateKey.export({ type: 'pkcs8', format: 'der' }), p256],
    [
      'PKCS#1 PEM with CRLF line endings',
      () => bytes(crlf(rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString())),
      rsa,
    ],
    [
      'SEC1 PEM with CRLF line endings',
      () => bytes(crlf(p256.privateKey.export({ type: 'sec1', format: 'pem' }).toString())),
      p256,
    ],
  ];
  for (const [name, data, pair] of formats) {
    it(`loads ${name} as the same private key`, () => {
      const key = loadPrivateKey(data(), 'key.pem');
      assert.equal(key.type, 'private');
      assert.ok(keysMatch(key, pair.publicKey));
      assert.ok(key.equals(pair.privateKey));
    });
  }

  it('loads the key from a file that also holds certificates and text', () => {
    const text = [
      'Bag Attributes: friendlyName: signer',
      leaf.certPem,
      p256.privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
      intermediate.certPem,
    ].join('\n');
    assert.ok(keysMatch(loadPrivateKey(bytes(text), 'bundle.pem'), p256.publicKey));
  });

  it('loads the pki helper keys and matches them with their certificates', () => {
    for (const id of [root, intermediate, leaf]) {
      const key = loadPrivateKey(bytes(id.keyPem), 'key.pem');
      assert.ok(keysMatch(key, id.cert.publicKey));
      assert.ok(!keysMatch(key, (id === leaf ? root : leaf).cert.publicKey));
    }
  });

  const encrypted: [name: string, pem: () => string][] = [
    [
      "PKCS#8 ('ENCRYPTED PRIVATE KEY')",
      () =>
        p256.privateKey
          .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' })
          .toString(),
    ],
    [
      'legacy PKCS#1 with Proc-Type/DEK-Info headers',
      () =>
        rsa.privateKey
          .export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' })
          .toString(),
    ],
    [
      'legacy SEC1 with Proc-Type/DEK-Info headers',
      () =>
        p256.privateKey
          .export({ type: 'sec1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'secret' })
          .toString(),
    ],
  ];
  for (const [name, pem] of encrypted) {
    it(`refuses an encrypted key: ${name}`, () => {
      assert.throws(() => loadPrivateKey(bytes(pem()), 'key.pem'), invalid('NV2_ERR_INVALID_KEY'));
    });
  }

  const garbage: [name: string, data: () => Uint8Array][] = [
    ['empty input', () => Buffer.alloc(0)],
    ['random bytes', () => randomBytes(256)],
    ['text', () => bytes('this is not a key\n')],
    ['a certificate only', () => bytes(leaf.certPem)],
    [
      'a public key',
      () => bytes(p256.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    ],
    ['public key DER', () => p256.publicKey.export({ type: 'spki', format: 'der' })],
    [
      'a PRIVATE KEY block of garbage',
      () =>
        bytes(
          `-----BEGIN PRIVATE KEY-----\n${randomBytes(120).toString('base64')}\n-----END PRIVATE KEY-----\n`,
        ),
    ],
    [
      'an SEC1 key labelled RSA PRIVATE KEY',
      () =>
        bytes(
          p256.privateKey
            .export({ type: 'sec1', format: 'pem' })
            .toString()
            .replaceAll('EC PRIVATE KEY', 'RSA PRIVATE KEY'),
        ),
    ],
    [
      'a PKCS#1 key labelled EC PRIVATE KEY',
      () =>
        bytes(
          rsa.privateKey
            .export({ type: 'pkcs1', format: 'pem' })
            .toString()
            .replaceAll('RSA PRIVATE KEY', 'EC PRIVATE KEY'),
        ),
    ],
    [
      'a PKCS#8 EC key labelled RSA PRIVATE KEY',
      () =>
        bytes(
          p256.privateKey
            .export({ type: 'pkcs8', format: 'pem' })
            .toString()
            .replaceAll('PRIVATE KEY', 'RSA PRIVATE KEY'),
        ),
    ],
    [
      'a PKCS#8 Ed25519 key labelled EC PRIVATE KEY',
      () =>
        bytes(
          generateKeyPairSync('ed25519')
            .privateKey.export({ type: 'pkcs8', format: 'pem' })
            .toString()
            .replaceAll('PRIVATE KEY', 'EC PRIVATE KEY'),
        ),
    ],
    [
      'a truncated PKCS#8 key',
      () => {
        const pem = p256.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
        const lines = pem.trim().split('\n');
        return bytes([lines[0], lines[1], lines.at(-1)].join('\n'));
      },
    ],
    [
      'mismatched BEGIN/END labels',
      () =>
        bytes(
          p256.privateKey
            .export({ type: 'pkcs8', format: 'pem' })
            .toString()
            .replace('END PRIVATE KEY', 'END EC PRIVATE KEY'),
        ),
    ],
  ];
  for (const [name, data] of garbage) {
    it(`refuses ${name} with NV2_ERR_INVALID_KEY`, () => {
      assert.throws(() => loadPrivateKey(data(), 'key.pem'), invalid('NV2_ERR_INVALID_KEY'));
    });
  }
});

describe('loadCertificates', () => {
  const fingerprints = (certs: readonly { fingerprintSha256: string }[]): string[] =>
    certs.map((c) => c.fingerprintSha256);

  it('loads one PEM certificate', () => {
    const [cert, ...rest] = loadCertificates(bytes(leaf.certPem), 'leaf.pem');
    assert.equal(rest.length, 0);
    assert.ok(cert!.der.equals(leaf.cert.der));
  });

  it('loads a chain of several PEM certificates in file order', () => {
    const forward = [leaf, intermediate, root];
    const text = forward.map((id) => id.certPem).join('');
    assert.deepEqual(
      fingerprints(loadCertificates(bytes(text), 'chain.pem')),
      fingerprints(forward.map((id) => id.cert)),
    );
    const backward = [root, leaf, intermediate];
    assert.deepEqual(
      fingerprints(loadCertificates(bytes(backward.map((id) => id.certPem).join('\n')), 'x.pem')),
      fingerprints(backward.map((id) => id.cert)),
    );
  });

  it('loads a chain with CRLF line endings and text between blocks', () => {
    const text = crlf(
      `subject=CN=registry.example.com\n${leaf.certPem}\nissuer\n${intermediate.certPem}`,
    );
    assert.deepEqual(
      fingerprints(loadCertificates(bytes(text), 'chain.pem')),
      fingerprints([leaf.cert, intermediate.cert]),
    );
  });

  it('skips a private key in the same file', () => {
    const text = `${leaf.keyPem}${leaf.certPem}`;
    assert.deepEqual(fingerprints(loadCertificates(bytes(text), 'bundle.pem')), [
      leaf.cert.fingerprintSha256,
    ]);
  });

  it('loads a DER certificate', () => {
    const [cert, ...rest] = loadCertificates(leaf.cert.der, 'leaf.der');
    assert.equal(rest.length, 0);
    assert.equal(cert!.fingerprintSha256, leaf.cert.fingerprintSha256);
  });

  it('loads every certificate of the notation vectors (PEM and DER)', async () => {
    for (const name of [
      'NotationTestRoot.pem',
      'TestTimestamp.crt',
      'TestTimestampNotYetValid.crt',
      'e2e.crt',
      'expired_e2e.crt',
      'new_e2e.crt',
      'globalsignRoot.cer',
      'x5c-alpine-2000-2123.pem',
      'x5c-metadata-signer-2023-01-11.pem',
      'x5c-testTSA-2000-2001.pem',
      'x5c-testTSA-2024-06-18.pem',
    ]) {
      assert.equal(loadCertificates(await readFile(new URL(name, CERTS)), name).length, 1, name);
    }
  });

  const garbage: [name: string, data: () => Uint8Array][] = [
    ['empty input', () => Buffer.alloc(0)],
    ['random bytes', () => randomBytes(512)],
    ['text', () => bytes('not a certificate\n')],
    ['a private key only', () => bytes(leaf.keyPem)],
    [
      'a CERTIFICATE block of garbage',
      () =>
        bytes(
          `-----BEGIN CERTIFICATE-----\n${randomBytes(300).toString('base64')}\n-----END CERTIFICATE-----\n`,
        ),
    ],
    [
      'a chain whose second block is garbage',
      () => bytes(`${leaf.certPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`),
    ],
    ['a truncated DER certificate', () => leaf.cert.der.subarray(0, leaf.cert.der.length - 1)],
    ['a public key in DER', () => leaf.cert.publicKey.export({ type: 'spki', format: 'der' })],
  ];
  for (const [name, data] of garbage) {
    it(`refuses ${name} with NV2_ERR_INVALID_CERTIFICATE`, () => {
      assert.throws(
        () => loadCertificates(data(), 'cert.pem'),
        invalid('NV2_ERR_INVALID_CERTIFICATE'),
      );
    });
  }
});

describe('parsePem', () => {
  it('returns each block with its label and DER, ignoring text around them', () => {
    const key = p256.privateKey.export({ type: 'sec1', format: 'pem' }).toString();
    const blocks = parsePem(`intro\n${leaf.certPem}middle\n${key}outro`);
    assert.deepEqual(
      blocks.map((b) => b.label),
      ['CERTIFICATE', 'EC PRIVATE KEY'],
    );
    assert.ok(blocks[0]!.der.equals(leaf.cert.der));
    assert.ok(blocks[1]!.der.equals(p256.privateKey.export({ type: 'sec1', format: 'der' })));
  });

  it('marks a block with RFC 1421 headers (legacy encryption) instead of decoding it', () => {
    const pem = rsa.privateKey
      .export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' })
      .toString();
    const [block] = parsePem(pem);
    assert.equal(block!.label, 'RSA PRIVATE KEY (with headers)');
    assert.equal(block!.der.length, 0);
  });

  it('finds no block in text without one', () => {
    assert.deepEqual(parsePem('nothing here\n-----BEGIN CERTIFICATE-----\nAAAA\n'), []);
  });
});
