import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../content/index.js';
import { VerificationFailedError, isNv2Error } from '../../errors.js';
import { MediaTypes, describeManifest } from '../../oci/index.js';
import { sign } from '../../signature/index.js';
import { TrustSet, verify } from '../../trust/index.js';
import { generateCertificate } from '../../x509/index.js';
import { print } from '../output.js';

/** The registry the demo's certificate speaks for. */
const DEMO_REGISTRY = 'registry.wabbit-networks.io';
const DEMO_REFERENCE = `${DEMO_REGISTRY}/net-monitor:v1`;

/** A small OCI image manifest, as a registry would serve it. */
const SAMPLE_MANIFEST = `${JSON.stringify(
  {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: 'sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7',
      size: 7023,
    },
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: 'sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0',
        size: 32654,
      },
    ],
  },
  null,
  2,
)}\n`;

interface DemoFlags {
  dir?: string;
}

function expectFailure(err: unknown, code: string): void {
  if (!(err instanceof VerificationFailedError) || err.code !== code) throw err;
}

/**
 * `nv2 demo`: the whole signing story on embedded defaults, with no input: make a signing
 * certificate, sign a sample manifest, verify it, and show that a changed manifest and an
 * untrusted signer are refused. Each step prints the command that does the same by hand.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'run the signing story end to end on built-in samples (certificate, sign, verify, refusals)',
    )
    .option(
      '--dir <dir>',
      'keep the files in this directory (default: a temporary one, removed afterwards)',
    )
    .action(async (flags: DemoFlags) => {
      const dir = flags.dir ?? (await mkdtemp(join(tmpdir(), 'nv2-demo-')));
      try {
        const keyPath = join(dir, `${DEMO_REGISTRY}.key`);
        const certPath = join(dir, `${DEMO_REGISTRY}.crt`);
        const manifestPath = join(dir, 'manifest.json');

        print(`1. A signing certificate for ${DEMO_REGISTRY}`);
        print(`   $ nv2 cert generate --cn ${DEMO_REGISTRY} --out-dir ${dir}`);
        const now = new Date();
        const { privateKey, certificate } = await generateCertificate({
          commonName: DEMO_REGISTRY,
          now,
        });
        await writeFileAtomic(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
          mode: 0o600,
        });
        await writeFileAtomic(certPath, certificate.toPem());
        print(`   ${certificate.subject}, sha256 ${certificate.fingerprintSha256.slice(0, 16)}…`);

        print('2. Sign a manifest published as ' + DEMO_REFERENCE);
        await writeFileAtomic(manifestPath, SAMPLE_MANIFEST);
        const manifest = describeManifest(Buffer.from(SAMPLE_MANIFEST));
        const sigPath = join(dir, 'manifest.jwt');
        print(
          `   $ nv2 sign -k ${keyPath} -c ${certPath} -r ${DEMO_REFERENCE} -e 90d -o ${sigPath} file:${manifestPath}`,
        );
        const jws = sign(
          manifest.descriptor,
          { key: privateKey, certificateChain: [certificate.der] },
          {
            references: [DEMO_REFERENCE],
            expiresIn: 90 * 86400,
            now,
          },
        );
        await writeFileAtomic(sigPath, jws);
        print(`   ${manifest.descriptor.digest}`);

        print('3. Verify it, trusting the certificate');
        print(`   $ nv2 verify -f ${sigPath} -c ${certPath} file:${manifestPath}`);
        const trust = new TrustSet({ certificates: [certificate] });
        const subject = { mediaType: manifest.descriptor.mediaType, content: manifest.content };
        const result = await verify(jws, subject, trust);
        print(`   verified: ${result.digest}, signed by ${result.signer.subject}`);

        print('4. A changed manifest is refused');
        const tampered = Buffer.from(SAMPLE_MANIFEST.replace('32654', '32655'));
        try {
          await verify(jws, { mediaType: manifest.descriptor.mediaType, content: tampered }, trust);
          throw new Error('a changed manifest verified');
        } catch (err) {
          expectFailure(err, 'NV2_ERR_DIGEST_MISMATCH');
          print(`   refused: ${isNv2Error(err) ? err.message : String(err)}`);
        }

        print('5. So is a signer nobody trusts');
        try {
          await verify(jws, subject, new TrustSet());
          throw new Error('an untrusted signature verified');
        } catch (err) {
          expectFailure(err, 'NV2_ERR_CERT_UNTRUSTED');
          print(`   refused: ${isNv2Error(err) ? err.message : String(err)}`);
        }
        print(flags.dir !== undefined ? `Files are in ${dir}.` : 'Done.');
      } finally {
        if (flags.dir === undefined) await rm(dir, { recursive: true, force: true });
      }
    });
}
