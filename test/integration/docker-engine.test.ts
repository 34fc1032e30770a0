/**
 * The `docker nv2` plugin against a real engine: podman's Docker-compatible API service,
 * driven by the real docker client (`DOCKER_HOST=unix://…`), pulling from nv2's registry.
 * What the engine received is read back from the engine: its image list and its events
 * (each container's `create` event names the image reference the container was made from).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pushSignature } from '../../src/notary/index.js';
import { Repository, createRegistryClient } from '../../src/remote/index.js';
import { sign } from '../../src/signature/index.js';
import { loadCertificates, loadPrivateKey } from '../../src/x509/index.js';
import { CLI, type CliResult, nv2, ok } from '../helpers/cli.js';
import { realDocker, runWithEnv } from '../helpers/docker.js';
import { tempDir } from '../helpers/fixtures.js';
import {
  HOST_USR,
  type RunningPodman,
  podmanMissing,
  startPodman,
  writeRunnableImage,
} from '../helpers/podman.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry.js';

const docker = realDocker();
const missing = podmanMissing() ?? (docker === undefined ? 'no docker client on PATH' : undefined);
// CI installs both (.ci/run); elsewhere the tests say what is missing.
const skip = missing !== undefined && process.env.CI === undefined && missing;

describe('docker nv2 against a real engine (podman)', { skip }, () => {
  let registry: RunningRegistry;
  let podman: RunningPodman;
  let work: string;
  let env: Record<string, string | undefined>;
  let site: ReturnType<typeof createServer>;
  let wabbitCaUrl: string;
  const digests: Record<string, string> = {};
  const ref = (name: string): string => `${registry.host}/${name}:v1`;
  const pinned = (name: string): string => `${registry.host}/${name}@${digests[name]!}`;

  const dockerCli = (args: string[]): Promise<CliResult> => runWithEnv(docker!, args, env);
  const withNv2 = (args: string[]): Promise<CliResult> =>
    runWithEnv(process.execPath, [CLI, ...args], env);
  const file = (name: string): string => join(work, name);

  /** The engine's images, each as its repository digests and tags. */
  async function engineImages(): Promise<string[]> {
    const images = (await podman.api('/v1.41/images/json')) as {
      RepoDigests?: string[] | null;
      RepoTags?: string[] | null;
    }[];
    return images.flatMap((i) => [...(i.RepoDigests ?? []), ...(i.RepoTags ?? [])]).sort();
  }

  /** The image references of the engine's events of `status` so far (its event log). */
  async function engineEvents(type: 'container' | 'image', status: string): Promise<string[]> {
    const text = await readFile(join(podman.dir, 'events.log'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { Type: string; Status: string; Image?: string; Name: string })
      .filter((e) => e.Type === type && e.Status === status)
      .map((e) => (type === 'container' ? e.Image! : e.Name));
  }

  async function pushRunnable(name: string, message: string): Promise<void> {
    const layout = await tempDir();
    digests[name] = (await writeRunnableImage(layout, 'v1', message)).digest;
    ok(await nv2(['copy', `oci-layout:${layout}:v1`, ref(name)]), `copy ${name}`);
  }

  before(async () => {
    registry = await startRegistry();
    podman = await startPodman([registry.host]);
    work = await tempDir();
    const { NV2_DOCKER: _ignored, ...rest } = process.env;
    env = {
      ...rest,
      DOCKER_HOST: podman.dockerHost,
      DOCKER_CONFIG: file('docker-config'),
      NV2_CONFIG_DIR: file('nv2-config'),
    };
    ok(await withNv2(['docker', 'install']), 'install');
    // The registry's certification key, and wabbit-networks' CA, whose certificate is
    // published on the publisher's site (named in its signer's certificate, AIA caIssuers).
    const generate = (args: string[]): Promise<CliResult> =>
      withNv2(['cert', 'generate', '--out-dir', work, ...args]);
    ok(await generate(['--cn', '127.0.0.1', '--name', 'registry']), 'registry key');
    ok(await generate(['--cn', '127.0.0.1', '--name', 'other']), 'other key');
    ok(await generate(['--ca', '--cn', 'Wabbit Networks CA', '--name', 'wabbit-ca']), 'CA');
    const caDer = await readFile(file('wabbit-ca.crt'));
    site = createServer((req, res) => {
      if (req.url === '/wabbit-ca.crt') res.end(caDer);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    wabbitCaUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/wabbit-ca.crt`;
    ok(
      await generate([
        '--cn',
        '127.0.0.1',
        '--name',
        'wabbit',
        '--issuer-key',
        file('wabbit-ca.key'),
        '--issuer-cert',
        file('wabbit-ca.crt'),
        '--aia-url',
        wabbitCaUrl,
      ]),
      'wabbit key',
    );
    await pushRunnable('certified/hello', 'hello from certified content');
    await pushRunnable('certified/created', 'created from certified content');
    await pushRunnable('certified/ran', 'ran from certified content');
    await pushRunnable('wabbit-networks/net-monitor', 'net-monitor from wabbit-networks');
    await pushRunnable('community/unsigned', 'unsigned content');
    await pushRunnable('community/untrusted', 'signed by nobody trusted');
    await pushRunnable('community/tampered', 'tampered with');
    const signWith = (signer: string, name: string): Promise<CliResult> =>
      withNv2(['sign', '-k', file(`${signer}.key`), '-c', file(`${signer}.crt`), ref(name)]);
    for (const name of ['certified/hello', 'certified/created', 'certified/ran']) {
      ok(await signWith('registry', name), `sign ${name}`);
    }
    ok(await signWith('wabbit', 'wabbit-networks/net-monitor'), 'sign net-monitor');
    ok(await signWith('other', 'community/untrusted'), 'sign untrusted');
    // A signature by the trusted key whose signature bytes were changed after signing.
    const key = loadPrivateKey(await readFile(file('registry.key')), 'registry.key');
    const chain = loadCertificates(await readFile(file('registry.crt')), 'registry.crt');
    const client = createRegistryClient();
    const tampered = new Repository(registry.host, 'community/tampered', { client });
    const subject = await tampered.resolve('v1');
    const jws = sign(subject, { key, certificateChain: chain.map((c) => c.der) });
    const last = jws.at(-2) === 'A' ? 'B' : 'A';
    await pushSignature(tampered, subject, `${jws.slice(0, -2)}${last}${jws.at(-1)!}`);
    await client.close();
    // Trust required: the trust policy's strict level for the registry; the registry's
    // certification key trusted, wabbit-networks not (yet).
    const policy = file('trustpolicy.json');
    await writeFile(
      policy,
      JSON.stringify({
        version: '1.0',
        trustPolicies: [
          {
            name: 'registry',
            registryScopes: [`${registry.host}/*`],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:public'],
            trustedIdentities: ['*'],
          },
        ],
      }),
    );
    ok(await withNv2(['policy', 'import', policy]), 'policy import');
    ok(await withNv2(['trust', 'add', '--store', 'public', file('registry.crt')]), 'trust add');
    await writeFile(
      file('docker-config/nv2.json'),
      JSON.stringify({ enabled: true, verificationCerts: [], trustPolicy: true }),
    );
  });

  after(async () => {
    await podman?.close();
    await registry?.close();
    await new Promise<void>((resolve) => (site ? site.close(() => resolve()) : resolve()));
  });

  it('pull: verifies a signed image, pulls it by digest and tags it; refuses the others, pulling nothing', async () => {
    const pulled = ok(await dockerCli(['nv2', 'pull', ref('certified/hello')]), 'pull');
    assert.match(pulled.stderr, /1 signature found, 1 verified/);
    const images = await engineImages();
    assert.ok(images.includes(pinned('certified/hello')), images.join(' '));
    assert.ok(images.includes(ref('certified/hello')), images.join(' '));
    for (const [name, code] of [
      ['community/unsigned', /NV2_ERR_NO_SIGNATURE/],
      ['community/untrusted', /NV2_ERR_NO_VALID_SIGNATURE/],
      ['community/tampered', /NV2_ERR_NO_VALID_SIGNATURE: .*(integrity|signature)/],
    ] as const) {
      const refused = await dockerCli(['nv2', 'pull', ref(name)]);
      assert.equal(refused.code, 1, `${name}: ${refused.stderr}`);
      assert.match(refused.stderr, code);
      assert.match(refused.stderr, /^docker nv2: NV2_ERR_\w+: refusing to pull /);
    }
    assert.deepEqual(await engineImages(), images);
  });

  it('create and run: the engine makes the container from the verified NAME@sha256:…', async () => {
    // Images the engine does not have yet: it pulls the verified digest. (Podman's container
    // list names a container's image by the name the engine chose for it, a tag or the bare
    // repository, so the engine's create events are where the reference it received is kept.)
    const creates = (await engineEvents('container', 'create')).length;
    const created = ok(
      await dockerCli([
        'nv2',
        'create',
        '--name',
        'created',
        ...HOST_USR,
        '-e',
        'A=1',
        ref('certified/created'),
      ]),
      'create',
    );
    assert.match(created.stderr, new RegExp(`creating ${pinned('certified/created')}`));
    assert.match(created.stdout, /^[0-9a-f]{64}$/m);
    const started = ok(await dockerCli(['start', '-a', 'created']), 'start');
    assert.equal(started.stdout, 'created from certified content\n');
    const ran = ok(
      await dockerCli([
        'nv2',
        'container',
        'run',
        '--name=ran',
        '-i',
        ...HOST_USR,
        ref('certified/ran'),
        '/usr/bin/cat',
        '/etc/message',
      ]),
      'run',
    );
    assert.equal(ran.stdout, 'ran from certified content\n');
    assert.deepEqual((await engineEvents('container', 'create')).slice(creates), [
      pinned('certified/created'),
      pinned('certified/ran'),
    ]);
  });

  it('create: a local image is verified by its repo digest, and made from it', async () => {
    const creates = (await engineEvents('container', 'create')).length;
    const pulls = await engineEvents('image', 'pull');
    const requests = registry.records.length;
    ok(
      await dockerCli(['nv2', 'create', '--name', 'local', ...HOST_USR, ref('certified/hello')]),
      'create',
    );
    assert.deepEqual((await engineEvents('container', 'create')).slice(creates), [
      pinned('certified/hello'),
    ]);
    // Nothing was pulled for it: the engine had that digest.
    assert.deepEqual(await engineEvents('image', 'pull'), pulls);
    // What the registry was asked: the local image's digest, never its tag.
    const manifests = registry.records
      .slice(requests)
      .filter((r) => r.path.startsWith('/v2/certified/hello/manifests/'))
      .map((r) => r.path.slice('/v2/certified/hello/manifests/'.length));
    assert.ok(manifests.includes(digests['certified/hello']!), manifests.join(' '));
    assert.ok(!manifests.includes('v1'), manifests.join(' '));
  });

  it('run: an unsigned image is refused before the engine pulls anything', async () => {
    const images = await engineImages();
    const pulls = await engineEvents('image', 'pull');
    const creates = await engineEvents('container', 'create');
    const refused = await dockerCli(['nv2', 'run', '--rm', ...HOST_USR, ref('community/unsigned')]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^docker nv2: NV2_ERR_NO_SIGNATURE: refusing to run /);
    assert.deepEqual(await engineImages(), images);
    assert.deepEqual(await engineEvents('image', 'pull'), pulls);
    assert.deepEqual(await engineEvents('container', 'create'), creates);
  });

  it('push: the engine recompresses, the plugin says so, and notary sign --remote pushes the signature to the registry', async () => {
    const image = ref('pushed/hello');
    ok(await dockerCli(['tag', ref('certified/hello'), image]), 'tag');
    const key = ['--key', file('registry.key'), '--cert', file('registry.crt')];
    const signed = ok(await dockerCli(['nv2', 'notary', 'sign', ...key, image]), 'sign');
    const local = signed.stdout.trim();
    // The engine holds the layer uncompressed (docker save shows it so): the plugin says that
    // the engine's push will compress it, so this signature cannot follow.
    assert.match(signed.stderr, /1 layer of .* is stored uncompressed/);
    const pushed = ok(await dockerCli(['nv2', 'push', image]), 'push');
    const line = /v1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(pushed.stdout);
    assert.ok(line !== null, pushed.stdout);
    const digest = line[1]!;
    assert.notEqual(digest, local);
    assert.match(
      pushed.stderr,
      new RegExp(`signatures were kept for ${local}, the local manifest`),
    );
    assert.match(pushed.stderr, new RegExp(`notary sign --remote ${image}`));
    const before = await nv2(['verify', '-c', file('registry.crt'), image]);
    assert.equal(before.code, 1);
    assert.match(before.stderr, /NV2_ERR_NO_SIGNATURE/);
    // As the plugin says: sign what the registry holds; the signature is pushed there.
    const remote = ok(
      await dockerCli(['nv2', 'notary', 'sign', '--remote', ...key, image]),
      'sign --remote',
    );
    assert.equal(remote.stdout.trim(), digest);
    assert.match(remote.stderr, /pushed signature sha256:[0-9a-f]{64} to /);
    const verified = ok(await nv2(['verify', '-c', file('registry.crt'), image]), 'verify');
    assert.equal(verified.stdout.trim(), digest);
    // And docker nv2 pull of the pushed image verifies it under the trust policy.
    const pulled = ok(await dockerCli(['nv2', 'pull', image]), 'pull pushed');
    assert.match(pulled.stderr, /1 signature found, 1 verified/);
  });

  describe("the seed's docker run scenarios", () => {
    it('certified content runs, from the verified digest', async () => {
      const creates = (await engineEvents('container', 'create')).length;
      const ran = ok(
        await dockerCli(['nv2', 'run', '--rm', ...HOST_USR, ref('certified/hello')]),
        'run',
      );
      assert.equal(ran.stdout, 'hello from certified content\n');
      assert.deepEqual((await engineEvents('container', 'create')).slice(creates), [
        pinned('certified/hello'),
      ]);
    });

    it("community content is refused with where to get the publisher's key; runs once it is added", async () => {
      const image = ref('wabbit-networks/net-monitor');
      const images = await engineImages();
      const refused = await dockerCli(['nv2', 'run', '--rm', ...HOST_USR, image]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^docker nv2: NV2_ERR_NO_VALID_SIGNATURE: refusing to run /);
      assert.ok(refused.stderr.includes(`nv2 trust add --url ${wabbitCaUrl}`), refused.stderr);
      assert.deepEqual(await engineImages(), images);
      ok(
        await withNv2(['trust', 'add', '--url', wabbitCaUrl, '--store', 'public', '--yes']),
        'trust add --url',
      );
      const creates = (await engineEvents('container', 'create')).length;
      const ran = ok(await dockerCli(['nv2', 'run', '--rm', ...HOST_USR, image]), 'run');
      assert.equal(ran.stdout, 'net-monitor from wabbit-networks\n');
      assert.deepEqual((await engineEvents('container', 'create')).slice(creates), [
        pinned('wabbit-networks/net-monitor'),
      ]);
    });

    it('with trust-required switched off, anything runs, as the user named it', async () => {
      ok(await dockerCli(['nv2', 'notary', '--enabled=false']), 'disable');
      const creates = (await engineEvents('container', 'create')).length;
      const image = ref('community/unsigned');
      const ran = ok(await dockerCli(['nv2', 'run', '--rm', ...HOST_USR, image]), 'run');
      assert.equal(ran.stdout, 'unsigned content\n');
      assert.deepEqual((await engineEvents('container', 'create')).slice(creates), [image]);
      ok(await dockerCli(['nv2', 'notary', '--enabled=true']), 'enable');
    });
  });
});
