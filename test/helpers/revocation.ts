/**
 * Revocation servers on loopback for the tests: an `openssl ocsp` responder over an index
 * file, and CRLs signed by a test CA served over node:http; and the certificate extensions
 * (authority information access, CRL distribution points) that point at them.
 */
import 'reflect-metadata';
import { type ChildProcess, spawn } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
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
import type { Certificate } from '../../src/x509/index.js';
import { tempDir } from './fixtures.js';
import { NOW, type TestIdentity } from './pki.js';

const uri = (u: string) => new GeneralName({ uniformResourceIdentifier: u });

/** Extensions pointing at an OCSP responder and/or a CRL, for `extraExtensions`. */
export function pointerExtensions(ocsp: string | undefined, crl: string | undefined) {
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

/** A certificate's status for the responder: good, or revoked an hour ago. */
export type OcspEntry = readonly ['V' | 'R', Certificate];

/** A running `openssl ocsp` responder; `stop` ends it (and waits for its exit). */
export interface OcspResponder {
  stop(): Promise<void>;
}

/**
 * Starts `openssl ocsp` on `port`, answering for `entries` in `ca`'s name (signed by the CA
 * itself) and "unknown" for anything else.
 */
export async function startOcspResponder(
  ca: TestIdentity,
  port: number,
  entries: readonly OcspEntry[],
): Promise<OcspResponder> {
  const dir = await tempDir();
  const expiry = opensslDate(new Date(NOW.getTime() + 86400_000));
  const revokedAt = opensslDate(new Date(NOW.getTime() - 3600_000));
  const line = ([status, cert]: OcspEntry) =>
    `${status}\t${expiry}\t${status === 'R' ? revokedAt : ''}\t${cert.serialNumber}\tunknown\t/CN=${cert.commonNames[0]}\n`;
  await writeFile(join(dir, 'index.txt'), entries.map(line).join(''));
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  await writeFile(join(dir, 'ca.key'), ca.keyPem);
  const child = spawn(
    'openssl',
    [
      'ocsp',
      '-index',
      'index.txt',
      '-port',
      String(port),
      '-ignore_err',
      '-rsigner',
      'ca.pem',
      '-rkey',
      'ca.key',
      '-CA',
      'ca.pem',
      '-nmin',
      '60',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await responderReady(child);
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}

/** A CRL signed by `ca` (an EC P-256 CA) listing `revoked` as revoked an hour ago. */
export async function signCrl(ca: TestIdentity, revoked: readonly Certificate[]): Promise<Buffer> {
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    ca.key.export({ type: 'pkcs8', format: 'der' }),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  const crl = await X509CrlGenerator.create({
    issuer: ca.cert.subject,
    thisUpdate: new Date(NOW.getTime() - 60_000),
    nextUpdate: new Date(NOW.getTime() + 86400_000),
    entries: revoked.map((cert) => ({
      serialNumber: cert.serialNumber,
      revocationDate: new Date(NOW.getTime() - 3600_000),
    })),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    signingKey,
  });
  return Buffer.from(crl.rawData);
}

/** An HTTP server answering every request with `body()` (a CRL), counting requests. */
export interface CrlServer {
  readonly url: string;
  readonly requests: number;
  body: Buffer;
  /** HTTP status to answer with instead of the CRL (e.g. 503), when set. */
  failWith: number | undefined;
  close(): Promise<void>;
}

export async function startCrlServer(): Promise<CrlServer> {
  const state: { body: Buffer; failWith: number | undefined; requests: number } = {
    body: Buffer.alloc(0),
    failWith: undefined,
    requests: 0,
  };
  const server: Server = createServer((_req, res) => {
    state.requests++;
    if (state.failWith !== undefined) {
      res.writeHead(state.failWith).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(state.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ca.crl`,
    get requests() {
      return state.requests;
    },
    get body() {
      return state.body;
    },
    set body(bytes: Buffer) {
      state.body = bytes;
    },
    get failWith() {
      return state.failWith;
    },
    set failWith(status: number | undefined) {
      state.failWith = status;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
