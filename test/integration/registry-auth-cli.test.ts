/**
 * A protected `nv2 registry serve` as the README sets it up: users added with
 * `nv2 registry user add` (password on standard input), roles in the config file, the token
 * signing key generated in the data directory, then `nv2 login` (docker config credentials)
 * and `nv2 sign`, `verify`, `copy` with them; skopeo pushes the image. Also basic-auth mode,
 * and the start-up warning for auth over plain HTTP on a non-loopback address.
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../../src/registry/index.js';
import { nv2, run, ok } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeImageLayout } from '../helpers/oci-layout.js';
import { type ServeProcess, serve } from '../helpers/serve.js';

const PASSWORDS = { wes: 'wes-Secret-1', sam: 'sam-Secret-2', wanda: 'wanda-Secret-3' };

async function writeConfig(dir: string, mode: 'token' | 'basic'): Promise<string> {
  const path = join(dir, `registry-${mode}.yaml`);
  await writeFile(
    path,
    [
      'auth:',
      `  mode: ${mode}`,
      `  htpasswd: ${join(dir, 'htpasswd')}`,
      '  groups:',
      '    release: [wes]',
      '  rules:',
      '    - repositories: ["acme/*"]',
      '      groups: [release]',
      '      roles: [writer, signer]',
      '    - repositories: ["acme/*"]',
      '      users: [sam]',
      '      roles: [signer]',
      '    - repositories: ["acme/*"]',
      '      users: [wanda]',
      '      roles: [writer]',
      '    - repositories: ["public/*"]',
      '      anonymous: true',
      '      roles: [reader]',
      '',
    ].join('\n'),
  );
  return path;
}

describe('protected nv2 registry serve with the nv2 CLI and skopeo', () => {
  let dir: string;
  let root: string;
  let registry: ServeProcess;
  let key: string;
  let cert: string;
  let image: string;

  before(async () => {
    process.env['DOCKER_CONFIG'] = await tempDir();
    dir = await tempDir();
    root = await tempDir();
    const config = await writeConfig(dir, 'token');
    for (const [user, password] of Object.entries(PASSWORDS)) {
      ok(
        await nv2(['registry', 'user', 'add', user, '--config', config, '--cost', '4'], {
          stdin: `${password}\n`,
        }),
        `user add ${user}`,
      );
    }
    registry = await serve(root, ['--config', config]);
    // The certificate names the registry host, as nv2 verify requires of a signed reference.
    ok(await nv2(['cert', 'generate', '--cn', '127.0.0.1', '--out-dir', dir]), 'cert');
    key = join(dir, '127.0.0.1.key');
    cert = join(dir, '127.0.0.1.crt');
    image = await tempDir();
    await writeImageLayout(image, { tag: 'v1', layers: 1, layerSize: 2048 });
  });
  after(async () => {
    await registry?.stop();
  });

  it('user add wrote bcrypt entries, never the password', async () => {
    const text = await readFile(join(dir, 'htpasswd'), 'utf8');
    assert.deepEqual(
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split(':')[0]),
      ['sam', 'wanda', 'wes'],
    );
    assert.match(text, /^wes:\$2y\$04\$/m);
    assert.ok(!text.includes(PASSWORDS.wes));
    assert.equal((await stat(join(dir, 'htpasswd'))).mode & 0o777, 0o600);
    const list = ok(
      await nv2(['registry', 'user', 'list', '--htpasswd', join(dir, 'htpasswd')]),
      'list',
    );
    assert.deepEqual(list.stdout.trim().split('\n'), ['sam', 'wanda', 'wes']);
  });

  it('generated the token signing key in the data directory, mode 0600', async () => {
    const info = await stat(join(root, 'auth', 'token-key.pem'));
    assert.equal(info.mode & 0o777, 0o600);
    assert.equal(registry.logs.find((l) => l['msg'] === 'listening')?.['auth'], 'token');
  });

  it('login, skopeo push, sign, verify and copy with the stored credentials', async () => {
    const host = registry.host;
    const denied = await nv2(['login', host, '-u', 'wes', '--password-stdin'], {
      stdin: 'wrong\n',
    });
    assert.notEqual(denied.code, 0);
    ok(
      await nv2(['login', host, '-u', 'wes', '--password-stdin'], { stdin: `${PASSWORDS.wes}\n` }),
      'login',
    );
    ok(
      await run('skopeo', [
        '--insecure-policy',
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `wes:${PASSWORDS.wes}`,
        `oci:${image}:v1`,
        `docker://${host}/acme/app:v1`,
      ]),
      'skopeo copy',
    );
    const ref = `${host}/acme/app:v1`;
    ok(await nv2(['sign', '-k', key, '-c', cert, '-r', ref, ref]), 'sign');
    ok(await nv2(['verify', '-c', cert, ref]), 'verify');
    ok(await nv2(['copy', ref, `${host}/acme/copy:v1`]), 'copy');
    ok(await nv2(['verify', '-c', cert, `${host}/acme/copy:v1`]), 'verify the copy');
  });

  it('a signer signs but cannot push images; a writer pushes but cannot sign', async () => {
    const host = registry.host;
    ok(
      await nv2(['login', host, '-u', 'sam', '--password-stdin'], { stdin: `${PASSWORDS.sam}\n` }),
      'login sam',
    );
    const ref = `${host}/acme/app:v1`;
    ok(await nv2(['sign', '-k', key, '-c', cert, '-r', ref, ref]), 'sign as signer');
    const copy = await nv2(['copy', '--no-referrers', ref, `${host}/acme/sam:v1`]);
    assert.notEqual(copy.code, 0);
    assert.match(copy.stderr, /writer role/);

    ok(
      await nv2(['login', host, '-u', 'wanda', '--password-stdin'], {
        stdin: `${PASSWORDS.wanda}\n`,
      }),
      'login wanda',
    );
    const sign = await nv2(['sign', '-k', key, '-c', cert, '-r', ref, ref]);
    assert.notEqual(sign.code, 0);
    assert.match(sign.stderr, /signer role/);
    ok(await nv2(['copy', '--no-referrers', ref, `${host}/acme/wanda:v1`]), 'copy as writer');
  });

  it('logs refused logins without the password', async () => {
    await registry.waitForLogs((l) => l['authFailure'] === 'wrong password for user wes');
    const lines = registry.lines.join('\n');
    for (const password of Object.values(PASSWORDS)) assert.ok(!lines.includes(password));
    assert.ok(!lines.includes('"wrong"'));
  });
});

describe('protected nv2 registry serve, basic mode', () => {
  let registry: ServeProcess;
  let dir: string;

  before(async () => {
    dir = await tempDir();
    const config = await writeConfig(dir, 'basic');
    for (const [user, password] of Object.entries(PASSWORDS)) {
      ok(
        await nv2(
          ['registry', 'user', 'add', user, '--htpasswd', join(dir, 'htpasswd'), '--cost', '4'],
          {
            stdin: password,
          },
        ),
        `user add ${user}`,
      );
    }
    registry = await serve(await tempDir(), ['--config', config]);
  });
  after(async () => {
    await registry?.stop();
  });

  it('challenges with Basic, allows anonymous pull where configured, 403 for a signer pushing an image', async () => {
    const base = await fetch(`${registry.url}/v2/`);
    assert.equal(base.status, 401);
    assert.match(base.headers.get('www-authenticate')!, /^Basic realm="nv2-registry"/);
    const anonymous = await fetch(`${registry.url}/v2/public/x/tags/list`);
    assert.equal(anonymous.status, 404); // allowed, and the repository does not exist
    const hidden = await fetch(`${registry.url}/v2/acme/x/tags/list`);
    assert.equal(hidden.status, 401);
    const auth = (user: keyof typeof PASSWORDS) => ({
      Authorization: `Basic ${Buffer.from(`${user}:${PASSWORDS[user]}`).toString('base64')}`,
    });
    assert.equal((await fetch(`${registry.url}/v2/`, { headers: auth('sam') })).status, 200);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.empty.v1+json',
          digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
          size: 2,
        },
        layers: [],
      }),
    );
    const put = await fetch(`${registry.url}/v2/acme/x/manifests/v1`, {
      method: 'PUT',
      headers: { ...auth('sam'), 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    assert.equal(put.status, 403);
    const body = (await put.json()) as { errors: { code: string }[] };
    assert.equal(body.errors[0]!.code, 'DENIED');
    const outside = await fetch(`${registry.url}/v2/team/x/tags/list`, { headers: auth('wes') });
    assert.equal(outside.status, 403);
    const wrong = await fetch(`${registry.url}/v2/`, {
      headers: { Authorization: `Basic ${Buffer.from('wes:nope').toString('base64')}` },
    });
    assert.equal(wrong.status, 401);
  });

  it('works with skopeo --creds', async () => {
    const layout = await tempDir();
    await writeImageLayout(layout, { tag: 'v1', layers: 1, layerSize: 512 });
    ok(
      await run('skopeo', [
        '--insecure-policy',
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `wanda:${PASSWORDS.wanda}`,
        `oci:${layout}:v1`,
        `docker://${registry.host}/acme/basic:v1`,
      ]),
      'skopeo copy',
    );
  });
});

describe('auth over plain HTTP on a network address', () => {
  it('warns at start-up', async () => {
    const dir = await tempDir();
    const config = await writeConfig(dir, 'token');
    await writeFile(join(dir, 'htpasswd'), `wes:${await hashPassword('x', { cost: 4 })}\n`);
    const registry = await serve(await tempDir(), ['--config', config, '--addr', '0.0.0.0:0']);
    try {
      const warning = registry.logs.find((l) => l['level'] === 'warn');
      assert.ok(warning !== undefined, registry.lines.join('\n'));
      assert.match(String(warning['msg']), /clear text/);
    } finally {
      await registry.stop();
    }
  });
});
