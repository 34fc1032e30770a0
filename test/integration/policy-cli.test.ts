/**
 * Verification by trust policy through the built CLI against nv2's registry: trust required,
 * the key-acquisition hint with an AIA URL served on loopback, trust add --url, audit, skip,
 * flipping a scope's level, and pull into an OCI layout.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nv2, ok } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeImageLayout } from '../helpers/oci-layout.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry.js';

describe('nv2 verify and pull by trust policy', () => {
  let registry: RunningRegistry;
  let aia: ReturnType<typeof createServer>;
  let aiaUrl: string;
  let work: string;
  let signed: string;
  let unsigned: string;
  let digest: string;

  before(async () => {
    process.env['NV2_CONFIG_DIR'] = join(await tempDir(), 'config');
    registry = await startRegistry();
    work = await tempDir();
    ok(
      await nv2([
        'cert',
        'generate',
        '--ca',
        '--cn',
        'Wabbit Networks Root',
        '--name',
        'root',
        '--out-dir',
        work,
      ]),
      'ca',
    );
    const rootDer = await readFile(join(work, 'root.crt'));
    aia = createServer((req, res) => {
      if (req.url === '/root.crt') res.end(rootDer);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => aia.listen(0, '127.0.0.1', resolve));
    aiaUrl = `http://127.0.0.1:${(aia.address() as AddressInfo).port}/root.crt`;
    ok(
      await nv2([
        'cert',
        'generate',
        '--cn',
        '127.0.0.1',
        '--name',
        'wabbit',
        '--out-dir',
        work,
        '--issuer-key',
        join(work, 'root.key'),
        '--issuer-cert',
        join(work, 'root.crt'),
        '--aia-url',
        aiaUrl,
      ]),
      'signer',
    );
    const layout = await tempDir();
    digest = (await writeImageLayout(layout, { tag: 'v1', layers: 2, layerSize: 2048 })).digest;
    signed = `${registry.host}/wabbit-networks/net-monitor:v1`;
    unsigned = `${registry.host}/wabbit-networks/unsigned:v1`;
    ok(await nv2(['copy', `oci-layout:${layout}:v1`, signed]), 'push');
    ok(await nv2(['copy', `oci-layout:${layout}:v1`, unsigned]), 'push unsigned');
    ok(
      await nv2([
        'sign',
        '-k',
        join(work, 'wabbit.key'),
        '-c',
        join(work, 'wabbit.crt'),
        '-r',
        signed,
        signed,
      ]),
      'sign',
    );
    ok(await nv2(['policy', 'init']), 'policy init');
  });
  after(async () => {
    await registry.close();
    aia.close();
  });

  it('refuses an untrusted signer, naming it and where its issuer is published', async () => {
    const refused = await nv2(['verify', signed]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /NV2_ERR_NO_VALID_SIGNATURE/);
    assert.ok(refused.stderr.includes(`nv2 trust add --url ${aiaUrl} --store default`));
    const explained = await nv2(['verify', '--explain', signed]);
    assert.match(explained.stderr, /authenticity\s+enforce\s+FAILED/);
  });

  it('refuses to add a downloaded certificate without confirmation, then trust add --url --yes makes it verify', async () => {
    const refused = await nv2(['trust', 'add', '--url', aiaUrl]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /NV2_ERR_CONFIRMATION_REQUIRED/);
    ok(await nv2(['trust', 'add', '--url', aiaUrl, '--yes']), 'trust add');
    const list = ok(await nv2(['trust', 'list', '--output', 'json']), 'trust list');
    assert.equal((JSON.parse(list.stdout) as unknown[]).length, 1);
    assert.equal(ok(await nv2(['verify', signed]), 'verify').stdout, `${digest}\n`);
  });

  it('trust required refuses unsigned content; audit lets it through with a warning; skip does not verify', async () => {
    const refused = await nv2(['verify', unsigned]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /NV2_ERR_NO_SIGNATURE/);
    const scope = `${registry.host}/wabbit-networks/unsigned`;
    ok(await nv2(['policy', 'set-level', scope, 'audit']), 'set audit');
    const audited = ok(await nv2(['verify', unsigned]), 'verify audit');
    assert.match(audited.stderr, /warning: .*no signatures/);
    ok(await nv2(['policy', 'set-level', scope, 'skip']), 'set skip');
    const skipped = ok(await nv2(['verify', '--explain', unsigned]), 'verify skip');
    assert.match(skipped.stderr, /level:\s+skip/);
    ok(await nv2(['policy', 'set-level', scope, 'strict']), 'set strict');
    assert.equal((await nv2(['verify', unsigned])).code, 1);
  });

  it('pull verifies, then copies by digest into an OCI layout or prints name@digest', async () => {
    const pinned = ok(await nv2(['pull', signed]), 'pull').stdout;
    assert.equal(pinned, `${registry.host}/wabbit-networks/net-monitor@${digest}\n`);
    const out = join(await tempDir(), 'layout');
    ok(await nv2(['pull', '-o', out, signed]), 'pull -o');
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    assert.ok(index.manifests.some((m) => m.digest === digest));
    // The signatures came along: the layout verifies offline under the same policy.
    ok(
      await nv2([
        'verify',
        '--scope',
        `${registry.host}/wabbit-networks/net-monitor`,
        `oci-layout:${out}:v1`,
      ]),
      'verify layout',
    );
    const refused = await nv2(['pull', '-o', join(await tempDir(), 'x'), unsigned]);
    assert.equal(refused.code, 1);
  });

  it('policy import refuses an invalid document and keeps the old one', async () => {
    const bad = join(work, 'bad.json');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(bad, JSON.stringify({ version: '1.0', trustPolicies: [] }));
    const refused = await nv2(['policy', 'import', bad]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /NV2_ERR_TRUST_POLICY_INVALID/);
    ok(await nv2(['verify', signed]), 'still verifies');
  });
});
