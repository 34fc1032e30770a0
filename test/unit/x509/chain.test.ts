/**
 * Certificate facts (key usage, basic constraints, names, validity, critical extensions) read
 * from minted certificates and from the real notation certificates, and path building.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import {
  InvalidInputError,
  type Nv2ErrorCode,
  VerificationFailedError,
} from '../../../src/errors.js';
import {
  Certificate,
  KeyUsageFlags,
  TrustAnchors,
  buildPaths,
  checkPathStructure,
  checkPathValidity,
  loadCertificates,
} from '../../../src/x509/index.js';
import { VECTORS_DIR } from '../../helpers/fixtures.js';
import {
  NOW,
  customIdentity,
  days,
  intermediateCA,
  issuedSigner,
  rootCA,
  selfSignedSigner,
} from '../../helpers/pki.js';

const CERTS = new URL('notation/certs/', VECTORS_DIR);
const CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const PRIVATE_OID = '1.3.6.1.4.1.55555.1.1';
const DER_NULL = new Uint8Array([0x05, 0x00]);
const KU = KeyUsageFlags;

function failsWith(code: Nv2ErrorCode): (err: unknown) => true {
  return (err: unknown) => {
    assert.ok(err instanceof VerificationFailedError, `not a VerificationFailedError: ${err}`);
    assert.equal(err.code, code);
    return true;
  };
}

async function loadVector(name: string): Promise<Certificate> {
  const certs = loadCertificates(await readFile(new URL(name, CERTS)), name);
  assert.equal(certs.length, 1);
  return certs[0]!;
}

const root = await rootCA('Chain Root', { basicConstraints: { ca: true, pathLength: 2 } });
const intermediate = await intermediateCA(root, 'Chain Intermediate', {
  basicConstraints: { ca: true, pathLength: 0 },
});
const leaf = await issuedSigner(intermediate, 'registry.example.com', {
  dnsNames: ['registry.example.com', 'registry-1.example.com', 'localhost:5000'],
  extendedKeyUsage: [CODE_SIGNING],
});

describe('Certificate facts of minted certificates', () => {
  it('reads basic constraints with path length, including a path length of 0', () => {
    assert.deepEqual(root.cert.basicConstraints, { ca: true, pathLength: 2 });
    assert.deepEqual(intermediate.cert.basicConstraints, { ca: true, pathLength: 0 });
    assert.deepEqual(leaf.cert.basicConstraints, { ca: false });
    assert.equal(root.cert.isCA, true);
    assert.equal(intermediate.cert.isCA, true);
    assert.equal(leaf.cert.isCA, false);
  });

  it('reads CA:TRUE without a path length as no path length', async () => {
    const open = await rootCA('Open Root');
    assert.deepEqual(open.cert.basicConstraints, { ca: true });
  });

  it('reads key usage bits', () => {
    assert.equal(root.cert.keyUsage, KU.keyCertSign | KU.cRLSign);
    assert.equal(leaf.cert.keyUsage, KU.digitalSignature);
    assert.ok(leaf.cert.allowsKeyUsage(KU.digitalSignature));
    assert.ok(!leaf.cert.allowsKeyUsage(KU.keyCertSign));
    assert.ok(root.cert.allowsKeyUsage(KU.keyCertSign));
    assert.ok(!root.cert.allowsKeyUsage(KU.digitalSignature));
  });

  it('reads every key usage bit on its own and all together', async () => {
    const single = Object.entries(KU).filter(
      ([name]) => name !== 'encipherOnly' && name !== 'decipherOnly',
    );
    // encipherOnly and decipherOnly only mean something with keyAgreement (RFC 5280 §4.2.1.3).
    const cases: [string, number][] = [
      ...single,
      ['keyAgreement|encipherOnly', KU.keyAgreement | KU.encipherOnly],
      ['keyAgreement|decipherOnly', KU.keyAgreement | KU.decipherOnly],
      ['all', Object.values(KU).reduce((a, b) => a | b, 0)],
    ];
    for (const [name, keyUsage] of cases) {
      const id = await customIdentity({ keyUsage });
      assert.equal(id.cert.keyUsage, keyUsage, name);
      for (const flag of Object.values(KU)) {
        assert.equal(id.cert.allowsKeyUsage(flag), (keyUsage & flag) !== 0, `${name} / ${flag}`);
      }
    }
  });

  it('reports absent extensions as undefined: no key usage means unrestricted', async () => {
    const bare = await customIdentity({ subject: 'CN=bare.example' });
    assert.equal(bare.cert.keyUsage, undefined);
    assert.equal(bare.cert.basicConstraints, undefined);
    assert.equal(bare.cert.extendedKeyUsage, undefined);
    assert.deepEqual([...bare.cert.dnsNames], []);
    assert.equal(bare.cert.isCA, false);
    for (const flag of Object.values(KU)) assert.ok(bare.cert.allowsKeyUsage(flag));
  });

  it('reads DNS names, common names and extended key usage', async () => {
    assert.deepEqual(
      [...leaf.cert.dnsNames],
      ['registry.example.com', 'registry-1.example.com', 'localhost:5000'],
    );
    assert.deepEqual(leaf.cert.commonNames, ['registry.example.com']);
    assert.deepEqual(leaf.cert.extendedKeyUsage, [CODE_SIGNING]);
    const named = await customIdentity({
      subject: 'CN=First Name, O=Example, CN=second.example',
      extendedKeyUsage: [SERVER_AUTH, CODE_SIGNING],
    });
    assert.deepEqual(named.cert.commonNames, ['First Name', 'second.example']);
    assert.deepEqual(named.cert.extendedKeyUsage, [SERVER_AUTH, CODE_SIGNING]);
    const noCn = await customIdentity({ subject: 'O=Example, C=US' });
    assert.deepEqual(noCn.cert.commonNames, []);
  });

  it('reads validity to the second and checks it inclusively', async () => {
    const notBefore = new Date(Math.floor(NOW.getTime() / 1000) * 1000 - days(1));
    const notAfter = new Date(notBefore.getTime() + days(2));
    const id = await customIdentity({ notBefore, notAfter });
    assert.deepEqual(id.cert.notBefore, notBefore);
    assert.deepEqual(id.cert.notAfter, notAfter);
    assert.ok(id.cert.isValidAt(notBefore));
    assert.ok(id.cert.isValidAt(notAfter));
    assert.ok(!id.cert.isValidAt(new Date(notBefore.getTime() - 1)));
    assert.ok(!id.cert.isValidAt(new Date(notAfter.getTime() + 1)));
  });

  it('lists unknown critical extensions, and only those', async () => {
    const critical = await customIdentity({
      extraExtensions: [{ oid: PRIVATE_OID, critical: true, value: DER_NULL }],
    });
    assert.deepEqual(critical.cert.unhandledCriticalExtensions, [PRIVATE_OID]);
    const plain = await customIdentity({
      extraExtensions: [{ oid: PRIVATE_OID, critical: false, value: DER_NULL }],
    });
    assert.deepEqual(plain.cert.unhandledCriticalExtensions, []);
    // Basic constraints and key usage are critical and processed.
    assert.deepEqual(leaf.cert.unhandledCriticalExtensions, []);
  });

  it('knows who issued whom by name and signature', async () => {
    assert.ok(leaf.cert.isIssuedBy(intermediate.cert));
    assert.ok(intermediate.cert.isIssuedBy(root.cert));
    assert.ok(root.cert.isIssuedBy(root.cert));
    assert.ok(!leaf.cert.isIssuedBy(root.cert));
    const impostor = await intermediateCA(root, 'Chain Intermediate');
    assert.ok(!leaf.cert.isIssuedBy(impostor.cert), 'same name, another key');
    assert.ok(root.cert.selfIssued);
    assert.ok(!leaf.cert.selfIssued);
  });

  it('keeps the DER and its SHA-256 fingerprint, and PEM round-trips', () => {
    assert.equal(
      leaf.cert.fingerprintSha256,
      createHash('sha256').update(leaf.cert.der).digest('hex'),
    );
    const [again] = loadCertificates(Buffer.from(leaf.cert.toPem()), 'leaf.pem');
    assert.ok(again!.der.equals(leaf.cert.der));
  });

  it('refuses bytes that are not a certificate with NV2_ERR_INVALID_CERTIFICATE', () => {
    for (const der of [Buffer.alloc(0), Buffer.from([0x30, 0x00]), leaf.cert.der.subarray(1)]) {
      assert.throws(
        () => new Certificate(der),
        (err: unknown) => {
          assert.ok(err instanceof InvalidInputError);
          assert.equal(err.code, 'NV2_ERR_INVALID_CERTIFICATE');
          return true;
        },
      );
    }
  });
});

describe('Certificate facts of the notation vector certificates', () => {
  interface Expected {
    readonly file: string;
    readonly commonNames: readonly string[];
    readonly basicConstraints: Certificate['basicConstraints'];
    readonly keyUsage: number;
    readonly codeSigning: boolean;
    readonly bits: number;
    readonly notBefore: string;
    readonly notAfter: string;
    readonly sha256: string;
  }
  // From vectors/notation/README.md, "Certificates".
  const expected: Expected[] = [
    {
      file: 'NotationTestRoot.pem',
      commonNames: ['Notation Test Root'],
      basicConstraints: { ca: true, pathLength: 1 },
      keyUsage: KU.keyCertSign,
      codeSigning: true,
      bits: 3072,
      notBefore: '2020-09-09T07:00:00Z',
      notAfter: '2122-09-05T20:38:45Z',
      sha256: '86df80412a63eb55b5c7a4ad6a8c396ce3188c167c6226da1b5bbbee8443d644',
    },
    {
      file: 'TestTimestamp.crt',
      commonNames: ['alpine'],
      basicConstraints: undefined,
      keyUsage: KU.digitalSignature,
      codeSigning: true,
      bits: 2048,
      notBefore: '2023-05-09T04:55:12Z',
      notAfter: '2033-05-10T04:55:12Z',
      sha256: '01937612e3e24e6496b325fb899fdb3b7045350ab2d91141c6310a917d5cebe2',
    },
    {
      file: 'TestTimestampNotYetValid.crt',
      commonNames: ['testTSA'],
      basicConstraints: undefined,
      keyUsage: KU.digitalSignature,
      codeSigning: true,
      bits: 2048,
      notBefore: '2099-09-18T11:54:34Z',
      notAfter: '2100-09-18T11:54:34Z',
      sha256: '6572ece2675f0a36116c03d0dbc14922a12418630bbe41b26f9c95ebf016cd01',
    },
    {
      file: 'globalsignRoot.cer',
      commonNames: ['GlobalSign'],
      basicConstraints: { ca: true },
      keyUsage: KU.keyCertSign | KU.cRLSign,
      codeSigning: false,
      bits: 4096,
      notBefore: '2014-12-10T00:00:00Z',
      notAfter: '2034-12-10T00:00:00Z',
      sha256: '2cabeafe37d06ca22aba7391c0033d25982952c453647349763a3ab5ad6ccf69',
    },
    {
      file: 'e2e.crt',
      commonNames: ['e2e'],
      basicConstraints: undefined,
      keyUsage: KU.digitalSignature,
      codeSigning: true,
      bits: 2048,
      notBefore: '2022-12-19T02:43:39Z',
      notAfter: '2122-12-19T02:43:39Z',
      sha256: 'e38aea13f2b051f7183cca64a51ee676f4d4456f41d9fecf15eb367efc7343b9',
    },
    {
      file: 'expired_e2e.crt',
      commonNames: [],
      basicConstraints: { ca: false },
      keyUsage: KU.digitalSignature,
      codeSigning: false,
      bits: 2048,
      notBefore: '2023-06-26T06:10:00Z',
      notAfter: '2023-06-27T06:10:00Z',
      sha256: 'd9927f0d5c45c1bc4206b8c458306bb14b22d594d5086aaff71e1a1443a64632',
    },
    {
      file: 'new_e2e.crt',
      commonNames: [],
      basicConstraints: { ca: false },
      keyUsage: KU.digitalSignature,
      codeSigning: false,
      bits: 2048,
      notBefore: '2022-12-30T03:05:15Z',
      notAfter: '2122-12-06T03:05:15Z',
      sha256: 'a549a5880e9de47a9a64de56bbaaa24bda2d860cdc07ceaf836465f0c0044966',
    },
    {
      file: 'x5c-alpine-2000-2123.pem',
      commonNames: ['alpine'],
      basicConstraints: undefined,
      keyUsage: KU.digitalSignature,
      codeSigning: true,
      bits: 2048,
      notBefore: '2000-08-29T13:50:00Z',
      notAfter: '2123-08-29T13:50:00Z',
      sha256: '9f5f5aecee24b5cfdc7a91f6d5ac5c3a5348feb17c934d403f59ac251549ea0d',
    },
    {
      file: 'x5c-testTSA-2024-06-18.pem',
      commonNames: ['testTSA'],
      basicConstraints: undefined,
      keyUsage: KU.digitalSignature,
      codeSigning: true,
      bits: 2048,
      notBefore: '2024-06-18T07:20:31Z',
      notAfter: '2024-06-18T07:30:31Z',
      sha256: '6381e2ac01a6d9396ad0c99cd7da2fa53206e0c26daba512420b95f4f0479137',
    },
    {
      file: 'x5c-testTSA-2000-2001.pem',
      commonNames: ['testTSA'],
      basicConstraints: undefined,
      keyUsage: KU.digitalSignature,
      codeSigning: true,
      bits: 2048,
      notBefore: '2000-09-18T11:54:34Z',
      notAfter: '2001-09-18T11:54:34Z',
      sha256: '92ef4ca811f317205b82dd1d2aba7efc54e2d5ccc6a5fef608a40179d3dbe699',
    },
    {
      file: 'x5c-metadata-signer-2023-01-11.pem',
      commonNames: ['wabbit-networks.io'],
      basicConstraints: undefined,
      keyUsage: KU.digitalSignature,
      codeSigning: true,
      bits: 2048,
      notBefore: '2023-01-11T00:52:12Z',
      notAfter: '2023-01-12T00:52:12Z',
      sha256: '074394bc2532db1ddfd082670f02949edb86c1cbb5273e1d4f16bdba95f4499d',
    },
  ];

  for (const e of expected) {
    it(`${e.file}: ${e.basicConstraints?.ca === true ? 'CA' : 'leaf'}, key usage ${e.keyUsage}, ${e.commonNames.join(', ') || 'no CN'}`, async () => {
      const cert = await loadVector(e.file);
      assert.equal(cert.fingerprintSha256, e.sha256);
      assert.deepEqual(cert.commonNames, e.commonNames);
      assert.deepEqual([...cert.dnsNames], []);
      assert.deepEqual(cert.basicConstraints, e.basicConstraints);
      assert.equal(cert.isCA, e.basicConstraints?.ca === true);
      assert.equal(cert.keyUsage, e.keyUsage);
      assert.equal(cert.extendedKeyUsage?.includes(CODE_SIGNING) ?? false, e.codeSigning);
      assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
      assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, e.bits);
      assert.deepEqual(cert.notBefore, new Date(e.notBefore));
      assert.deepEqual(cert.notAfter, new Date(e.notAfter));
      assert.deepEqual(cert.unhandledCriticalExtensions, []);
      assert.equal(cert.weakSignatureAlgorithm, undefined);
      assert.ok(cert.selfIssued);
      assert.ok(cert.isIssuedBy(cert), 'self-signed');
    });
  }

  it('NotationTestRoot.pem may sign certificates; e2e.crt may sign digitally, not certificates', async () => {
    const notationRoot = await loadVector('NotationTestRoot.pem');
    assert.ok(notationRoot.allowsKeyUsage(KU.keyCertSign));
    assert.ok(!notationRoot.allowsKeyUsage(KU.digitalSignature));
    const e2e = await loadVector('e2e.crt');
    assert.ok(e2e.allowsKeyUsage(KU.digitalSignature));
    assert.ok(!e2e.allowsKeyUsage(KU.keyCertSign));
  });
});

describe('paths through the notation Group A chain', async () => {
  // x5c[0] has the same subject DN as its issuer, NotationTestRoot.pem, but is not self-signed.
  const envelope = JSON.parse(
    await readFile(new URL('notation/jws/ca_valid_sig_env.json', VECTORS_DIR), 'utf8'),
  ) as { header: { x5c: string[] } };
  const [leafB64, rootB64] = envelope.header.x5c as [string, string];
  const groupLeaf = new Certificate(Buffer.from(leafB64, 'base64'));
  const notationRoot = await loadVector('NotationTestRoot.pem');
  const e2e = await loadVector('e2e.crt');
  const at = new Date('2025-01-01T00:00:00Z');

  it('reads the leaf as the README describes it', () => {
    assert.equal(
      groupLeaf.fingerprintSha256,
      'e0d3d5b6361fb0f75a89d09b92f80a7ac5bce19c811c57d78ff1efa26e610a72',
    );
    assert.equal(groupLeaf.keyUsage, KU.digitalSignature);
    assert.equal(groupLeaf.basicConstraints, undefined);
    assert.equal(groupLeaf.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
    assert.deepEqual(groupLeaf.notBefore, new Date('2020-10-09T07:00:00Z'));
    assert.deepEqual(groupLeaf.notAfter, new Date('2122-08-06T20:38:45Z'));
    assert.ok(Buffer.from(rootB64, 'base64').equals(notationRoot.der));
  });

  it('is issued by the root by signature, and is not self-signed despite its name', () => {
    assert.equal(groupLeaf.subject, notationRoot.subject);
    assert.ok(groupLeaf.isIssuedBy(notationRoot));
    assert.ok(!groupLeaf.isIssuedBy(groupLeaf));
  });

  it('builds leaf → NotationTestRoot.pem and validates it at 2025-01-01', () => {
    const paths = buildPaths(groupLeaf, [], new TrustAnchors([notationRoot]));
    assert.deepEqual(
      paths.map((p) => p.map((c) => c.fingerprintSha256)),
      [[groupLeaf.fingerprintSha256, notationRoot.fingerprintSha256]],
    );
    checkPathValidity(paths[0]!, at);
  });

  it('finds no path without the root, even though the leaf names itself as issuer', () => {
    assert.throws(
      () => buildPaths(groupLeaf, [], new TrustAnchors([])),
      failsWith('NV2_ERR_CERT_UNTRUSTED'),
    );
    assert.throws(
      () => buildPaths(groupLeaf, [], new TrustAnchors([e2e])),
      failsWith('NV2_ERR_CERT_UNTRUSTED'),
    );
  });
});

describe('TrustAnchors and path building', () => {
  /** Paths as the names of their certificates (fingerprints compared, so impostors show). */
  const names = (paths: readonly (readonly Certificate[])[]): string[][] =>
    paths.map((path) =>
      path.map((c) => {
        const found = Object.entries({ leaf, intermediate, root }).find(
          ([, id]) => id.cert.fingerprintSha256 === c.fingerprintSha256,
        );
        return found?.[0] ?? c.subject;
      }),
    );

  it('deduplicates trusted certificates and indexes them by subject', () => {
    const anchors = new TrustAnchors([root.cert, root.cert, intermediate.cert]);
    assert.equal(anchors.certificates.length, 2);
    assert.ok(anchors.has(root.cert));
    assert.ok(!anchors.has(leaf.cert));
    assert.deepEqual(anchors.withSubject(root.cert.x509.subject), [root.cert]);
    assert.deepEqual(anchors.withSubject('CN=nobody'), []);
  });

  it('builds leaf → intermediate → root and stops at the first trusted certificate', () => {
    const full = buildPaths(leaf.cert, [intermediate.cert], new TrustAnchors([root.cert]));
    assert.deepEqual(names(full), [['leaf', 'intermediate', 'root']]);
    const short = buildPaths(leaf.cert, [intermediate.cert], new TrustAnchors([intermediate.cert]));
    // (The trusted intermediate is also in x5c: the same path may be found once per copy.)
    assert.ok(short.length >= 1);
    for (const path of names(short)) assert.deepEqual(path, ['leaf', 'intermediate']);
    const self = buildPaths(leaf.cert, [], new TrustAnchors([leaf.cert]));
    assert.deepEqual(names(self), [['leaf']]);
  });

  it('refuses an untrusted chain, and one missing its intermediate', () => {
    assert.throws(
      () => buildPaths(leaf.cert, [intermediate.cert, root.cert], new TrustAnchors([])),
      failsWith('NV2_ERR_CERT_UNTRUSTED'),
    );
    assert.throws(
      () => buildPaths(leaf.cert, [], new TrustAnchors([root.cert])),
      failsWith('NV2_ERR_CERT_UNTRUSTED'),
    );
  });

  it('gives up, untrusted, on many same-named impostor intermediates', async () => {
    const impostors: Certificate[] = [];
    for (let i = 0; i < 10; i++)
      impostors.push((await intermediateCA(root, 'Chain Intermediate')).cert);
    assert.throws(
      () => buildPaths(leaf.cert, impostors, new TrustAnchors([root.cert])),
      failsWith('NV2_ERR_CERT_UNTRUSTED'),
    );
    // With the real intermediate among them, the path is found.
    const paths = buildPaths(
      leaf.cert,
      [...impostors.slice(0, 5), intermediate.cert],
      new TrustAnchors([root.cert]),
    );
    assert.deepEqual(names(paths)[0], ['leaf', 'intermediate', 'root']);
  });

  it('reports the structural error of a path that reaches trust but is not acceptable', async () => {
    const notCa = await customIdentity({ subject: 'CN=Not CA', keyUsage: KU.keyCertSign });
    const child = await issuedSigner(notCa, 'registry.example.com');
    assert.throws(
      () => buildPaths(child.cert, [], new TrustAnchors([notCa.cert])),
      failsWith('NV2_ERR_CERT_NOT_CA'),
    );
    assert.equal(checkPathStructure([leaf.cert, intermediate.cert, root.cert]), undefined);
    assert.equal(checkPathStructure([child.cert, notCa.cert])?.code, 'NV2_ERR_CERT_NOT_CA');
  });

  it('checks the validity of every certificate of a path', async () => {
    const path = [leaf.cert, intermediate.cert, root.cert];
    checkPathValidity(path, NOW);
    assert.throws(
      () => checkPathValidity(path, new Date(NOW.getTime() + days(60))),
      failsWith('NV2_ERR_CERT_EXPIRED'),
    );
    assert.throws(
      () => checkPathValidity(path, new Date(NOW.getTime() - days(60))),
      failsWith('NV2_ERR_CERT_NOT_YET_VALID'),
    );
    const oldRoot = await rootCA('Old Root', {
      notBefore: new Date(NOW.getTime() - days(10)),
      notAfter: new Date(NOW.getTime() - days(1)),
    });
    const fresh = await selfSignedSigner('registry.example.com');
    assert.throws(
      () => checkPathValidity([fresh.cert, oldRoot.cert], NOW),
      failsWith('NV2_ERR_CERT_EXPIRED'),
    );
  });
});
