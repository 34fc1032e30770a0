/**
 * RFC 3161 timestamps at signing, against a real TSA on loopback (`openssl ts -reply` behind
 * node:http): a good token is stored in the envelope and lets the signature verify after its
 * certificate expired (`verifyTimestamp: afterCertExpiry`, judged with `--at`), where one
 * without a timestamp fails; a wrong nonce, a wrong hash, an untrusted chain, a revoked TSA
 * certificate, an HTTP error and a rejection each stop the signing before anything is
 * stored. End to end against nv2's registry and CNCF distribution.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  NotationMediaTypes,
  parseNotationEnvelope,
  verifyTimestampToken,
} from '../../src/notation/index.js';
import { type CliResult, lines, nv2, ok } from '../helpers/cli.js';
import { distributionMissing, startDistribution } from '../helpers/distribution.js';
import { SAMPLE_MANIFEST, VECTORS_DIR, tempDir } from '../helpers/fixtures.js';
import { NOW, type TestIdentity, days, issuedSigner, rootCA } from '../helpers/pki.js';
import { startRegistry } from '../helpers/registry.js';
import {
  type CrlServer,
  pointerExtensions,
  signCrl,
  startCrlServer,
} from '../helpers/revocation.js';
import { type RunningTsa, type TsaMode, startTsa, tsaIdentity } from '../helpers/tsa.js';

const SUBJECT = 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9';
const NOTATION_LAYOUT = fileURLToPath(new URL('notation/oci-layout/e2e', VECTORS_DIR));
/** After the signing certificate's 30 days, inside the roots' and the TSA's validity. */
const AFTER_EXPIRY = new Date(NOW.getTime() + days(45)).toISOString();

function fails(result: CliResult, exit: number, code: string, what: string): void {
  assert.equal(result.code, exit, `${what}: exit ${result.code}\n${result.stderr}`);
  assert.equal(lines(result.stderr).length, 1, `${what}: one line\n${result.stderr}`);
  assert.match(result.stderr, new RegExp(`^nv2: ${code}: `), what);
}

/** The PKI, TSAs and files every test here uses. */
interface Setup {
  readonly work: string;
  readonly root: TestIdentity;
  readonly tsaRoot: TestIdentity;
  readonly tsa: RunningTsa;
  readonly revokedTsa: RunningTsa;
  readonly crlServer: CrlServer;
  /** Files: signer key, signer chain (leaf, root), root, TSA root, another root. */
  readonly files: Record<'key' | 'chain' | 'root' | 'tsaRoot' | 'otherRoot', string>;
}

async function setUp(): Promise<Setup> {
  const work = await tempDir();
  const root = await rootCA('Timestamp Test Root');
  const signer = await issuedSigner(root, 'signer.example', {
    notBefore: new Date(NOW.getTime() - days(1)),
    notAfter: new Date(NOW.getTime() + days(30)),
  });
  const tsaRoot = await rootCA('Test TSA Root', {
    notAfter: new Date(NOW.getTime() + days(365)),
  });
  const tsaCert = await tsaIdentity(tsaRoot, 'tsa.example', {
    notAfter: new Date(NOW.getTime() + days(365)),
  });
  const other = await rootCA('Unrelated Root');

  // A second TSA whose certificate its CA has revoked, published in a CRL on loopback.
  const crlServer = await startCrlServer();
  const revokedCert = await tsaIdentity(tsaRoot, 'revoked-tsa.example', {
    notAfter: new Date(NOW.getTime() + days(365)),
    extraExtensions: pointerExtensions(undefined, crlServer.url),
  });
  crlServer.body = await signCrl(tsaRoot, [revokedCert.cert]);

  const files = {
    key: join(work, 'signer.key'),
    chain: join(work, 'signer.crt'),
    root: join(work, 'root.crt'),
    tsaRoot: join(work, 'tsa-root.crt'),
    otherRoot: join(work, 'other-root.crt'),
  };
  await writeFile(files.key, signer.keyPem, { mode: 0o600 });
  await writeFile(files.chain, signer.certPem + root.certPem);
  await writeFile(files.root, root.certPem);
  await writeFile(files.tsaRoot, tsaRoot.certPem);
  await writeFile(files.otherRoot, other.certPem);
  return {
    work,
    root,
    tsaRoot,
    tsa: await startTsa(tsaCert, [tsaRoot]),
    revokedTsa: await startTsa(revokedCert, [tsaRoot]),
    crlServer,
    files,
  };
}

/** A configuration directory trusting the signing root (`ca`) and the TSA root (`tsa`). */
async function policyConfig(s: Setup): Promise<string> {
  const dir = join(s.work, 'config');
  await mkdir(join(dir, 'truststore', 'x509', 'ca', 'signers'), { recursive: true });
  await mkdir(join(dir, 'truststore', 'x509', 'tsa', 'tsa'), { recursive: true });
  await cp(s.files.root, join(dir, 'truststore', 'x509', 'ca', 'signers', 'root.crt'));
  await cp(s.files.tsaRoot, join(dir, 'truststore', 'x509', 'tsa', 'tsa', 'tsa-root.crt'));
  await writeFile(
    join(dir, 'trustpolicy.json'),
    JSON.stringify({
      version: '1.0',
      trustPolicies: [
        {
          name: 'timestamped',
          registryScopes: ['*'],
          signatureVerification: { level: 'strict', verifyTimestamp: 'afterCertExpiry' },
          trustStores: ['ca:signers', 'tsa:tsa'],
          trustedIdentities: ['*'],
        },
      ],
    }),
  );
  return dir;
}

describe('nv2 sign --timestamp-url (a TSA on loopback)', () => {
  let s: Setup;
  let manifest: string;

  before(async () => {
    s = await setUp();
    manifest = join(s.work, 'manifest.json');
    await writeFile(manifest, SAMPLE_MANIFEST);
    delete process.env['NV2_SIGNING_KEYS'];
    process.env['NV2_CONFIG_DIR'] = await policyConfig(s);
  });
  after(async () => {
    await s.tsa.close();
    await s.revokedTsa.close();
    await s.crlServer.close();
  });

  const sign = (format: string, out: string, tsaUrl: string, tsaRoot: string) =>
    nv2([
      'sign',
      '--signature-format',
      format,
      '-k',
      s.files.key,
      '-c',
      s.files.chain,
      '--timestamp-url',
      tsaUrl,
      '--timestamp-root-cert',
      tsaRoot,
      '-o',
      out,
      `file:${manifest}`,
    ]);

  for (const format of ['jws', 'cose'] as const) {
    it(`${format}: stores a token over the signature value that OpenSSL's TSA signed`, async () => {
      s.tsa.mode = 'good';
      const out = join(s.work, `good.${format}`);
      ok(await sign(format, out, s.tsa.url, s.files.tsaRoot), 'sign');
      const envelope = parseNotationEnvelope(
        await readFile(out),
        format === 'jws' ? NotationMediaTypes.jws : NotationMediaTypes.cose,
      );
      assert.ok(envelope.timestampToken !== undefined, 'the envelope carries a token');
      const verified = verifyTimestampToken(envelope.timestampToken, envelope.signature, [
        s.tsaRoot.cert,
      ]);
      assert.equal(verified.tsaChain[0]!.commonNames[0], 'tsa.example');
      assert.ok(Math.abs(verified.genTime.getTime() - Date.now()) < days(1));
    });
  }

  it('refuses a bad TSA answer with one line and a typed code, writing nothing', async () => {
    // A TSA that answers wrongly is refused as invalid (exit 2); one that does not answer a
    // timestamp at all is unavailable (exit 3).
    const cases: { what: string; mode: TsaMode; tsa?: RunningTsa; root?: string }[] = [
      { what: 'wrong nonce', mode: 'wrong-nonce' },
      { what: 'wrong hash', mode: 'wrong-hash' },
      { what: 'untrusted chain', mode: 'good', root: s.files.otherRoot },
      { what: 'revoked TSA certificate', mode: 'good', tsa: s.revokedTsa },
      { what: 'HTTP error', mode: 'http-error' },
      { what: 'rejection', mode: 'rejection' },
    ];
    const dir = join(s.work, 'refused');
    await mkdir(dir);
    for (const { what, mode, tsa = s.tsa, root = s.files.tsaRoot } of cases) {
      tsa.mode = mode;
      const unavailable = mode === 'http-error' || mode === 'rejection';
      const before = s.tsa.requests + s.revokedTsa.requests;
      fails(
        await sign('cose', join(dir, 'sig.cose'), tsa.url, root),
        unavailable ? 3 : 2,
        unavailable ? 'NV2_ERR_TIMESTAMP_UNAVAILABLE' : 'NV2_ERR_TIMESTAMP_INVALID',
        what,
      );
      assert.equal(s.tsa.requests + s.revokedTsa.requests, before + 1, `${what}: asked once`);
    }
    assert.deepEqual(await readdir(dir), []);
    s.tsa.mode = 'good';
  });

  it('explains that the nv2 format cannot carry a timestamp, and wants both flags', async () => {
    fails(
      await nv2([
        'sign',
        '-k',
        s.files.key,
        '-c',
        s.files.chain,
        '--timestamp-url',
        s.tsa.url,
        '--timestamp-root-cert',
        s.files.tsaRoot,
        `file:${manifest}`,
      ]),
      2,
      'NV2_ERR_INVALID_ARGUMENT',
      'nv2 format',
    );
    fails(
      await nv2([
        'sign',
        '--signature-format',
        'jws',
        '-k',
        s.files.key,
        '-c',
        s.files.chain,
        '--timestamp-url',
        s.tsa.url,
        `file:${manifest}`,
      ]),
      2,
      'NV2_ERR_INVALID_ARGUMENT',
      'no root',
    );
  });

  it('a timestamped signature verifies after its certificate expired; one without a timestamp fails', async () => {
    const layout = join(s.work, 'layout');
    await cp(NOTATION_LAYOUT, layout, { recursive: true });
    const target = `oci-layout:${layout}:v1`;
    s.tsa.mode = 'good';
    const stamped = lines(
      ok(
        await nv2([
          'sign',
          '--signature-format',
          'cose',
          '-k',
          s.files.key,
          '-c',
          s.files.chain,
          '--timestamp-url',
          s.tsa.url,
          '--timestamp-root-cert',
          s.files.tsaRoot,
          target,
        ]),
        'sign with a timestamp',
      ).stdout,
    );
    const plain = lines(
      ok(
        await nv2([
          'sign',
          '--signature-format',
          'jws',
          '-k',
          s.files.key,
          '-c',
          s.files.chain,
          target,
        ]),
        'sign without',
      ).stdout,
    );
    const report = async (at: string) =>
      JSON.parse(
        (
          await nv2([
            'verify',
            '--output',
            'json',
            '--scope',
            'localhost:5000/test-repo',
            '--at',
            at,
            target,
          ])
        ).stdout,
      ) as {
        signatures: {
          signatureManifest: string;
          verified: boolean;
          checks: { type: string; passed?: boolean; message?: string }[];
        }[];
      };
    const verdict = (r: Awaited<ReturnType<typeof report>>, digest: string) =>
      r.signatures.find((x) => x.signatureManifest === digest);
    const now = await report(new Date().toISOString());
    assert.equal(verdict(now, stamped[1]!)?.verified, true, 'timestamped, now');
    assert.equal(verdict(now, plain[1]!)?.verified, true, 'plain, now');
    const later = await report(AFTER_EXPIRY);
    const laterStamped = verdict(later, stamped[1]!)!;
    assert.equal(laterStamped.verified, true, JSON.stringify(laterStamped));
    assert.match(
      laterStamped.checks.find((c) => c.type === 'authenticTimestamp')!.message!,
      /^timestamped at /,
    );
    const laterPlain = verdict(later, plain[1]!)!;
    assert.equal(laterPlain.verified, false);
    assert.equal(laterPlain.checks.find((c) => c.type === 'authenticTimestamp')!.passed, false);
  });
});

const noDistribution = distributionMissing();

for (const name of ['nv2', 'distribution'] as const) {
  describe(
    `timestamped signatures against ${name === 'nv2' ? "nv2's registry" : 'CNCF distribution'}`,
    { skip: name === 'distribution' ? noDistribution : undefined },
    () => {
      let s: Setup;
      let host: string;
      let close: () => Promise<void>;

      before(async () => {
        s = await setUp();
        process.env['NV2_CONFIG_DIR'] = await policyConfig(s);
        const registry = name === 'nv2' ? await startRegistry() : await startDistribution();
        host = registry.host;
        close = () => registry.close();
        const layout = join(s.work, 'layout');
        await cp(NOTATION_LAYOUT, layout, { recursive: true });
        ok(
          await nv2(['copy', '--no-referrers', `oci-layout:${layout}:v1`, `${host}/ts/app:v1`]),
          'copy',
        );
      });
      after(async () => {
        await close();
        await s.tsa.close();
        await s.revokedTsa.close();
        await s.crlServer.close();
      });

      it('pushes jws and cose signatures with timestamps; nv2 verify accepts them after the certificate expired', async () => {
        const ref = `${host}/ts/app:v1`;
        for (const format of ['jws', 'cose']) {
          const out = lines(
            ok(
              await nv2([
                'sign',
                '--signature-format',
                format,
                '-k',
                s.files.key,
                '-c',
                s.files.chain,
                '--timestamp-url',
                s.tsa.url,
                '--timestamp-root-cert',
                s.files.tsaRoot,
                ref,
              ]),
              `sign ${format}`,
            ).stdout,
          );
          assert.equal(out[0], SUBJECT);
        }
        const verified = ok(
          await nv2(['verify', '--at', AFTER_EXPIRY, ref]),
          'verify after expiry',
        );
        assert.equal(verified.stdout, `${SUBJECT}\n`);
        assert.match(verified.stderr, /2 signatures found, 2 verified/);
      });
    },
  );
}
