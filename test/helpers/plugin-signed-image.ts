/**
 * An image in nv2's registry whose Notary Project signature names a verification plugin: the
 * signing plugin's `generate-envelope` sets `io.cncf.notary.verificationPlugin` and a critical
 * attribute of its own, and the Python plugin of plugin.py answers `verify-signature` as told
 * by its `pluginConfig` (see verification-plugins.test.ts).
 */
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nv2, ok } from './cli.js';
import { VECTORS_DIR, tempDir } from './fixtures.js';
import { issuedSigner, rootCA } from './pki.js';
import { installTestPlugin } from './plugin-install.js';
import { startRegistry } from './registry.js';

/** The signing plugin's name. */
export const SIGNING_PLUGIN = 'nv2-test';
/** The verification plugin the signature names. */
export const VERIFICATION_PLUGIN = 'nv2-verify';
/** The pluginConfig that gives the verification plugin both verifier capabilities. */
export const BOTH_CAPABILITIES =
  'capabilities=SIGNATURE_VERIFIER.TRUSTED_IDENTITY,SIGNATURE_VERIFIER.REVOCATION_CHECK';
/** The critical attribute the signing plugin adds and the verification plugin processes. */
export const CRITICAL_ATTRIBUTE = 'com.example.buildId';
const NOTATION_LAYOUT = fileURLToPath(new URL('notation/oci-layout/e2e', VECTORS_DIR));

/** A registry holding one plugin-signed image, and nv2's configuration to verify it. */
export interface PluginSignedImage {
  readonly work: string;
  /** nv2's configuration directory ($NV2_CONFIG_DIR): both plugins, trust store and policy. */
  readonly config: string;
  readonly host: string;
  /** `HOST/REPOSITORY:v1`. */
  readonly image: string;
  close(): Promise<void>;
}

/**
 * Installs both plugins into a new configuration directory (set as $NV2_CONFIG_DIR), writes a
 * strict trust policy whose trusted identity is not the signer's (only the plugin's answer
 * lets it in), starts a registry and pushes `repository:v1` signed through the plugin.
 */
export async function publishPluginSignedImage(repository: string): Promise<PluginSignedImage> {
  const work = await tempDir();
  const config = join(work, 'config');
  await installTestPlugin(join(config, 'plugins'), SIGNING_PLUGIN);
  await installTestPlugin(join(config, 'plugins'), VERIFICATION_PLUGIN);
  const root = await rootCA('Verification Plugin CLI Root', { keyType: 'rsa-3072' });
  const id = await issuedSigner(root, 'release.example', { keyType: 'ec-p384' });
  await writeFile(join(work, 'signer.key'), id.keyPem, { mode: 0o600 });
  await writeFile(join(work, 'chain.pem'), id.certPem + root.certPem);
  await mkdir(join(config, 'truststore', 'x509', 'ca', 'release'), { recursive: true });
  await writeFile(join(config, 'truststore', 'x509', 'ca', 'release', 'root.crt'), root.certPem);
  await writeFile(
    join(config, 'trustpolicy.json'),
    JSON.stringify({
      version: '1.0',
      trustPolicies: [
        {
          name: 'plugin-verified',
          registryScopes: ['*'],
          signatureVerification: { level: 'strict' },
          trustStores: ['ca:release'],
          // Not the signer's subject: the plugin answers for the identity, not nv2.
          trustedIdentities: ['x509.subject: C=US, ST=WA, O=Release Team, CN=release.example'],
        },
      ],
    }),
  );
  process.env['NV2_CONFIG_DIR'] = config;
  delete process.env['NV2_NOTATION_DIR'];
  const registry = await startRegistry();
  const image = `${registry.host}/${repository}:v1`;
  const layout = join(work, 'layout');
  await cp(NOTATION_LAYOUT, layout, { recursive: true });
  ok(await nv2(['copy', '--no-referrers', `oci-layout:${layout}:v1`, image]), 'copy');
  ok(
    await nv2([
      'sign',
      '--signature-format',
      'jws',
      '--plugin',
      SIGNING_PLUGIN,
      '--id',
      'k',
      ...[
        `keyFile=${join(work, 'signer.key')}`,
        `chainFile=${join(work, 'chain.pem')}`,
        'capability=envelope',
        `verificationPlugin=${VERIFICATION_PLUGIN}`,
        'verificationPluginMinVersion=1.0.0',
        `criticalAttribute=${CRITICAL_ATTRIBUTE}`,
      ].flatMap((c) => ['--plugin-config', c]),
      image,
    ]),
    'sign through the plugin',
  );
  return { work, config, host: registry.host, image, close: () => registry.close() };
}
