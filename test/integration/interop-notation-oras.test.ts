/**
 * The real `notation` and `oras` CLIs against nv2's registry and CNCF distribution, both behind
 * Docker token auth with writer, signer and reader users: notation signs (JWS and COSE, with
 * its default referrers tag schema) and nv2 verifies; nv2 signs and notation verifies; oras
 * logs in, attaches, discovers and copies with referrers. Each part runs when its program is on
 * PATH (notation 1.3, oras 1.2 or later) and otherwise reports that it did not run and why.
 *
 * notation is driven only through its documented interface: `NOTATION_USERNAME` and
 * `NOTATION_PASSWORD`, `--insecure-registry` for plain HTTP, and a configuration directory
 * (`$XDG_CONFIG_HOME/notation`) holding `signingkeys.json` (a key and certificate chain by
 * path), `trustpolicy.json` and `truststore/x509/ca/<name>/`.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Descriptor } from '../../src/oci/index.js';
import {
  createAccessControl,
  createMemoryDriver,
  createRegistry,
  createStore,
  hashPassword,
} from '../../src/registry/index.js';
import { Repository, createRegistryClient, staticCredentials } from '../../src/remote/index.js';
import { pushImage } from '../helpers/admission.js';
import { type CliResult, nv2, ok, run } from '../helpers/cli.js';
import { distributionMissing, startDistribution } from '../helpers/distribution.js';
import { tempDir } from '../helpers/fixtures.js';
import { findOnPath, programMissing } from '../helpers/programs.js';
import { startAuthProxy, startTokenServer } from '../helpers/token-server.js';

const PASSWORDS = {
  wanda: 'writer-pass',
  sam: 'signer-pass',
  wes: 'writer-signer-pass',
  rita: 'reader-pass',
} as const;
type User = keyof typeof PASSWORDS;

const NOTATION_SIGNATURE = 'application/vnd.cncf.notary.signature';
const SBOM_TYPE = 'application/vnd.nv2-test.sbom.v1+json';

const noNotation = programMissing(
  'notation',
  "install the Notary Project's notation CLI (1.3 or later) to run the notation interoperability tests",
);
const noOras = programMissing(
  'oras',
  'install the ORAS CLI (1.2 or later) to run the oras interoperability tests',
);

/** A registry under test, reached through token auth. */
interface Target {
  readonly host: string;
  /** Whether the registry enforces roles (nv2's does; the distribution front grants users all). */
  readonly roles: boolean;
  close(): Promise<void>;
}

/**
 * nv2's registry with token auth: wanda writes, sam signs, wes does both, rita reads, in acme/*.
 */
async function startNv2Registry(): Promise<Target> {
  const users: Record<string, string> = {};
  for (const [name, password] of Object.entries(PASSWORDS)) {
    users[name] = await hashPassword(password, { cost: 4 });
  }
  const auth = createAccessControl({
    users,
    rules: [
      { repositories: ['acme/*'], users: ['wanda'], roles: ['writer'] },
      { repositories: ['acme/*'], users: ['sam'], roles: ['signer'] },
      { repositories: ['acme/*'], users: ['wes'], roles: ['writer', 'signer'] },
      { repositories: ['acme/*'], users: ['rita'], roles: ['reader'] },
    ],
    failures: { burst: 1000, refillSeconds: 60 },
  });
  const server = createServer(createRegistry({ store: createStore(createMemoryDriver()), auth }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    roles: true,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** CNCF distribution (no referrers API) behind a token-auth front with the same users. */
async function startDistributionRegistry(): Promise<Target> {
  const registry = await startDistribution();
  const tokens = await startTokenServer({ users: { ...PASSWORDS } });
  const proxy = await startAuthProxy({ upstream: registry.url, mode: 'bearer', tokens });
  return {
    host: proxy.host,
    roles: false,
    close: async () => {
      await proxy.close();
      await tokens.close();
      await registry.close();
    },
  };
}

/** Pushes an image as wanda (a writer) with nv2's client; returns its manifest descriptor. */
async function pushAsWriter(host: string, repository: string, seed: string): Promise<Descriptor> {
  const client = createRegistryClient({ credentials: staticCredentials('wanda', PASSWORDS.wanda) });
  try {
    return await pushImage(new Repository(host, repository, { client }), 'v1', seed);
  } finally {
    await client.close();
  }
}

/** `nv2 cert generate`: a root CA and a signing certificate it issued (leaf and root in one file). */
async function makePki(dir: string): Promise<{ root: string; key: string; cert: string }> {
  ok(
    await nv2([
      'cert',
      'generate',
      '--ca',
      '--cn',
      'nv2 interop root',
      '--name',
      'root',
      '--out-dir',
      dir,
    ]),
    'root CA',
  );
  ok(
    await nv2([
      'cert',
      'generate',
      '--cn',
      'interop.nv2.test',
      '--name',
      'signer',
      '--out-dir',
      dir,
      '--issuer-key',
      join(dir, 'root.key'),
      '--issuer-cert',
      join(dir, 'root.crt'),
    ]),
    'signing certificate',
  );
  return {
    root: join(dir, 'root.crt'),
    key: join(dir, 'signer.key'),
    cert: join(dir, 'signer.crt'),
  };
}

/**
 * A notation home: `$XDG_CONFIG_HOME/notation` with the signing key by path, a trust policy for
 * `scopes` trusting `root` (store `ca:nv2-interop`), and the root in the trust store.
 */
async function notationHome(
  pki: { root: string; key: string; cert: string },
  scopes: readonly string[],
): Promise<string> {
  const home = await tempDir();
  const config = join(home, '.config', 'notation');
  const store = join(config, 'truststore', 'x509', 'ca', 'nv2-interop');
  await mkdir(store, { recursive: true });
  await writeFile(join(store, 'root.crt'), await readFile(pki.root));
  await writeFile(
    join(config, 'signingkeys.json'),
    JSON.stringify({
      default: 'nv2-interop',
      keys: [{ name: 'nv2-interop', keyPath: pki.key, certPath: pki.cert }],
    }),
  );
  await writeFile(
    join(config, 'trustpolicy.json'),
    JSON.stringify({
      version: '1.0',
      trustPolicies: [
        {
          name: 'nv2-interop',
          registryScopes: scopes,
          signatureVerification: { level: 'strict' },
          trustStores: ['ca:nv2-interop'],
          trustedIdentities: ['*'],
        },
      ],
    }),
  );
  return home;
}

/** Runs notation as `user` with the configuration of `home`. */
function notation(home: string, user: User, args: readonly string[]): Promise<CliResult> {
  return run(findOnPath('notation')!, args, {
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_CACHE_HOME: join(home, '.cache'),
      NOTATION_USERNAME: user,
      NOTATION_PASSWORD: PASSWORDS[user],
    },
  });
}

/** Runs oras with `home` as HOME (its default docker config lives there). */
function oras(home: string, args: readonly string[], stdin?: string): Promise<CliResult> {
  return run(findOnPath('oras')!, args, {
    cwd: home,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home },
    ...(stdin !== undefined ? { stdin } : {}),
  });
}

/** `oras login` as `user` into its own registry config file; returns the file. */
async function orasLogin(home: string, host: string, user: User): Promise<string> {
  const config = join(home, `${user}.config.json`);
  ok(
    await oras(
      home,
      ['login', '--plain-http', '--registry-config', config, '-u', user, '--password-stdin', host],
      `${PASSWORDS[user]}\n`,
    ),
    `oras login ${user}`,
  );
  return config;
}

/**
 * The artifact types `oras discover --format json` lists: oras 1.2 prints `manifests`, 1.3 a
 * tree whose `referrers` nest.
 */
function discovered(stdout: string): string[] {
  interface Node {
    artifactType?: string;
    manifests?: Node[];
    referrers?: Node[];
  }
  const out: string[] = [];
  const walk = (node: Node): void => {
    for (const child of [...(node.manifests ?? []), ...(node.referrers ?? [])]) {
      if (child.artifactType !== undefined) out.push(child.artifactType);
      walk(child);
    }
  };
  walk(JSON.parse(stdout) as Node);
  return out.sort();
}

/** A token for `user` from nv2's token endpoint, then a GET of `path` with it. */
async function getAs(host: string, user: User, path: string, accept: string): Promise<Response> {
  const url = new URL(`http://${host}/auth/token`);
  url.searchParams.set('service', 'nv2-registry');
  url.searchParams.set(
    'scope',
    `repository:${path.split('/manifests/')[0]!.slice('/v2/'.length)}:pull`,
  );
  const res = await fetch(url, {
    headers: {
      Authorization: `Basic ${Buffer.from(`${user}:${PASSWORDS[user]}`).toString('base64')}`,
    },
  });
  const { token } = (await res.json()) as { token: string };
  return fetch(`http://${host}${path}`, {
    headers: { Authorization: `Bearer ${token}`, Accept: accept },
  });
}

const TARGETS = [
  { name: "nv2's registry", start: startNv2Registry, missing: undefined },
  { name: 'CNCF distribution', start: startDistributionRegistry, missing: distributionMissing() },
] as const;

for (const target of TARGETS) {
  describe(
    `notation and nv2 on ${target.name}, through token auth`,
    { skip: noNotation ?? target.missing },
    () => {
      let registry: Target;
      let pki: { root: string; key: string; cert: string };
      let home: string;
      before(async () => {
        registry = await target.start();
        pki = await makePki(await tempDir());
        home = await notationHome(pki, [
          `${registry.host}/acme/by-notation`,
          `${registry.host}/acme/by-nv2`,
        ]);
      });
      after(() => registry.close());

      it('notation signs in JWS and COSE as a signer (its default referrers tag schema), and nv2 verifies', async () => {
        const image = await pushAsWriter(registry.host, 'acme/by-notation', 'signed by notation');
        const ref = `${registry.host}/acme/by-notation@${image.digest}`;
        for (const format of ['jws', 'cose']) {
          const signed = await notation(home, 'sam', [
            'sign',
            '--insecure-registry',
            '--signature-format',
            format,
            '--key',
            'nv2-interop',
            ref,
          ]);
          assert.equal(signed.code, 0, `notation sign ${format}: ${signed.stderr}`);
          assert.match(signed.stdout, /Successfully signed/);
        }
        // A reader may not sign.
        const reader = await notation(home, 'rita', [
          'sign',
          '--insecure-registry',
          '--signature-format',
          'jws',
          '--key',
          'nv2-interop',
          ref,
        ]);
        assert.notEqual(reader.code, 0);
        const verified = ok(
          await nv2(['verify', '-u', 'rita', '-p', PASSWORDS.rita, '--ca-cert', pki.root, ref]),
          'nv2 verify',
        );
        assert.equal(verified.stdout, `${image.digest}\n`);
        assert.match(verified.stderr, /2 signatures found, 2 verified/);
        if (registry.roles) {
          // notation wrote the referrers index under the tag schema as the signer, and it lists
          // both signatures.
          const tag = image.digest.replace(':', '-');
          const res = await getAs(
            registry.host,
            'rita',
            `/v2/acme/by-notation/manifests/${tag}`,
            'application/vnd.oci.image.index.v1+json',
          );
          assert.equal(res.status, 200);
          const index = (await res.json()) as { manifests: { artifactType?: string }[] };
          assert.deepEqual(
            index.manifests.map((m) => m.artifactType),
            [NOTATION_SIGNATURE, NOTATION_SIGNATURE],
          );
        }
      });

      it('nv2 signs in JWS and COSE as a signer, and notation verifies as a reader', async () => {
        const image = await pushAsWriter(registry.host, 'acme/by-nv2', 'signed by nv2');
        const ref = `${registry.host}/acme/by-nv2@${image.digest}`;
        for (const format of ['jws', 'cose']) {
          ok(
            await nv2([
              'sign',
              '-u',
              'sam',
              '-p',
              PASSWORDS.sam,
              '--signature-format',
              format,
              '-k',
              pki.key,
              '-c',
              pki.cert,
              ref,
            ]),
            `nv2 sign ${format}`,
          );
        }
        const verified = await notation(home, 'rita', ['verify', '--insecure-registry', ref]);
        assert.equal(verified.code, 0, `notation verify: ${verified.stdout}${verified.stderr}`);
        assert.match(verified.stdout, /Successfully verified signature/);
        // Not under a root notation does not trust.
        const other = await makePki(await tempDir());
        const untrusted = await notationHome(other, [`${registry.host}/acme/by-nv2`]);
        const refused = await notation(untrusted, 'rita', ['verify', '--insecure-registry', ref]);
        assert.notEqual(refused.code, 0);
      });
    },
  );

  describe(`oras on ${target.name}, through token auth`, { skip: noOras ?? target.missing }, () => {
    let registry: Target;
    let home: string;
    let pki: { root: string; key: string; cert: string };
    before(async () => {
      registry = await target.start();
      home = await tempDir();
      pki = await makePki(await tempDir());
    });
    after(() => registry.close());

    it('logs in, attaches as a writer, discovers as a reader, and copies with referrers; the copy still verifies', async () => {
      const image = await pushAsWriter(registry.host, 'acme/oras', 'attached by oras');
      const ref = `${registry.host}/acme/oras@${image.digest}`;
      ok(
        await nv2(['sign', '-u', 'sam', '-p', PASSWORDS.sam, '-k', pki.key, '-c', pki.cert, ref]),
        'nv2 sign',
      );
      const writer = await orasLogin(home, registry.host, 'wanda');
      const reader = await orasLogin(home, registry.host, 'rita');
      const both = await orasLogin(home, registry.host, 'wes');
      await writeFile(join(home, 'sbom.json'), '{"spdxVersion":"SPDX-2.3"}\n');
      ok(
        await oras(home, [
          'attach',
          '--plain-http',
          '--registry-config',
          writer,
          '--artifact-type',
          SBOM_TYPE,
          ref,
          'sbom.json:application/spdx+json',
        ]),
        'oras attach',
      );
      const listing = ok(
        await oras(home, [
          'discover',
          '--plain-http',
          '--registry-config',
          reader,
          '--format',
          'json',
          ref,
        ]),
        'oras discover',
      );
      const types = discovered(listing.stdout);
      assert.ok(types.includes(SBOM_TYPE), types.join(', '));
      assert.ok(types.includes('application/vnd.cncf.notary.v2'), types.join(', '));
      // nv2 lists oras's attachment beside its own signature.
      const nv2Listing = ok(
        await nv2(['discover', '-u', 'rita', '-p', PASSWORDS.rita, '--output', 'json', ref]),
        'nv2 discover',
      );
      assert.match(nv2Listing.stdout, new RegExp(SBOM_TYPE.replace(/[.+]/g, '\\$&')));

      const copy = `${registry.host}/acme/oras-copy:v1`;
      ok(
        await oras(home, [
          'cp',
          '-r',
          '--from-plain-http',
          '--to-plain-http',
          '--from-registry-config',
          reader,
          '--to-registry-config',
          both,
          ref,
          copy,
        ]),
        'oras cp -r',
      );
      const copied = discovered(
        ok(
          await oras(home, [
            'discover',
            '--plain-http',
            '--registry-config',
            reader,
            '--format',
            'json',
            copy,
          ]),
          'discover copy',
        ).stdout,
      );
      assert.deepEqual(copied, types);
      const verified = ok(
        await nv2(['verify', '-u', 'rita', '-p', PASSWORDS.rita, '--ca-cert', pki.root, copy]),
        'nv2 verify copy',
      );
      assert.equal(verified.stdout, `${image.digest}\n`);
    });

    it('is held to the roles: a reader cannot attach, and on nv2 a signer attaches signatures only', async () => {
      const image = await pushAsWriter(registry.host, 'acme/oras-roles', 'roles');
      const ref = `${registry.host}/acme/oras-roles@${image.digest}`;
      await writeFile(join(home, 'note.txt'), 'note\n');
      const reader = await orasLogin(home, registry.host, 'rita');
      const refused = await oras(home, [
        'attach',
        '--plain-http',
        '--registry-config',
        reader,
        '--artifact-type',
        SBOM_TYPE,
        ref,
        'note.txt:text/plain',
      ]);
      assert.notEqual(refused.code, 0);
      if (!registry.roles) return;
      const signer = await orasLogin(home, registry.host, 'sam');
      const notSignature = await oras(home, [
        'attach',
        '--plain-http',
        '--registry-config',
        signer,
        '--artifact-type',
        SBOM_TYPE,
        ref,
        'note.txt:text/plain',
      ]);
      assert.notEqual(notSignature.code, 0);
      assert.match(notSignature.stderr, /signer role may push signature artifacts only/);
      const signature = await oras(home, [
        'attach',
        '--plain-http',
        '--registry-config',
        signer,
        '--artifact-type',
        NOTATION_SIGNATURE,
        ref,
        'note.txt:application/jose+json',
      ]);
      assert.equal(signature.code, 0, signature.stderr);
    });
  });
}
