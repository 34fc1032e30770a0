/**
 * The Notary v2 story, end to end, on one machine: the scenario the project exists for.
 *
 * ACME Rockets only runs content it trusts. A public registry hosts certified content
 * (signed by the registry's certification key) and community content (net-monitor, signed
 * by its publisher, wabbit-networks). ACME's developers verify before they run; ACME's own
 * registry hosts public content copied in and counter-signed by its security team, and there
 * only that team's signature counts.
 *
 * Every step is an `nv2` command line run by the CLI's own code (see session.ts); only the
 * scenery (two registries, the publisher's web site, images to sign) is set up by library
 * calls.
 *
 * Why this file is long: it is one scenario told step by step, in the order a reader follows it;
 * split, the story would have to be read across files.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { print } from '../output.js';
import type { RunningRegistry } from '../../registry/server/index.js';
import { buildImage } from './image.js';
import { type CommandRunner, DemoSession } from './session.js';

/** What the scenery consists of, for `--keep`'s instructions. */
export interface DemoScenery {
  readonly publicRegistry: string;
  readonly privateRegistry: string;
  readonly publisherSite: string;
  readonly configDir: string;
  readonly dockerConfigDir: string;
  readonly dir: string;
}

/** Starts the two registries the story needs; supplied by the demo command. */
export interface DemoRegistries {
  /** The public registry: open for pull and push, as a test set-up of a public registry. */
  readonly public: RunningRegistry;
  /** ACME's registry: token auth, users `acme-ci` (writer) and `acme-security` (writer, signer). */
  readonly private: RunningRegistry;
  /** Passwords of the private registry's users. */
  readonly passwords: Readonly<Record<'acme-ci' | 'acme-security', string>>;
}

function hostOf(url: string): string {
  return new URL(url).host;
}

/** Serves the publisher's CA certificate, as a publisher's web site would (AIA caIssuers). */
async function startPublisherSite(
  files: Readonly<Record<string, Buffer>>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const body = files[req.url ?? ''];
    if (req.method !== 'GET' || body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/pkix-cert' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Plays the story. `dir` is a scratch directory; NV2_CONFIG_DIR and DOCKER_CONFIG must point
 * into it already (the demo command sets them), so the user's own configuration is never read
 * or touched. Returns the scenery and a stop function for the publisher's site.
 */
export async function playStory(
  run: CommandRunner,
  registries: DemoRegistries,
  dir: string,
): Promise<{ session: DemoSession; scenery: DemoScenery; close(): Promise<void> }> {
  const session = new DemoSession(run);
  const pub = hostOf(registries.public.url);
  const acme = hostOf(registries.private.url);
  const certs = join(dir, 'certs');
  const layouts = join(dir, 'images');
  const file = (name: string): string => join(certs, name);

  // --- The scenery: certificates, the publisher's web site, images. ---
  // Filled in once the CA exists; the site reads the map on each request.
  const siteFiles: Record<string, Buffer> = {};
  const realSite = await startPublisherSite(siteFiles);
  const wabbitCaUrl = `${realSite.url}/wabbit-networks-ca.crt`;

  print('Setting the scene (certificates, images, two registries on this machine):');
  print(`   public registry   http://${pub}   (open, like a public registry's test set-up)`);
  print(`   ACME's registry   http://${acme}  (token auth: acme-ci writes, acme-security signs)`);
  print(`   wabbit-networks   ${realSite.url}  (the publisher's web site)`);

  session.heading('Keys: the public registry, the publisher wabbit-networks, ACME security');
  session.say(
    "The registry's certification key vouches for its certified content; it is named after the registry, so its signatures may name images there.",
  );
  await session.nv2(
    ['cert', 'generate', '--cn', 'localhost', '--name', 'registry', '--out-dir', certs],
    'succeeds',
  );
  session.say('wabbit-networks runs a small CA and publishes its certificate on its web site.');
  await session.nv2(
    [
      'cert',
      'generate',
      '--ca',
      '--cn',
      'wabbit-networks CA',
      '--name',
      'wabbit-ca',
      '--out-dir',
      certs,
    ],
    'succeeds',
  );
  await session.nv2(
    [
      'cert',
      'generate',
      '--cn',
      'wabbit-networks.io',
      '--name',
      'wabbit',
      '--issuer-key',
      file('wabbit-ca.key'),
      '--issuer-cert',
      file('wabbit-ca.crt'),
      '--aia-url',
      wabbitCaUrl,
      '--out-dir',
      certs,
    ],
    'succeeds',
  );
  siteFiles['/wabbit-networks-ca.crt'] = await readFile(file('wabbit-ca.crt'));
  session.say("ACME's security team has a CA of its own.");
  await session.nv2(
    [
      'cert',
      'generate',
      '--ca',
      '--cn',
      'ACME Rockets Security CA',
      '--name',
      'acme-ca',
      '--out-dir',
      certs,
    ],
    'succeeds',
  );
  await session.nv2(
    [
      'cert',
      'generate',
      '--cn',
      'ACME Rockets Security Team',
      '--name',
      'acme-security',
      '--issuer-key',
      file('acme-ca.key'),
      '--issuer-cert',
      file('acme-ca.crt'),
      '--out-dir',
      certs,
    ],
    'succeeds',
  );

  await buildImage(join(layouts, 'hello-world'), 'latest', {
    layers: [[{ path: 'hello', content: 'Hello from a certified image!\n', mode: 0o755 }]],
    entrypoint: ['/hello'],
  });
  await buildImage(join(layouts, 'net-monitor'), 'v1', {
    layers: [
      [{ path: 'etc/net-monitor/config.yaml', content: 'interval: 10s\ntargets: []\n' }],
      [{ path: 'usr/bin/net-monitor', content: '#!/bin/sh\necho monitoring\n', mode: 0o755 }],
      [{ path: 'usr/share/doc/net-monitor/README', content: 'net-monitor v1\n' }],
    ],
    entrypoint: ['/usr/bin/net-monitor'],
    labels: { 'org.opencontainers.image.version': 'v1' },
  });
  await buildImage(join(layouts, 'net-monitor-unsigned'), 'v2', {
    layers: [
      [{ path: 'usr/bin/net-monitor', content: '#!/bin/sh\necho who signed me?\n', mode: 0o755 }],
    ],
    entrypoint: ['/usr/bin/net-monitor'],
  });
  const sbomPath = join(dir, 'net-monitor.spdx.json');
  await writeFile(
    sbomPath,
    `${JSON.stringify(
      {
        spdxVersion: 'SPDX-2.3',
        dataLicense: 'CC0-1.0',
        SPDXID: 'SPDXRef-DOCUMENT',
        name: 'net-monitor-v1',
        packages: [{ SPDXID: 'SPDXRef-net-monitor', name: 'net-monitor', versionInfo: 'v1' }],
      },
      null,
      2,
    )}\n`,
  );

  const helloRef = `${pub}/library/hello-world:latest`;
  const netMonitorRef = `${pub}/wabbit-networks/net-monitor:v1`;

  session.heading('Publishing: images pushed to the public registry, and signed');
  await session.nv2(
    ['copy', `oci-layout:${join(layouts, 'hello-world')}:latest`, helloRef],
    'succeeds',
  );
  await session.nv2(
    ['sign', '-k', file('registry.key'), '-c', file('registry.crt'), '-r', helloRef, helloRef],
    'succeeds',
  );
  await session.nv2(
    ['copy', `oci-layout:${join(layouts, 'net-monitor')}:v1`, netMonitorRef],
    'succeeds',
  );
  await session.nv2(
    ['sign', '-k', file('wabbit.key'), '-c', file('wabbit.crt'), '-e', '365d', netMonitorRef],
    'succeeds',
  );
  session.say('wabbit-networks attaches an SBOM to net-monitor and signs it too.');
  const sbomDigest = (
    await session.nv2(
      [
        'attach',
        '--artifact-type',
        'application/spdx+json',
        netMonitorRef,
        `${sbomPath}:application/spdx+json`,
      ],
      'succeeds',
    )
  ).trim();
  const sbomRef = `${pub}/wabbit-networks/net-monitor@${sbomDigest}`;
  await session.nv2(
    ['sign', '-k', file('wabbit.key'), '-c', file('wabbit.crt'), sbomRef],
    'succeeds',
  );

  session.heading(
    "A developer's trust policy: trust is required, and the registry's key is trusted",
  );
  const policyPath = join(dir, 'trustpolicy.json');
  await writeFile(
    policyPath,
    `${JSON.stringify(
      {
        version: '1.0',
        trustPolicies: [
          {
            name: 'public-registry',
            registryScopes: [`${pub}/*`],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:public'],
            trustedIdentities: ['*'],
          },
          {
            name: 'acme-private',
            registryScopes: [`${acme}/*`],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:acme-security'],
            trustedIdentities: ['*'],
          },
        ],
      },
      null,
      2,
    )}\n`,
  );
  await session.nv2(['policy', 'import', policyPath], 'succeeds');
  await session.nv2(['trust', 'add', '--store', 'public', file('registry.crt')], 'succeeds');
  await session.nv2(['trust', 'add', '--store', 'acme-security', file('acme-ca.crt')], 'succeeds');
  await session.nv2(['policy', 'show'], 'succeeds');

  session.heading('Certified content verifies: the registry vouches for hello-world');
  await session.nv2(['verify', helloRef], 'succeeds');

  session.heading('Community content is refused: nobody here trusts wabbit-networks yet');
  session.say('The error names the signer and says where its certificate is published.');
  await session.nv2(['verify', netMonitorRef], 'is refused', [
    'wabbit-networks.io',
    wabbitCaUrl,
    'nv2 trust add --url',
  ]);

  session.heading("The developer acquires wabbit-networks' key, checks it, and adds it");
  await session.nv2(
    ['trust', 'add', '--url', wabbitCaUrl, '--store', 'public', '--yes'],
    'succeeds',
    ['wabbit-networks CA'],
  );
  await session.nv2(['verify', netMonitorRef], 'succeeds');

  session.heading('A tag moved to an unsigned image is refused');
  const movedRef = `${pub}/wabbit-networks/net-monitor:latest`;
  await session.nv2(
    ['copy', `oci-layout:${join(layouts, 'net-monitor-unsigned')}:v2`, movedRef],
    'succeeds',
  );
  await session.nv2(['verify', movedRef], 'is refused', ['NV2_ERR_NO_SIGNATURE']);

  session.heading('A tampered signature is refused');
  const forgedRef = `${pub}/mallory/net-monitor:v1`;
  await session.nv2(['copy', '--no-referrers', netMonitorRef, forgedRef], 'succeeds');
  const jwsPath = join(dir, 'net-monitor.jwt');
  await session.nv2(
    [
      'sign',
      '-k',
      file('wabbit.key'),
      '-c',
      file('wabbit.crt'),
      '--signature-only',
      '-o',
      jwsPath,
      forgedRef,
    ],
    'succeeds',
  );
  const jws = (await readFile(jwsPath, 'latin1')).trim();
  const lastDot = jws.lastIndexOf('.');
  const flipped = jws[lastDot + 5] === 'A' ? 'B' : 'A';
  await writeFile(jwsPath, `${jws.slice(0, lastDot + 5)}${flipped}${jws.slice(lastDot + 6)}`);
  session.say('(one character of the signature value changed)');
  await session.nv2(['push', '-f', jwsPath, forgedRef], 'succeeds');
  await session.nv2(['verify', forgedRef], 'is refused', ['integrity']);

  const acmeRef = `${acme}/software/net-monitor:v1`;
  session.heading('ACME copies net-monitor into its own registry, signatures and SBOM included');
  await session.nv2(
    ['login', '-u', 'acme-security', '-p', registries.passwords['acme-security'], acme],
    'succeeds',
  );
  await session.nv2(['copy', netMonitorRef, acmeRef], 'succeeds');
  session.say(
    "ACME's policy trusts only its security team: the publisher's signature came along, but does not count here.",
  );
  await session.nv2(['verify', acmeRef], 'is refused');

  session.heading('Only signers may push signatures: the CI account cannot, the security team can');
  await session.nv2(
    [
      'sign',
      '-u',
      'acme-ci',
      '-p',
      registries.passwords['acme-ci'],
      '-k',
      file('acme-security.key'),
      '-c',
      file('acme-security.crt'),
      acmeRef,
    ],
    'is refused',
    ['signer'],
  );
  session.say(
    "The security team counter-signs in the Notary Project's COSE format, which the notation-based tools in ACME's clusters read too.",
  );
  await session.nv2(
    [
      'sign',
      '--signature-format',
      'cose',
      '-k',
      file('acme-security.key'),
      '-c',
      file('acme-security.crt'),
      acmeRef,
    ],
    'succeeds',
  );
  await session.nv2(['verify', acmeRef], 'succeeds', ['CN=ACME Rockets Security Team']);
  await session.nv2(['list', acmeRef], 'succeeds', ['cose', 'nv2']);

  session.heading('Content not approved by the security team is refused in the private registry');
  const helloAcme = `${acme}/library/hello-world:latest`;
  await session.nv2(['copy', helloRef, helloAcme], 'succeeds');
  await session.nv2(['verify', helloAcme], 'is refused');

  session.heading('The SBOM is discovered and its signature verified');
  await session.nv2(
    ['discover', '--artifact-type', 'application/spdx+json', netMonitorRef],
    'succeeds',
    [sbomDigest],
  );
  await session.nv2(['verify', sbomRef], 'succeeds');

  session.heading(
    "The whole tree in ACME's registry: the image, its signatures, the SBOM and its signature",
  );
  await session.nv2(['discover', acmeRef], 'succeeds', [sbomDigest]);

  session.heading(
    'Trust-required can be lifted for a scope: audit lets unsigned content through, with a warning',
  );
  await session.nv2(['policy', 'set-level', `${pub}/*`, 'audit'], 'succeeds');
  await session.nv2(['verify', movedRef], 'succeeds', ['warning']);
  await session.nv2(['policy', 'set-level', `${pub}/*`, 'strict'], 'succeeds');
  await session.nv2(['verify', movedRef], 'is refused');

  return {
    session,
    scenery: {
      publicRegistry: pub,
      privateRegistry: acme,
      publisherSite: realSite.url,
      configDir: process.env['NV2_CONFIG_DIR'] ?? '',
      dockerConfigDir: process.env['DOCKER_CONFIG'] ?? '',
      dir,
    },
    close: () => realSite.close(),
  };
}
