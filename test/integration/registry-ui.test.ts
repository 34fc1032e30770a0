/**
 * The registry's web UI in a real browser (headless Chromium driven by playwright-core): a
 * registry filled by the nv2 CLI with signed, unsigned, untrusted and expired images and an
 * SBOM with its own signature; the badges, the referrer tree, search, access control and
 * sign-in/out are checked in the page. Screenshots are saved as test artifacts.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { loadPolicyConfig } from '../../src/policy/index.js';
import {
  createAccessControl,
  createMemoryDriver,
  createRegistry,
  createRegistryTrust,
  createStore,
  hashPassword,
} from '../../src/registry/index.js';
import { artifactsDir, chromiumMissing, launchChromium } from '../helpers/browser.js';
import { nv2, ok } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeImageLayout } from '../helpers/oci-layout.js';

const noChromium = chromiumMissing();

/** Verification happens two days from now: a signature valid for 24 hours has expired. */
const LATER = 2 * 86_400_000;

describe('registry web UI in Chromium', { skip: noChromium }, () => {
  let server: Server;
  let url: string;
  let host: string;
  let work: string;
  let browser: BrowserContext;
  let shots: string;
  const digests: Record<string, string> = {};
  const outside: string[] = [];

  const cli = async (args: string[], what: string): Promise<string> =>
    ok(await nv2(args), what).stdout.trim();
  const push = async (ref: string): Promise<string> => {
    const layout = await tempDir();
    const image = await writeImageLayout(layout, { tag: 'v1', layers: 2, layerSize: 4096 });
    await cli(['copy', `oci-layout:${layout}:v1`, `${host}/${ref}`], `push ${ref}`);
    return image.digest;
  };
  const sign = (ref: string, signer: string, extra: string[] = []): Promise<string> =>
    cli(
      [
        'sign',
        '-k',
        join(work, `${signer}.key`),
        '-c',
        join(work, `${signer}.crt`),
        ...extra,
        `${host}/${ref}`,
      ],
      `sign ${ref}`,
    );
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const statusOf = (page: Page, tag: string) =>
    page.locator(`tr[data-tag="${tag}"] .badge`).getAttribute('data-status');

  before(async () => {
    work = await tempDir();
    shots = await artifactsDir('registry-ui');
    const configDir = join(work, 'trust');
    process.env['NV2_CONFIG_DIR'] = configDir;
    for (const [name, cn] of [
      ['acme-root', 'ACME Root CA'],
      ['mallory-root', 'Mallory Root'],
    ] as const) {
      await cli(['cert', 'generate', '--ca', '--cn', cn, '--name', name, '--out-dir', work], name);
    }
    for (const [name, root] of [
      ['acme', 'acme-root'],
      ['mallory', 'mallory-root'],
    ] as const) {
      await cli(
        [
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
        ],
        name,
      );
    }
    await cli(['policy', 'init'], 'policy init');
    await cli(['trust', 'add', join(work, 'acme-root.crt')], 'trust add');

    const store = createStore(createMemoryDriver());
    const auth = createAccessControl({
      users: {
        ci: await hashPassword('ci-secret', { cost: 4 }),
        alice: await hashPassword('alice-secret', { cost: 4 }),
      },
      rules: [
        { repositories: ['*'], users: ['ci'], roles: ['writer', 'signer'] },
        { repositories: ['secret/*'], users: ['alice'], roles: ['reader'] },
        { repositories: ['acme/*'], anonymous: true, roles: ['reader'] },
      ],
    });
    const trust = createRegistryTrust({
      store,
      policy: await loadPolicyConfig(configDir),
      registryName: () => host,
      enforce: [{ repositories: ['acme/*'], level: 'enforce' }],
      now: () => new Date(Date.now() + LATER),
    });
    server = createServer(createRegistry({ store, auth, trust, ui: true }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    url = `http://${host}`;
    process.env['NV2_USERNAME'] = 'ci';
    process.env['NV2_PASSWORD'] = 'ci-secret';

    digests['v1'] = await push('acme/app:v1');
    await sign('acme/app:v1', 'acme');
    const sbom = join(work, 'sbom.spdx.json');
    await writeFile(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'acme/app' }));
    const attached = await cli(
      [
        'attach',
        '--artifact-type',
        'application/spdx+json',
        `${host}/acme/app:v1`,
        `${sbom}:application/spdx+json`,
      ],
      'attach sbom',
    );
    digests['sbom'] = /sha256:[0-9a-f]{64}/.exec(attached)![0];
    await sign(`acme/app@${digests['sbom']}`, 'acme');
    digests['unsigned'] = await push('acme/app:unsigned');
    digests['untrusted'] = await push('acme/app:untrusted');
    await sign('acme/app:untrusted', 'mallory');
    digests['expired'] = await push('acme/app:expired');
    await sign('acme/app:expired', 'acme', ['-e', '24h']);
    await push('secret/app:v1');
    delete process.env['NV2_USERNAME'];
    delete process.env['NV2_PASSWORD'];

    browser = await launchChromium();
    browser.on('request', (request) => {
      if (!request.url().startsWith(`${url}/`)) outside.push(request.url());
    });
  });
  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('lists what an anonymous visitor may pull, and searches', async (t) => {
    t.diagnostic(`screenshots: ${shots}`);
    const page = await browser.newPage();
    await page.goto(`${url}/ui/`);
    assert.deepEqual(await page.locator('a.repo').allTextContents(), ['acme/app']);
    await page.fill('#search', 'nothing-like-this');
    await page.press('#search', 'Enter');
    await page.waitForURL(/q=nothing-like-this/);
    assert.equal(await page.locator('#empty').count(), 1);
    await page.fill('#search', 'acme');
    await page.press('#search', 'Enter');
    await page.waitForURL(/q=acme/);
    assert.deepEqual(await page.locator('a.repo').allTextContents(), ['acme/app']);
    await shot(page, 'repositories');
    // What anonymous visitors may not pull does not exist for them.
    const hidden = await page.goto(`${url}/ui/repo/secret/app`);
    assert.equal(hidden?.status(), 404);
    await page.close();
  });

  it("shows each tag's trust badge", async () => {
    const page = await browser.newPage();
    await page.goto(`${url}/ui/`);
    await page.click('a.repo');
    await page.waitForURL(/\/ui\/repo\/acme\/app$/);
    assert.equal(await statusOf(page, 'v1'), 'verified');
    assert.equal(await statusOf(page, 'unsigned'), 'unsigned');
    assert.equal(await statusOf(page, 'untrusted'), 'untrusted');
    assert.equal(await statusOf(page, 'expired'), 'expired');
    assert.equal(
      await page.locator('tr[data-tag="v1"] td.mono').getAttribute('title'),
      digests['v1'],
    );
    await shot(page, 'tags');
    await page.close();
  });

  it('shows an artifact: layers, verdict, the referrer tree with the SBOM and its signature, commands', async () => {
    const page = await browser.newPage();
    await page.goto(`${url}/ui/repo/acme/app`);
    await page.click('tr[data-tag="v1"] a');
    await page.waitForURL(/\/ui\/artifact\/acme\/app@sha256:/);
    assert.equal(await page.locator('#verdict').getAttribute('data-status'), 'verified');
    assert.equal(await page.locator('#layers tbody tr').count(), 3);
    const top = page.locator('#referrers > li');
    assert.equal(await top.count(), 2);
    const signature = page.locator('#referrers > li.signature');
    assert.equal(
      await signature.locator('.sig').first().getAttribute('data-signature-status'),
      'verified',
    );
    assert.match((await signature.locator('.signer').first().textContent()) ?? '', /acme\.example/);
    assert.match((await signature.locator('.sig').first().textContent()) ?? '', /ACME Root CA/);
    const sbom = page.locator(`#referrers > li[data-digest="${digests['sbom']}"]`);
    assert.equal(await sbom.getAttribute('data-type'), 'application/spdx+json');
    assert.equal(
      await sbom.locator('li.signature .sig').getAttribute('data-signature-status'),
      'verified',
    );
    const commands = await page.locator('.cmd code').allTextContents();
    assert.ok(commands.includes(`nv2 verify ${host}/acme/app@${digests['v1']}`));
    assert.ok(commands.includes(`docker nv2 pull ${host}/acme/app@${digests['v1']}`));
    assert.ok(commands.some((c) => c.startsWith(`nv2 copy ${host}/acme/app@${digests['v1']} `)));
    await shot(page, 'artifact');
    await page.goto(`${url}/ui/artifact/acme/app@${digests['untrusted']}`);
    assert.equal(await page.locator('#verdict').getAttribute('data-status'), 'untrusted');
    assert.match((await page.locator('#verdict .reason').textContent()) ?? '', /mallory\.example/);
    await page.goto(`${url}/ui/artifact/acme/app@${digests['expired']}`);
    assert.equal(
      await page.locator('li.signature .sig').getAttribute('data-signature-status'),
      'expired',
    );
    await shot(page, 'artifact-expired');
    await page.close();
  });

  it('signs in and out: a signed-in user sees what they may pull', async () => {
    const page = await browser.newPage();
    await page.goto(`${url}/ui/`);
    await page.click('#sign-in');
    await page.fill('#user-input', 'alice');
    await page.fill('#password-input', 'wrong');
    await page.click('#sign-in-submit');
    assert.equal(await page.locator('#sign-in-error').count(), 1);
    await page.fill('#user-input', 'alice');
    await page.fill('#password-input', 'alice-secret');
    await page.click('#sign-in-submit');
    await page.waitForURL(`${url}/ui/`);
    assert.equal(await page.locator('#user').textContent(), 'alice');
    assert.deepEqual(await page.locator('a.repo').allTextContents(), ['acme/app', 'secret/app']);
    const cookie = (await browser.cookies(`${url}/ui/`)).find((c) => c.name === 'nv2_ui_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    await shot(page, 'signed-in');
    await page.click('#sign-out');
    await page.waitForURL(`${url}/ui/`);
    assert.equal(await page.locator('#sign-in').count(), 1);
    assert.deepEqual(await page.locator('a.repo').allTextContents(), ['acme/app']);
    await page.close();
  });

  it('sends a strict CSP, refuses cross-origin sign-in, and the browser reached nothing else', async () => {
    const response = await fetch(`${url}/ui/`);
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    const forged = await fetch(`${url}/ui/sign-in`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Origin: 'http://attacker.example',
      },
      body: 'user=alice&password=alice-secret',
    });
    assert.equal(forged.status, 403);
    assert.equal(forged.headers.get('set-cookie'), null);
    assert.deepEqual(outside, []);
  });

  it('is not served unless asked for', async () => {
    const plain = createServer(createRegistry({ store: createStore(createMemoryDriver()) }));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const port = (plain.address() as AddressInfo).port;
      const response = await fetch(`http://127.0.0.1:${port}/ui/`);
      assert.equal(response.status, 404);
      assert.equal(response.headers.get('content-security-policy'), null);
    } finally {
      plain.closeAllConnections();
      await new Promise((resolve) => plain.close(resolve));
    }
  });
});
