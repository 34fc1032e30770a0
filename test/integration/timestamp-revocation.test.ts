/**
 * Revocation of the TSA's certificate chain when a timestamp is verified, as notation does it:
 * signatures timestamped by TSAs on loopback (`openssl ts -reply`) whose certificates name an
 * `openssl ocsp` responder or a CRL served by the test; revoked after the signing, the
 * timestamp fails (`authenticTimestamp`), whatever the policy says of the signing chain's
 * revocation; a status nobody can tell fails too. Through the library (with the checker
 * injected, also one that makes no lookups) and through `nv2 verify`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ChainRevocationChecker,
  RevocationChecker,
  sniffEnvelopeMediaType,
} from '../../src/notation/index.js';
import { evaluateNotationSignature } from '../../src/verification/index.js';
import { type Descriptor, MediaTypes, parseDigest } from '../../src/oci/index.js';
import { LEVEL_ACTIONS } from '../../src/policy/index.js';
import { type EvaluationPolicy, type SignatureEvaluation } from '../../src/trust/index.js';
import { lines, nv2, ok } from '../helpers/cli.js';
import { SAMPLE_MANIFEST, tempDir } from '../helpers/fixtures.js';
import { type TestIdentity, issuedSigner, rootCA } from '../helpers/pki.js';
import { freePort } from '../helpers/ports.js';
import {
  type CrlServer,
  type OcspResponder,
  pointerExtensions,
  signCrl,
  startCrlServer,
  startOcspResponder,
} from '../helpers/revocation.js';
import { type RunningTsa, startTsa, tsaIdentity } from '../helpers/tsa.js';

const SUBJECT: Descriptor = {
  mediaType: MediaTypes.ociManifest,
  digest: parseDigest(`sha256:${createHash('sha256').update(SAMPLE_MANIFEST).digest('hex')}`),
  size: SAMPLE_MANIFEST.byteLength,
};

describe("the TSA chain's revocation at verification (TSA, OCSP responder and CRL on loopback)", () => {
  let work: string;
  let root: TestIdentity;
  let tsaRoot: TestIdentity;
  let ocspTsaId: TestIdentity;
  let crlTsaId: TestIdentity;
  let ocspPort: number;
  let responder: OcspResponder;
  let crl: CrlServer;
  let tsas: RunningTsa[];
  const files = { key: '', chain: '', root: '', tsaRoot: '', manifest: '', ocsp: '', crl: '' };

  before(async () => {
    work = await tempDir();
    root = await rootCA('Timestamp Revocation Root');
    const signer = await issuedSigner(root, 'signer.example');
    tsaRoot = await rootCA('Revocable TSA Root');
    ocspPort = await freePort();
    const dead = `http://127.0.0.1:${await freePort()}/`;
    crl = await startCrlServer();
    ocspTsaId = await tsaIdentity(tsaRoot, 'ocsp-tsa.example', {
      extraExtensions: pointerExtensions(`http://127.0.0.1:${ocspPort}/`, undefined),
    });
    // OCSP unreachable: the CRL answers.
    crlTsaId = await tsaIdentity(tsaRoot, 'crl-tsa.example', {
      extraExtensions: pointerExtensions(dead, crl.url),
    });
    responder = await startOcspResponder(tsaRoot, ocspPort, [['V', ocspTsaId.cert]]);
    crl.body = await signCrl(tsaRoot, []);
    tsas = [await startTsa(ocspTsaId, [tsaRoot]), await startTsa(crlTsaId, [tsaRoot])];
    Object.assign(files, {
      key: join(work, 'signer.key'),
      chain: join(work, 'signer.crt'),
      root: join(work, 'root.crt'),
      tsaRoot: join(work, 'tsa-root.crt'),
      manifest: join(work, 'manifest.json'),
      ocsp: join(work, 'ocsp-tsa.jws'),
      crl: join(work, 'crl-tsa.cose'),
    });
    await writeFile(files.key, signer.keyPem, { mode: 0o600 });
    await writeFile(files.chain, signer.certPem + root.certPem);
    await writeFile(files.root, root.certPem);
    await writeFile(files.tsaRoot, tsaRoot.certPem);
    await writeFile(files.manifest, SAMPLE_MANIFEST);
    // Signed while both TSA certificates are good (signing checks the TSA chain too).
    for (const [format, tsa, out] of [
      ['jws', tsas[0]!, files.ocsp],
      ['cose', tsas[1]!, files.crl],
    ] as const) {
      ok(
        await nv2([
          'sign',
          '--signature-format',
          format,
          '-k',
          files.key,
          '-c',
          files.chain,
          '--timestamp-url',
          tsa.url,
          '--timestamp-root-cert',
          files.tsaRoot,
          '-o',
          out,
          `file:${files.manifest}`,
        ]),
        `sign ${format}`,
      );
    }
  });
  after(async () => {
    for (const tsa of tsas) await tsa.close();
    await responder.stop();
    await crl.close();
  });

  const policy = (revocation: 'enforce' | 'skip' = 'enforce'): EvaluationPolicy => ({
    actions: { ...LEVEL_ACTIONS.strict, revocation },
    anchors: { ca: [root.cert], signingAuthority: [], tsa: [tsaRoot.cert] },
    trustedIdentity: () => true,
    verifyTimestamp: 'always',
  });
  const evaluate = async (
    file: string,
    checker: ChainRevocationChecker = new RevocationChecker({ timeoutMs: 2000 }),
    p: EvaluationPolicy = policy(),
  ): Promise<SignatureEvaluation> => {
    const envelope = await readFile(file);
    return evaluateNotationSignature(envelope, SUBJECT, p, {
      mediaType: sniffEnvelopeMediaType(envelope)!,
      revocation: checker,
    });
  };
  const authenticTimestamp = (e: SignatureEvaluation) =>
    e.checks.find((c) => c.type === 'authenticTimestamp')!;
  const verify = (file: string) =>
    nv2([
      'verify',
      '-f',
      file,
      '--ca-cert',
      files.root,
      '--tsa-cert',
      files.tsaRoot,
      `file:${files.manifest}`,
    ]);
  const verifyFails = async (file: string, message: RegExp): Promise<void> => {
    const r = await verify(file);
    assert.notEqual(r.code, 0, r.stderr);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /authenticTimestamp: timestamping certificate chain: /);
    assert.match(r.stderr, message);
  };

  it('both verify while their TSA certificates are good (OCSP, and CRL when OCSP is unreachable)', async () => {
    for (const file of [files.ocsp, files.crl]) {
      const e = await evaluate(file);
      assert.equal(e.verified, true, JSON.stringify(e.checks));
      assert.match(authenticTimestamp(e).message!, /^timestamped at /);
      assert.equal(ok(await verify(file), 'verify').stdout, `${SUBJECT.digest}\n`);
    }
  });

  it('a TSA certificate the OCSP responder reports revoked fails the timestamp, even when the policy skips revocation', async () => {
    await responder.stop();
    responder = await startOcspResponder(tsaRoot, ocspPort, [['R', ocspTsaId.cert]]);
    for (const p of [policy(), policy('skip')]) {
      const e = await evaluate(files.ocsp, undefined, p);
      assert.equal(e.verified, false);
      assert.equal(authenticTimestamp(e).passed, false);
      assert.match(
        authenticTimestamp(e).message!,
        /^timestamping certificate chain: certificate "CN=ocsp-tsa.example" is revoked since /,
      );
    }
    await verifyFails(files.ocsp, /certificate "CN=ocsp-tsa.example" is revoked/);
  });

  it('a TSA certificate its CA lists in the CRL fails the timestamp', async () => {
    crl.body = await signCrl(tsaRoot, [crlTsaId.cert]);
    const e = await evaluate(files.crl);
    assert.equal(authenticTimestamp(e).passed, false);
    assert.match(authenticTimestamp(e).message!, /"CN=crl-tsa.example" is revoked since /);
    await verifyFails(files.crl, /certificate "CN=crl-tsa.example" is revoked/);
  });

  it('a TSA certificate whose status nobody can tell fails the timestamp', async () => {
    crl.failWith = 503;
    try {
      const e = await evaluate(files.crl);
      assert.equal(authenticTimestamp(e).passed, false);
      assert.match(
        authenticTimestamp(e).message!,
        /revocation status of certificate "CN=crl-tsa.example" is unknown: .*CRL http:\/\/127\.0\.0\.1:\d+\/ca\.crl: HTTP 503/,
      );
      await verifyFails(files.crl, /is unknown/);
    } finally {
      crl.failWith = undefined;
    }
  });

  it('the checker is injectable: one that looks nothing up is asked about the TSA chain', async () => {
    const asked: string[][] = [];
    const offline: ChainRevocationChecker = {
      check: (chain) => {
        asked.push(chain.map((c) => c.commonNames[0] ?? ''));
        return Promise.resolve({ passed: true });
      },
    };
    const requests = crl.requests;
    const e = await evaluate(files.crl, offline);
    assert.equal(e.verified, true, JSON.stringify(e.checks));
    assert.equal(crl.requests, requests, 'no CRL was fetched');
    assert.deepEqual(asked, [
      ['crl-tsa.example', 'Revocable TSA Root'],
      ['signer.example', 'Timestamp Revocation Root'],
    ]);
  });
});
