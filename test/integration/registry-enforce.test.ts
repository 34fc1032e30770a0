/**
 * Enforcement at pull through `nv2 registry serve` with a trust policy: skopeo (a client
 * without nv2) cannot copy unsigned or untrusted content out of an enforcing repository and
 * prints the registry's reason; once the image is signed by a trusted signer the same copy
 * succeeds. Referrers stay pullable, audit lets content through, decisions reach the JSON
 * log and the metrics, and SIGHUP reloads the policy.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../../src/registry/index.js';
import { nv2, ok, skopeo } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeImageLayout, writeIndexLayout } from '../helpers/oci-layout.js';
import { type ServeProcess, serve } from '../helpers/serve.js';

describe('registry enforcement at pull (skopeo, nv2 registry serve)', () => {
  let registry: ServeProcess;
  let work: string;
  let configDir: string;

  const push = async (ref: string): Promise<string> => {
    const layout = await tempDir();
    const image = await writeImageLayout(layout, { tag: 'v1', layers: 1, layerSize: 1024 });
    ok(await nv2(['copy', `oci-layout:${layout}:v1`, `${registry.host}/${ref}`]), `push ${ref}`);
    return image.digest;
  };
  const sign = async (ref: string, signer: string): Promise<void> => {
    ok(
      await nv2([
        'sign',
        '-k',
        join(work, `${signer}.key`),
        '-c',
        join(work, `${signer}.crt`),
        `${registry.host}/${ref}`,
      ]),
      `sign ${ref}`,
    );
  };
  const copyOut = async (ref: string) =>
    skopeo(
      'copy',
      '--src-tls-verify=false',
      `docker://${registry.host}/${ref}`,
      `oci:${join(await tempDir(), 'out')}:v1`,
    );

  before(async () => {
    work = await tempDir();
    configDir = join(work, 'trust');
    process.env['NV2_CONFIG_DIR'] = configDir;
    for (const [name, cn] of [
      ['acme-root', 'ACME Root'],
      ['mallory-root', 'Mallory Root'],
    ] as const) {
      ok(
        await nv2(['cert', 'generate', '--ca', '--cn', cn, '--name', name, '--out-dir', work]),
        name,
      );
    }
    for (const [name, root] of [
      ['acme', 'acme-root'],
      ['mallory', 'mallory-root'],
    ] as const) {
      ok(
        await nv2([
          'cert',
          'generate',
          '--cn',
          `${name}.example`,
          '--name',
          name,
          '--out-dir',
          work,
          '--issuer-key',
          join(work, `${root}.key`),
          '--issuer-cert',
          join(work, `${root}.crt`),
        ]),
        name,
      );
    }
    ok(await nv2(['policy', 'init']), 'policy init');
    ok(await nv2(['trust', 'add', join(work, 'acme-root.crt')]), 'trust add');
    const config = join(work, 'registry.yaml');
    // CI pushes and signs; everyone else (skopeo here) pulls anonymously.
    process.env['NV2_USERNAME'] = 'ci';
    process.env['NV2_PASSWORD'] = 'ci-secret';
    await writeFile(
      config,
      [
        'auth:',
        '  users:',
        `    ci: ${JSON.stringify(await hashPassword('ci-secret', { cost: 4 }))}`,
        '  rules:',
        '    - repositories: ["*"]',
        '      users: [ci]',
        '      roles: [writer, signer]',
        '    - repositories: ["*"]',
        '      anonymous: true',
        '      roles: [reader]',
        'trust:',
        `  configDir: ${JSON.stringify(configDir)}`,
        'enforce:',
        '  - repositories: ["prod/*"]',
        '    level: enforce',
        '  - repositories: ["staging/*"]',
        '    level: audit',
        '',
      ].join('\n'),
    );
    registry = await serve(join(work, 'root'), ['--config', config]);
  });
  after(async () => {
    delete process.env['NV2_USERNAME'];
    delete process.env['NV2_PASSWORD'];
    await registry?.stop();
  });

  it('refuses an unsigned image with the reason skopeo prints, and serves it once signed', async () => {
    const digest = await push('prod/app:v1');
    const refused = await copyOut('prod/app:v1');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /denied/i);
    assert.match(refused.stderr, /unsigned: prod\/app@sha256:[0-9a-f]{64} has no signature/);
    const [logged] = await registry.waitForLogs(
      (l) =>
        l['msg'] === 'request' &&
        (l['enforcement'] as { decision?: string } | undefined)?.decision === 'deny',
    );
    assert.equal((logged?.['enforcement'] as { status: string }).status, 'unsigned');
    assert.equal(logged?.['errorCode'], 'DENIED');

    await sign('prod/app:v1', 'acme');
    ok(await copyOut('prod/app:v1'), 'copy once signed');
    const allowed = await registry.waitForLogs(
      (l) => (l['enforcement'] as { decision?: string } | undefined)?.decision === 'allow',
    );
    assert.ok(allowed.some((l) => (l['enforcement'] as { digest: string }).digest === digest));
  });

  it('names the untrusted signer; the signature itself stays pullable', async () => {
    await push('prod/other:v1');
    await sign('prod/other:v1', 'mallory');
    const refused = await copyOut('prod/other:v1');
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /signed only by untrusted keys: 'CN=mallory\.example' \(SHA-256 [0-9a-f]{16}…\)/,
    );
    const { token } = (await (
      await fetch(`${registry.url}/auth/token?scope=repository:prod/other:pull`)
    ).json()) as { token: string };
    const headers = {
      Accept: 'application/vnd.oci.image.manifest.v1+json',
      Authorization: `Bearer ${token}`,
    };
    const manifest = await fetch(`${registry.url}/v2/prod/other/manifests/v1`, { headers });
    assert.equal(manifest.status, 403);
    const body = (await manifest.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]!.code, 'DENIED');
    const head = await fetch(`${registry.url}/v2/prod/other/manifests/v1`, {
      method: 'HEAD',
      headers,
    });
    assert.equal(head.status, 403);
    const digest = /sha256:[0-9a-f]{64}/.exec(body.errors[0]!.message)![0];
    const referrers = (await (
      await fetch(`${registry.url}/v2/prod/other/referrers/${digest}`, { headers })
    ).json()) as { manifests: { digest: string }[] };
    assert.equal(referrers.manifests.length, 1);
    const signature = await fetch(
      `${registry.url}/v2/prod/other/manifests/${referrers.manifests[0]!.digest}`,
      { headers },
    );
    assert.equal(signature.status, 200);
  });

  it('an unsigned image claiming a subject is judged like any image', async () => {
    const digest = await push('prod/sneaky:v1');
    const tokenFor = async (scope: string, basic?: string): Promise<string> =>
      (
        (await (
          await fetch(`${registry.url}/auth/token?scope=${scope}`, {
            headers: basic !== undefined ? { Authorization: `Basic ${basic}` } : {},
          })
        ).json()) as { token: string }
      ).token;
    const ci = await tokenFor(
      'repository:prod/sneaky:pull,push',
      Buffer.from('ci:ci-secret').toString('base64'),
    );
    const type = 'application/vnd.oci.image.manifest.v1+json';
    const original = await fetch(`${registry.url}/v2/prod/sneaky/manifests/v1`, {
      headers: { Accept: type, Authorization: `Bearer ${ci}` },
    });
    assert.equal(original.status, 200);
    const bytes = Buffer.from(await original.arrayBuffer());
    const doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    doc['subject'] = { mediaType: type, digest, size: bytes.length };
    const put = await fetch(`${registry.url}/v2/prod/sneaky/manifests/v2`, {
      method: 'PUT',
      headers: { 'Content-Type': type, Authorization: `Bearer ${ci}` },
      body: JSON.stringify(doc),
    });
    assert.equal(put.status, 201);
    const reader = await tokenFor('repository:prod/sneaky:pull');
    const pulled = await fetch(`${registry.url}/v2/prod/sneaky/manifests/v2`, {
      headers: { Accept: type, Authorization: `Bearer ${reader}` },
    });
    assert.equal(pulled.status, 403);
  });

  it('a signed index makes the platform manifests it lists pullable', async () => {
    const layout = await tempDir();
    await writeIndexLayout(layout, { tag: 'v1' });
    ok(await nv2(['copy', `oci-layout:${layout}:v1`, `${registry.host}/prod/multi:v1`]), 'push');
    const all = async () =>
      skopeo(
        'copy',
        '--all',
        '--src-tls-verify=false',
        `docker://${registry.host}/prod/multi:v1`,
        `oci:${join(await tempDir(), 'out')}:v1`,
      );
    assert.notEqual((await all()).code, 0);
    await sign('prod/multi:v1', 'acme');
    ok(await all(), 'copy --all of a signed index');
    const listedBy = (l: Record<string, unknown>): boolean =>
      (l['enforcement'] as { reason?: string } | undefined)?.reason?.startsWith('listed by') ===
      true;
    await registry.waitForLogs(listedBy, 2);
    assert.equal(registry.logs.filter(listedBy).length, 2);
  });

  it('audit lets unsigned content through and logs the decision; metrics count decisions', async () => {
    await push('staging/app:v1');
    ok(await copyOut('staging/app:v1'), 'copy under audit');
    const [audited] = await registry.waitForLogs(
      (l) => (l['enforcement'] as { decision?: string } | undefined)?.decision === 'audit',
    );
    assert.equal(audited?.['level'], 'warn');
    assert.equal((audited?.['enforcement'] as { status: string }).status, 'unsigned');
    // Repositories no rule names are not judged.
    await push('dev/app:v1');
    ok(await copyOut('dev/app:v1'), 'copy unenforced');
    const metrics = await (await fetch(`${registry.url}/metrics`)).text();
    assert.match(
      metrics,
      /nv2_registry_enforcement_decisions_total\{decision="deny",status="unsigned",level="enforce"\} [1-9]/,
    );
    assert.match(metrics, /nv2_registry_enforcement_decisions_total\{decision="audit"/);
  });

  it('SIGHUP reloads the trust policy: a scope set to skip lets content through', async () => {
    await push('prod/legacy:v1');
    assert.notEqual((await copyOut('prod/legacy:v1')).code, 0);
    ok(
      await nv2(['policy', 'set-level', `${registry.host}/prod/legacy`, 'skip']),
      'policy set-level',
    );
    // Log lines are parsed by the helper's own listener, registered before this one.
    const reloaded = new Promise<void>((resolve) => {
      const check = (): void => {
        if (!registry.logs.some((l) => l['msg'] === 'trust policy reloaded')) return;
        registry.child.stdout!.off('data', check);
        resolve();
      };
      registry.child.stdout!.on('data', check);
    });
    registry.child.kill('SIGHUP');
    await reloaded;
    ok(await copyOut('prod/legacy:v1'), 'copy after reload');
  });
});
