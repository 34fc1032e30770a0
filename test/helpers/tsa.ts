/**
 * A timestamp authority on loopback: OpenSSL's `openssl ts -reply` behind a small node:http
 * server, with a TSA certificate made by the test PKI (the single, critical timeStamping
 * extended key usage). Modes make it misbehave the ways a TSA can: answer another nonce,
 * another message imprint, an HTTP error, a rejection.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { type IncomingMessage, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { PKIStatus, PKIStatusInfo, TimeStampReq, TimeStampResp } from '@peculiar/asn1-tsp';
import { tempDir } from './fixtures.js';
import { type IdentityOptions, type TestIdentity, issuedSigner } from './pki.js';

/** DER of ExtKeyUsageSyntax holding id-kp-timeStamping (1.3.6.1.5.5.7.3.8). */
const TIME_STAMPING_EKU = Buffer.from('300a06082b06010505070308', 'hex');

/** A TSA certificate issued by `root`: timeStamping as its single, critical EKU. */
export function tsaIdentity(
  root: TestIdentity,
  cn: string,
  options: IdentityOptions = {},
): Promise<TestIdentity> {
  return issuedSigner(root, cn, {
    ...options,
    extraExtensions: [
      { oid: '2.5.29.37', critical: true, value: TIME_STAMPING_EKU },
      ...(options.extraExtensions ?? []),
    ],
  });
}

export type TsaMode = 'good' | 'wrong-nonce' | 'wrong-hash' | 'http-error' | 'rejection';

export interface RunningTsa {
  /** `http://127.0.0.1:PORT/tsr` */
  readonly url: string;
  /** How the next requests are answered. */
  mode: TsaMode;
  /** Requests answered so far. */
  readonly requests: number;
  close(): Promise<void>;
}

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function openssl(args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`openssl ${args[0]}: ${err}`)),
    );
  });
}

/** Starts a TSA signing with `tsa` (its certificate file carries `chain` after it). */
export async function startTsa(
  tsa: TestIdentity,
  chain: readonly TestIdentity[],
): Promise<RunningTsa> {
  const dir = await tempDir();
  await writeFile(join(dir, 'tsa.crt'), tsa.certPem);
  await writeFile(join(dir, 'tsa.key'), tsa.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'chain.pem'), chain.map((c) => c.certPem).join(''));
  await writeFile(join(dir, 'serial'), '01\n');
  await writeFile(
    join(dir, 'tsa.cnf'),
    [
      '[ tsa ]',
      'default_tsa = tsa_config',
      '[ tsa_config ]',
      `serial = ${join(dir, 'serial')}`,
      'crypto_device = builtin',
      'signer_digest = sha256',
      'default_policy = 1.3.6.1.4.1.99999.1',
      'digests = sha256, sha384, sha512',
      'accuracy = secs:1',
      'ordering = no',
      'tsa_name = no',
      'ess_cert_id_chain = no',
      'ess_cert_id_alg = sha256',
      '',
    ].join('\n'),
  );
  let requests = 0;
  const state: { mode: TsaMode } = { mode: 'good' };
  const server = createServer((req, res) => {
    void (async () => {
      const n = ++requests;
      const query = await body(req);
      if (state.mode === 'http-error') {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
        return;
      }
      if (state.mode === 'rejection') {
        const refusal = new TimeStampResp({
          status: new PKIStatusInfo({ status: PKIStatus.rejection }),
        });
        res
          .writeHead(200, { 'content-type': 'application/timestamp-reply' })
          .end(Buffer.from(AsnConvert.serialize(refusal)));
        return;
      }
      const request = AsnConvert.parse(query, TimeStampReq);
      if (state.mode === 'wrong-nonce') {
        request.nonce = new Uint8Array([0x01, 0x02, 0x03, 0x04]).buffer;
      } else if (state.mode === 'wrong-hash') {
        const other = Buffer.from(request.messageImprint.hashedMessage.buffer);
        other[0] = other[0]! ^ 0xff;
        request.messageImprint.hashedMessage = new OctetString(other);
      }
      await writeFile(join(dir, `${n}.tsq`), Buffer.from(AsnConvert.serialize(request)));
      await openssl(
        [
          'ts',
          '-reply',
          '-config',
          'tsa.cnf',
          '-queryfile',
          `${n}.tsq`,
          '-inkey',
          'tsa.key',
          '-signer',
          'tsa.crt',
          '-chain',
          'chain.pem',
          '-out',
          `${n}.tsr`,
        ],
        dir,
      );
      res
        .writeHead(200, { 'content-type': 'application/timestamp-reply' })
        .end(await readFile(join(dir, `${n}.tsr`)));
    })().catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/tsr`,
    get mode() {
      return state.mode;
    },
    set mode(mode: TsaMode) {
      state.mode = mode;
    },
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
