/**
 * Revocation checking against real servers on loopback: an `openssl ocsp` responder and a
 * CRL served over HTTP (signed by the CA), OCSP first, CRL when OCSP gives no answer, the CRL
 * cached until its nextUpdate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RevocationChecker, revocationPointers } from '../../../src/notation/index.js';
import { NOW, type TestIdentity, issuedSigner, rootCA } from '../../helpers/pki.js';
import { freePort } from '../../helpers/ports.js';
import {
  type CrlServer,
  type OcspResponder,
  pointerExtensions,
  signCrl,
  startCrlServer,
  startOcspResponder,
} from '../../helpers/revocation.js';

describe('revocation (OCSP with openssl, CRL over HTTP)', () => {
  let root: TestIdentity;
  let good: TestIdentity;
  let revoked: TestIdentity;
  let crlOnlyGood: TestIdentity;
  let crlOnlyRevoked: TestIdentity;
  let nowhere: TestIdentity;
  let responder: OcspResponder;
  let crlServer: CrlServer;

  before(async () => {
    root = await rootCA('Revocation Root', { keyType: 'ec-p256' });
    const ocspPort = await freePort();
    const dead = await freePort();
    crlServer = await startCrlServer();
    const ocspUrl = `http://127.0.0.1:${ocspPort}/`;
    const deadUrl = `http://127.0.0.1:${dead}/`;
    good = await issuedSigner(root, 'good', {
      extraExtensions: pointerExtensions(ocspUrl, crlServer.url),
    });
    revoked = await issuedSigner(root, 'revoked', {
      extraExtensions: pointerExtensions(ocspUrl, crlServer.url),
    });
    crlOnlyGood = await issuedSigner(root, 'crl-good', {
      extraExtensions: pointerExtensions(deadUrl, crlServer.url),
    });
    crlOnlyRevoked = await issuedSigner(root, 'crl-revoked', {
      extraExtensions: pointerExtensions(deadUrl, crlServer.url),
    });
    nowhere = await issuedSigner(root, 'nowhere', {
      extraExtensions: pointerExtensions(deadUrl, undefined),
    });
    responder = await startOcspResponder(root, ocspPort, [
      ['V', good.cert],
      ['R', revoked.cert],
    ]);
    crlServer.body = await signCrl(root, [crlOnlyRevoked.cert]);
  });

  after(async () => {
    await responder?.stop();
    await crlServer?.close();
  });

  it('reads the OCSP and CRL pointers of a certificate', () => {
    const pointers = revocationPointers(good.cert);
    assert.equal(pointers.ocsp.length, 1);
    assert.equal(pointers.crl.length, 1);
  });

  it('a certificate the OCSP responder calls good passes', async () => {
    const outcome = await new RevocationChecker().check([good.cert, root.cert], NOW);
    assert.deepEqual(outcome, { passed: true });
  });

  it('a certificate the OCSP responder calls revoked fails', async () => {
    const outcome = await new RevocationChecker().check([revoked.cert, root.cert], NOW);
    assert.equal(outcome.passed, false);
    assert.match(outcome.message!, /is revoked/);
  });

  it('falls back to the CRL when OCSP is unreachable, and caches the CRL', async () => {
    const checker = new RevocationChecker({ timeoutMs: 2000 });
    const before = crlServer.requests;
    assert.deepEqual(await checker.check([crlOnlyGood.cert, root.cert], NOW), { passed: true });
    const outcome = await checker.check([crlOnlyRevoked.cert, root.cert], NOW);
    assert.equal(outcome.passed, false);
    assert.match(outcome.message!, /is revoked/);
    assert.equal(crlServer.requests - before, 1);
  });

  it('fails when no source answers, and passes a chain without pointers', async () => {
    const outcome = await new RevocationChecker({ timeoutMs: 2000 }).check(
      [nowhere.cert, root.cert],
      NOW,
    );
    assert.equal(outcome.passed, false);
    assert.match(outcome.message!, /unknown/);
    const plain = await issuedSigner(root, 'plain');
    const none = await new RevocationChecker().check([plain.cert, root.cert], NOW);
    assert.equal(none.passed, true);
  });
});
