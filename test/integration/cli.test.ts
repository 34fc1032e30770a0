/**
 * The `nv2` CLI contract, run as a user runs it: the built executable in a real process,
 * files on disk, exit codes and what lands on stdout and stderr.
 */
import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { type CliResult, nv2, run } from '../helpers/cli.js';
import { SAMPLE, SAMPLE_MANIFEST, VECTORS_DIR, tempDir } from '../helpers/fixtures.js';

const HOST = 'registry.example.com';

/** stderr is one line naming the code, without a stack trace. */
function assertOneLineError(stderr: string, code: string): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0]!, new RegExp(`^nv2: ${code}: `));
}

describe('nv2 CLI', async () => {
  let dir: string;
  let manifest: string;

  before(async () => {
    dir = await tempDir();
    manifest = join(dir, 'manifest.json');
    await writeFile(manifest, SAMPLE_MANIFEST);
    const gen = await nv2(['cert', 'generate', '--cn', HOST, '--out-dir', dir]);
    assert.equal(gen.code, 0, gen.stderr);
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(
      await readFile(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    const r = await nv2(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), version);
  });

  describe('cert generate', () => {
    it('writes a private key readable by its owner only and a certificate', async () => {
      const key = await stat(join(dir, `${HOST}.key`));
      assert.equal(key.mode & 0o777, 0o600);
      const pem = await readFile(join(dir, `${HOST}.crt`), 'utf8');
      assert.equal(pem.match(/BEGIN CERTIFICATE/g)?.length, 1);
    });

    it('refuses to overwrite, and --force replaces', async () => {
      const before = await readFile(join(dir, `${HOST}.crt`), 'utf8');
      const r = await nv2(['cert', 'generate', '--cn', HOST, '--out-dir', dir]);
      assert.equal(r.code, 2);
      assertOneLineError(r.stderr, 'NV2_ERR_FILE_EXISTS');
      assert.equal(await readFile(join(dir, `${HOST}.crt`), 'utf8'), before);
      const sub = await tempDir();
      assert.equal((await nv2(['cert', 'generate', '--cn', 'x.io', '--out-dir', sub])).code, 0);
      const first = await readFile(join(sub, 'x.io.crt'), 'utf8');
      assert.equal(
        (await nv2(['cert', 'generate', '--cn', 'x.io', '--out-dir', sub, '--force'])).code,
        0,
      );
      assert.notEqual(await readFile(join(sub, 'x.io.crt'), 'utf8'), first);
    });

    it('refuses unknown key types and bad days with exit 2', async () => {
      const sub = await tempDir();
      assert.equal(
        (await nv2(['cert', 'generate', '--cn', 'a', '--key-type', 'dsa', '--out-dir', sub])).code,
        2,
      );
      assert.equal(
        (await nv2(['cert', 'generate', '--cn', 'a', '--days', '0', '--out-dir', sub])).code,
        2,
      );
      assert.deepEqual(await readdir(sub), []);
    });

    it('makes a CA and a signing certificate issued by it, whose file carries the chain', async () => {
      const ca = await tempDir();
      assert.equal(
        (
          await nv2([
            'cert',
            'generate',
            '--cn',
            'Example Root',
            '--ca',
            '--name',
            'root',
            '--key-type',
            'rsa-2048',
            '--out-dir',
            ca,
          ])
        ).code,
        0,
      );
      const r = await nv2([
        'cert',
        'generate',
        '--cn',
        HOST,
        '--name',
        'leaf',
        '--out-dir',
        ca,
        '--issuer-key',
        join(ca, 'root.key'),
        '--issuer-cert',
        join(ca, 'root.crt'),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const chain = await readFile(join(ca, 'leaf.crt'), 'utf8');
      assert.equal(chain.match(/BEGIN CERTIFICATE/g)?.length, 2);
      const sign = await nv2([
        'sign',
        '-k',
        join(ca, 'leaf.key'),
        '-c',
        join(ca, 'leaf.crt'),
        '-r',
        `${HOST}/app:v1`,
        '-o',
        join(ca, 's.jwt'),
        `file:${manifest}`,
      ]);
      assert.equal(sign.code, 0, sign.stderr);
      const inspect = JSON.parse(
        (await nv2(['inspect', '--output', 'json', join(ca, 's.jwt')])).stdout,
      ) as { certificates: unknown[] };
      assert.equal(inspect.certificates.length, 2);
      const ok = await nv2([
        'verify',
        '-f',
        join(ca, 's.jwt'),
        '--ca-cert',
        join(ca, 'root.crt'),
        `file:${manifest}`,
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout.trim(), SAMPLE.descriptor.digest);
      // The leaf alone is not a CA: it cannot issue.
      const bad = await nv2([
        'cert',
        'generate',
        '--cn',
        'x',
        '--out-dir',
        ca,
        '--issuer-key',
        join(ca, 'leaf.key'),
        '--issuer-cert',
        join(ca, 'leaf.crt'),
      ]);
      assert.equal(bad.code, 2);
      assertOneLineError(bad.stderr, 'NV2_ERR_INVALID_CERTIFICATE');
    });
  });

  describe('sign and verify', () => {
    const key = (): string => join(dir, `${HOST}.key`);
    const cert = (): string => join(dir, `${HOST}.crt`);
    /** `nv2 sign` of the sample manifest with the test identity, writing `out`. */
    const signSample = (out: string, ...flags: string[]): Promise<CliResult> =>
      nv2(['sign', '-k', key(), '-c', cert(), '-o', out, ...flags, `file:${manifest}`]);
    /** `nv2 verify` of `sig` against `target` (default: the sample manifest). */
    const verifySample = (
      sig: string,
      flags: string[] = [],
      target = `file:${manifest}`,
    ): Promise<CliResult> => nv2(['verify', '-f', sig, ...flags, target]);

    it('signs to <digest hex>.jwt by default, prints the digest, and verifies', async () => {
      const work = await tempDir();
      const r = await nv2(
        [
          'sign',
          '-m',
          'x509',
          '-k',
          key(),
          '-c',
          cert(),
          '-r',
          `${HOST}/net-monitor:v1`,
          `file:${manifest}`,
        ],
        {
          cwd: work,
        },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${SAMPLE.descriptor.digest}\n`);
      const sigFile = join(work, `${SAMPLE.descriptor.digest.slice('sha256:'.length)}.jwt`);
      const v = await verifySample(sigFile, ['-c', cert()]);
      assert.equal(v.code, 0, v.stderr);
      assert.equal(v.stdout, `${SAMPLE.descriptor.digest}\n`);
      assert.equal(v.stderr, '');
    });

    it('reads the manifest from standard input with - and file:-', async () => {
      const sig = join(await tempDir(), 's.jwt');
      const r = await nv2(['sign', '-k', key(), '-c', cert(), '-o', sig, '-'], {
        stdin: SAMPLE_MANIFEST,
      });
      assert.equal(r.code, 0, r.stderr);
      const v = await nv2(['verify', '-f', sig, '-c', cert(), 'file:-'], {
        stdin: SAMPLE_MANIFEST,
      });
      assert.equal(v.code, 0, v.stderr);
    });

    it('puts a kid in the header without -c, and verify finds the certificate by it', async () => {
      const sig = join(await tempDir(), 'kid.jwt');
      assert.equal((await nv2(['sign', '-k', key(), '-o', sig, `file:${manifest}`])).code, 0);
      const info = JSON.parse((await nv2(['inspect', '--output', 'json', sig])).stdout) as {
        header: Record<string, unknown>;
      };
      assert.match(String(info.header['kid']), /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
      assert.equal(info.header['x5c'], undefined);
      assert.equal((await verifySample(sig, ['-c', cert()])).code, 0);
      const unknown = await verifySample(sig);
      assert.equal(unknown.code, 1);
      assertOneLineError(unknown.stderr, 'NV2_ERR_SIGNER_UNKNOWN');
    });

    it('-e sets nbf and exp; --media-type overrides the manifest field; --alg chooses', async () => {
      const rsa = await tempDir();
      assert.equal(
        (await nv2(['cert', 'generate', '--cn', HOST, '--key-type', 'rsa-2048', '--out-dir', rsa]))
          .code,
        0,
      );
      const rsaCert = join(rsa, `${HOST}.crt`);
      const sig = join(rsa, 'e.jwt');
      const mediaType = 'application/vnd.example+json';
      const r = await nv2([
        'sign',
        '-k',
        join(rsa, `${HOST}.key`),
        '-c',
        rsaCert,
        '-e',
        '24h',
        '--alg',
        'PS256',
        '--media-type',
        mediaType,
        '-o',
        sig,
        `file:${manifest}`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const info = JSON.parse((await nv2(['inspect', '--output', 'json', sig])).stdout) as {
        header: { alg: string };
        claims: { iat: number; nbf: number; exp: number; mediaType: string };
      };
      assert.equal(info.header.alg, 'PS256');
      assert.equal(info.claims.nbf, info.claims.iat);
      assert.equal(info.claims.exp, info.claims.iat + 86400);
      assert.equal(info.claims.mediaType, mediaType);
      assert.equal((await verifySample(sig, ['-c', rsaCert])).code, 1);
      assert.equal((await verifySample(sig, ['-c', rsaCert, '--media-type', mediaType])).code, 0);
      const late = await verifySample(sig, [
        '-c',
        rsaCert,
        '--media-type',
        mediaType,
        '--at',
        String(info.claims.exp),
      ]);
      assert.equal(late.code, 1);
      assertOneLineError(late.stderr, 'NV2_ERR_SIGNATURE_EXPIRED');
    });

    it('refuses a tampered manifest, an untrusted signer and a foreign registry with exit 1 and one line', async () => {
      const work = await tempDir();
      const sig = join(work, 's.jwt');
      assert.equal((await signSample(sig, '-r', `${HOST}/a:1`)).code, 0);
      const tampered = join(work, 'tampered.json');
      await writeFile(tampered, Buffer.concat([SAMPLE_MANIFEST, Buffer.from(' ')]));
      const t = await verifySample(sig, ['-c', cert()], `file:${tampered}`);
      assert.equal(t.code, 1);
      assertOneLineError(t.stderr, 'NV2_ERR_DIGEST_MISMATCH');
      assert.equal(t.stdout, '');
      const u = await verifySample(sig);
      assert.equal(u.code, 1);
      assertOneLineError(u.stderr, 'NV2_ERR_CERT_UNTRUSTED');
      const foreign = join(work, 'foreign.jwt');
      const s = await signSample(foreign, '-r', 'other.io/a:1');
      assert.equal(s.code, 0);
      assert.match(s.stderr, /^nv2: warning: /);
      const f = await verifySample(foreign, ['-c', cert()]);
      assert.equal(f.code, 1);
      assertOneLineError(f.stderr, 'NV2_ERR_REFERENCE_MISMATCH');
    });

    it('accepts a signature file ending with a newline', async () => {
      const sig = join(await tempDir(), 's.jwt');
      assert.equal((await signSample(sig)).code, 0);
      await writeFile(sig, `${await readFile(sig, 'utf8')}\n`);
      assert.equal((await verifySample(sig, ['-c', cert()])).code, 0);
    });

    it('refuses malformed signature files with exit 1 and one line, never a crash', async () => {
      const work = await tempDir();
      const cases: [string, Buffer | string, string][] = [
        ['empty', '', 'NV2_ERR_SIGNATURE_MALFORMED'],
        ['two-parts', 'eyJ0eXAiOiJ4NTA5In0.e30', 'NV2_ERR_SIGNATURE_MALFORMED'],
        ['bad-base64', 'ey!!.e30.AAAA', 'NV2_ERR_SIGNATURE_MALFORMED'],
        [
          'not-json',
          `${Buffer.from('nope').toString('base64url')}.e30.AAAA`,
          'NV2_ERR_SIGNATURE_MALFORMED',
        ],
        ['garbage', Buffer.alloc(10 * 1024 * 1024, 0x41), 'NV2_ERR_SIGNATURE_TOO_LARGE'],
      ];
      for (const [name, content, code] of cases) {
        const path = join(work, name);
        await writeFile(path, content);
        const r = await verifySample(path, ['-c', cert()]);
        assert.equal(r.code, 1, `${name}: ${r.stderr}`);
        assertOneLineError(r.stderr, code);
      }
    });

    it('reports usage and input errors with exit 2', async () => {
      const missingSig = await verifySample(join(dir, 'missing.jwt'), ['-c', cert()]);
      assert.equal(missingSig.code, 2);
      assertOneLineError(missingSig.stderr, 'NV2_ERR_FILE_NOT_FOUND');
      assert.equal((await nv2(['verify', `file:${manifest}`])).code, 2); // -f is required
      assert.equal((await nv2(['sign', '--no-such-flag', `file:${manifest}`])).code, 2);
      assert.equal((await nv2(['no-such-command'])).code, 2);
      const target = await nv2(['sign', '-k', key(), 'ftp://example.com/a:1']);
      assert.equal(target.code, 2);
      assertOneLineError(target.stderr, 'NV2_ERR_INVALID_TARGET');
      const badKey = await nv2(['sign', '-k', cert(), `file:${manifest}`]);
      assert.equal(badKey.code, 2);
      assertOneLineError(badKey.stderr, 'NV2_ERR_INVALID_KEY');
      const other = await tempDir();
      await nv2(['cert', 'generate', '--cn', 'other.io', '--out-dir', other]);
      const mismatch = await nv2([
        'sign',
        '-k',
        join(other, 'other.io.key'),
        '-c',
        cert(),
        `file:${manifest}`,
      ]);
      assert.equal(mismatch.code, 2);
      assertOneLineError(mismatch.stderr, 'NV2_ERR_KEY_CERT_MISMATCH');
      assert.equal((await nv2(['sign', '-m', 'pgp', '-k', key(), `file:${manifest}`])).code, 2);
      const expiry = await nv2(['sign', '-k', key(), '-e', '90', `file:${manifest}`]);
      assert.equal(expiry.code, 2);
      assertOneLineError(expiry.stderr, 'NV2_ERR_INVALID_ARGUMENT');
    });

    it('prints the stack with --debug', async () => {
      const r = await nv2([
        '--debug',
        'verify',
        '-f',
        join(dir, 'missing.jwt'),
        `file:${manifest}`,
      ]);
      assert.equal(r.code, 2);
      assert.ok(r.stderr.trimEnd().split('\n').length > 1);
      assert.match(r.stderr, /at /);
    });
  });

  describe('seed vectors through the CLI', () => {
    const seed = new URL('nv2-seed/', VECTORS_DIR);
    for (const file of ['x509_x5c.nv2.jwt', 'x509_kid.nv2.jwt']) {
      it(`${file}: verifies at a time inside validity, expired now`, async () => {
        // The signed manifest itself was never published. Inside the validity window every
        // rule before the digest check passes, so verification stops exactly there.
        const sig = new URL(file, seed).pathname;
        const cert = new URL('example.crt', seed).pathname;
        const info = await nv2(['inspect', '--output', 'json', sig]);
        assert.equal(info.code, 0);
        assert.equal((JSON.parse(info.stdout) as { claims: { size: number } }).claims.size, 528);
        const now = await nv2(['verify', '-f', sig, '-c', cert, `file:${manifest}`]);
        assert.equal(now.code, 1);
        assertOneLineError(now.stderr, 'NV2_ERR_CERT_EXPIRED');
        const then = await nv2([
          'verify',
          '-f',
          sig,
          '-c',
          cert,
          '--at',
          '2021-01-01T00:00:00Z',
          `file:${manifest}`,
        ]);
        assert.equal(then.code, 1);
        assertOneLineError(then.stderr, 'NV2_ERR_DIGEST_MISMATCH');
      });
    }
  });

  describe('interoperability with openssl', () => {
    it('signs with an openssl-made RSA key (PKCS#1) and self-signed certificate, and verifies', async () => {
      const work = await tempDir();
      const gen = await run(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          'k8.pem',
          '-out',
          'c.pem',
          '-days',
          '2',
          '-subj',
          `/CN=${HOST}`,
        ],
        { cwd: work },
      );
      assert.equal(gen.code, 0, gen.stderr);
      const pkcs1 = await run(
        'openssl',
        ['rsa', '-in', 'k8.pem', '-traditional', '-out', 'k1.pem'],
        { cwd: work },
      );
      assert.equal(pkcs1.code, 0, pkcs1.stderr);
      assert.match(await readFile(join(work, 'k1.pem'), 'utf8'), /BEGIN RSA PRIVATE KEY/);
      const s = await nv2(
        [
          'sign',
          '-k',
          'k1.pem',
          '-c',
          'c.pem',
          '-r',
          `${HOST}/x:1`,
          '-o',
          's.jwt',
          `file:${manifest}`,
        ],
        { cwd: work },
      );
      assert.equal(s.code, 0, s.stderr);
      const v = await nv2(['verify', '-f', 's.jwt', '-c', 'c.pem', `file:${manifest}`], {
        cwd: work,
      });
      assert.equal(v.code, 0, v.stderr);
    });

    it('signs with an openssl-made EC key (SEC1) for P-384 as ES384', async () => {
      const work = await tempDir();
      assert.equal(
        (
          await run('openssl', ['ecparam', '-name', 'secp384r1', '-genkey', '-out', 'ec.pem'], {
            cwd: work,
          })
        ).code,
        0,
      );
      assert.match(await readFile(join(work, 'ec.pem'), 'utf8'), /BEGIN EC PRIVATE KEY/);
      const cert = await run(
        'openssl',
        ['req', '-x509', '-key', 'ec.pem', '-out', 'c.pem', '-days', '2', '-subj', `/CN=${HOST}`],
        { cwd: work },
      );
      assert.equal(cert.code, 0, cert.stderr);
      assert.equal(
        (
          await nv2(['sign', '-k', 'ec.pem', '-c', 'c.pem', '-o', 's.jwt', `file:${manifest}`], {
            cwd: work,
          })
        ).code,
        0,
      );
      const info = JSON.parse(
        (await nv2(['inspect', '--output', 'json', 's.jwt'], { cwd: work })).stdout,
      ) as { header: { alg: string } };
      assert.equal(info.header.alg, 'ES384');
      assert.equal(
        (await nv2(['verify', '-f', 's.jwt', '-c', 'c.pem', `file:${manifest}`], { cwd: work }))
          .code,
        0,
      );
    });
  });

  it('demo runs the story end to end', async () => {
    const r = await nv2(['demo']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Every step behaved as the story says \(\d+ commands\)/);
  });
});
