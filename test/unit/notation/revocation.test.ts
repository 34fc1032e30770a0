/**
 * Revocation checking against real servers on loopback: an `openssl ocsp` responder and a
 * CRL served over HTTP (signed by the CA), OCSP first, CRL when OCSP gives no answer, the CRL
 * cached until its nextUpdate.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AccessDescription,
  AuthorityInfoAccessSyntax,
  CRLDistributionPoints,
  DistributionPoint,
  DistributionPointName,
  GeneralName,
} from '@peculiar/asn1-x509';
import { X509CrlGenerator } from '@peculiar/x509';
import { RevocationChecker, revocationPointers } from '../../../src/notation/index.js';
import type { Certificate } from '../../../src/x509/index.js';
import { tempDir } from '../../helpers/fixtures.js';
import { NOW, type TestIdentity, issuedSigner, rootCA } from '../../helpers/pki.js';

const uri = (u: string) => new GeneralName({ uniformResourceIdentifier: u });

function pointerExtensions(ocsp: string | undefined, crl: string | undefined) {
  const ext: { oid: string; critical: boolean; value: Uint8Array }[] = [];
  if (ocsp !== undefined) {
    const aia = new AuthorityInfoAccessSyntax([
      new AccessDescription({ accessMethod: '1.3.6.1.5.5.7.48.1', accessLocation: uri(ocsp) }),
    ]);
    ext.push({
      oid: '1.3.6.1.5.5.7.1.1',
      critical: false,
      value: new Uint8Array(AsnConvert.serialize(aia)),
    });
  }
  if (crl !== undefined) {
    const dp = new CRLDistributionPoints([
      new DistributionPoint({
        distributionPoint: new DistributionPointName({ fullName: [uri(crl)] }),
      }),
    ]);
    ext.push({
      oid: '2.5.29.31',
      critical: false,
      value: new Uint8Array(AsnConvert.serialize(dp)),
    });
  }
  return ext;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function opensslDate(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
}

/** Resolves once `openssl ocsp` says it accepts connections (a probe connection would stall it). */
function responderReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('waiting for OCSP client connections')) resolve();
    });
    child.on('exit', () => reject(new Error(`openssl ocsp exited: ${text}`)));
  });
}

describe('revocation (OCSP with openssl, CRL over HTTP)', () => {
  let root: TestIdentity;
  let good: TestIdentity;
  let revoked: TestIdentity;
  let crlOnlyGood: TestIdentity;
  let crlOnlyRevoked: TestIdentity;
  let nowhere: TestIdentity;
  let responder: ChildProcess;
  let crlServer: Server;
  let crlRequests = 0;

  before(async () => {
    const dir = await tempDir();
    root = await rootCA('Revocation Root', { keyType: 'ec-p256' });
    const ocspPort = await closedPort();
    const dead = await closedPort();
    let crlBytes = Buffer.alloc(0);
    crlServer = createServer((_req, res) => {
      crlRequests++;
      res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(crlBytes);
    });
    await new Promise<void>((resolve) => crlServer.listen(0, '127.0.0.1', resolve));
    const crlUrl = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}/root.crl`;
    const ocspUrl = `http://127.0.0.1:${ocspPort}/`;
    const deadUrl = `http://127.0.0.1:${dead}/`;
    good = await issuedSigner(root, 'good', {
      extraExtensions: pointerExtensions(ocspUrl, crlUrl),
    });
    revoked = await issuedSigner(root, 'revoked', {
      extraExtensions: pointerExtensions(ocspUrl, crlUrl),
    });
    crlOnlyGood = await issuedSigner(root, 'crl-good', {
      extraExtensions: pointerExtensions(deadUrl, crlUrl),
    });
    crlOnlyRevoked = await issuedSigner(root, 'crl-revoked', {
      extraExtensions: pointerExtensions(deadUrl, crlUrl),
    });
    nowhere = await issuedSigner(root, 'nowhere', {
      extraExtensions: pointerExtensions(deadUrl, undefined),
    });

    const expiry = opensslDate(new Date(NOW.getTime() + 86400_000));
    const revokedAt = opensslDate(new Date(NOW.getTime() - 3600_000));
    const line = (status: string, cert: Certificate, when = '') =>
      `${status}\t${expiry}\t${when}\t${cert.serialNumber}\tunknown\t/CN=${cert.commonNames[0]}\n`;
    await writeFile(
      join(dir, 'index.txt'),
      line('V', good.cert) + line('R', revoked.cert, revokedAt),
    );
    await writeFile(join(dir, 'root.pem'), root.certPem);
    await writeFile(join(dir, 'root.key'), root.keyPem);
    responder = spawn(
      'openssl',
      [
        'ocsp',
        '-index',
        'index.txt',
        '-port',
        String(ocspPort),
        '-ignore_err',
        '-rsigner',
        'root.pem',
        '-rkey',
        'root.key',
        '-CA',
        'root.pem',
        '-nmin',
        '60',
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    await responderReady(responder);

    const signingKey = await webcrypto.subtle.importKey(
      'pkcs8',
      root.key.export({ type: 'pkcs8', format: 'der' }),
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign'],
    );
    const crl = await X509CrlGenerator.create({
      issuer: root.cert.subject,
      thisUpdate: new Date(NOW.getTime() - 60_000),
      nextUpdate: new Date(NOW.getTime() + 86400_000),
      entries: [
        {
          serialNumber: crlOnlyRevoked.cert.serialNumber,
          revocationDate: new Date(NOW.getTime() - 3600_000),
        },
      ],
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      signingKey,
    });
    crlBytes = Buffer.from(crl.rawData);
  });

  after(() => {
    responder?.kill();
    crlServer?.close();
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
    const before = crlRequests;
    assert.deepEqual(await checker.check([crlOnlyGood.cert, root.cert], NOW), { passed: true });
    const outcome = await checker.check([crlOnlyRevoked.cert, root.cert], NOW);
    assert.equal(outcome.passed, false);
    assert.match(outcome.message!, /is revoked/);
    assert.equal(crlRequests - before, 1);
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
