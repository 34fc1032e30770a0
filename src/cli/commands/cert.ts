import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../content/index.js';
import { InvalidInputError } from '../../errors.js';
import { describeKey } from '../../signature/index.js';
import {
  type Certificate,
  KEY_TYPES,
  type KeyType,
  KeyUsageFlags,
  MAX_VALIDITY_DAYS,
  generateCertificate,
  keysMatch,
  loadCertificates,
  loadPrivateKey,
} from '../../x509/index.js';
import { MAX_PEM_BYTES, readInput } from '../input.js';
import { print } from '../output.js';

interface GenerateFlags {
  cn: string;
  keyType: string;
  days: string;
  outDir: string;
  name?: string;
  ca?: boolean;
  pathLength?: string;
  issuerKey?: string;
  issuerCert?: string;
  aiaUrl?: string;
  force?: boolean;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function parseDays(value: string): number {
  const days = Number(value);
  if (!/^\d{1,6}$/.test(value) || days < 1 || days > MAX_VALIDITY_DAYS) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `--days must be a whole number from 1 to ${MAX_VALIDITY_DAYS}`,
    );
  }
  return days;
}

/** `nv2 cert generate`: keys and certificates fit for signing, so nobody needs openssl to start. */
export function registerCert(program: Command): void {
  const cert = program.command('cert').description('create keys and certificates for signing');
  cert
    .command('generate')
    .description(
      'generate a key and a certificate: self-signed, a CA (--ca), or issued by a CA (--issuer-key/--issuer-cert)',
    )
    .requiredOption(
      '--cn <name>',
      'subject common name; for signing certificates also the DNS name (a registry host)',
    )
    .option('--key-type <type>', `key type: ${KEY_TYPES.join(', ')}`, 'ec-p256')
    .option('--days <n>', 'validity in days', '365')
    .option('--out-dir <dir>', 'directory to write <name>.key and <name>.crt to', '.')
    .option('--name <name>', 'base name of the files (default: the common name)')
    .option('--ca', 'make a CA certificate (keyCertSign) instead of a signing certificate')
    .option('--path-length <n>', 'for --ca: how many intermediate CAs may follow it')
    .option('--issuer-key <file>', "issuing CA's private key (with --issuer-cert)")
    .option('--issuer-cert <file>', "issuing CA's certificate, optionally followed by its chain")
    .option(
      '--aia-url <url>',
      "embed where the issuer's certificate is published (Authority Information Access caIssuers), so that verifiers can tell their users where to get it",
    )
    .option('--force', 'replace existing files')
    .action(async (flags: GenerateFlags) => {
      if (!(KEY_TYPES as readonly string[]).includes(flags.keyType)) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          `unknown key type ${JSON.stringify(flags.keyType)}: use one of ${KEY_TYPES.join(', ')}`,
        );
      }
      const cn = flags.cn.trim();
      const days = parseDays(flags.days);
      if ((flags.issuerKey === undefined) !== (flags.issuerCert === undefined)) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          '--issuer-key and --issuer-cert go together',
        );
      }
      let pathLength: number | undefined;
      if (flags.pathLength !== undefined) {
        if (flags.ca !== true || !/^\d{1,2}$/.test(flags.pathLength)) {
          throw new InvalidInputError(
            'NV2_ERR_INVALID_ARGUMENT',
            '--path-length takes a small whole number and needs --ca',
          );
        }
        pathLength = Number(flags.pathLength);
      }

      let issuer: { key: ReturnType<typeof loadPrivateKey>; certificate: Certificate } | undefined;
      let issuerChain: Certificate[] = [];
      if (flags.issuerKey !== undefined && flags.issuerCert !== undefined) {
        const key = loadPrivateKey(
          await readInput(flags.issuerKey, MAX_PEM_BYTES, 'issuer key'),
          flags.issuerKey,
        );
        issuerChain = loadCertificates(
          await readInput(flags.issuerCert, MAX_PEM_BYTES, 'issuer certificate'),
          flags.issuerCert,
        );
        const certificate = issuerChain[0]!;
        if (!keysMatch(key, certificate.publicKey)) {
          throw new InvalidInputError(
            'NV2_ERR_KEY_CERT_MISMATCH',
            `${flags.issuerKey} does not belong to the first certificate in ${flags.issuerCert}`,
          );
        }
        if (!certificate.isCA || !certificate.allowsKeyUsage(KeyUsageFlags.keyCertSign)) {
          throw new InvalidInputError(
            'NV2_ERR_INVALID_CERTIFICATE',
            `"${certificate.subject}" is not a CA certificate allowed to sign certificates`,
          );
        }
        issuer = { key, certificate };
      }

      const name = (flags.name ?? cn).replace(/[^A-Za-z0-9._-]/g, '_');
      const keyPath = join(flags.outDir, `${name}.key`);
      const certPath = join(flags.outDir, `${name}.crt`);
      if (flags.force !== true) {
        for (const path of [keyPath, certPath]) {
          if (await exists(path)) {
            throw new InvalidInputError(
              'NV2_ERR_FILE_EXISTS',
              `${path} already exists (use --force to replace it)`,
            );
          }
        }
      }
      const { privateKey, certificate: issued } = await generateCertificate({
        commonName: cn,
        keyType: flags.keyType as KeyType,
        days,
        ...(flags.ca === true ? { ca: true } : {}),
        ...(pathLength !== undefined ? { pathLength } : {}),
        ...(issuer !== undefined ? { issuer } : {}),
        ...(flags.aiaUrl !== undefined ? { caIssuersUrl: flags.aiaUrl } : {}),
      });
      // The certificate file carries the chain up to (and including) the issuer's, so that
      // `nv2 sign -c` puts the whole chain in x5c.
      const chainPem = [issued, ...issuerChain].map((c) => c.toPem()).join('');
      await mkdir(flags.outDir, { recursive: true });
      const exclusive = flags.force !== true;
      await writeFileAtomic(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
        mode: 0o600,
        exclusive,
      });
      await writeFileAtomic(certPath, chainPem, { exclusive });
      print(`key:         ${keyPath} (${describeKey(privateKey)})`);
      print(`certificate: ${certPath}`);
      print(`subject:     ${issued.subject}`);
      print(`issuer:      ${issued.issuer}`);
      print(`valid:       ${issued.notBefore.toISOString()} to ${issued.notAfter.toISOString()}`);
      print(`sha256:      ${issued.fingerprintSha256}`);
      for (const url of issued.caIssuersUrls) print(`ca issuers:  ${url}`);
    });
}
