import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { InvalidInputError, VerificationInconclusiveError } from '../../errors.js';
import {
  TRUST_STORE_TYPES,
  type TrustStoreCertificate,
  TrustStore,
  type TrustStoreType,
  configDirectory,
} from '../../policy/index.js';
import { type Certificate, loadCertificates } from '../../x509/index.js';
import { MAX_PEM_BYTES, readInput } from '../input.js';
import { type OutputFormat, print, printJson, warn } from '../output.js';
import { outputFormat } from './options.js';

/** How long a certificate download may take. */
const DOWNLOAD_TIMEOUT_MS = 30_000;

interface AddFlags {
  type: string;
  store: string;
  url?: string;
  yes?: boolean;
}

function storeType(value: string): TrustStoreType {
  if (!(TRUST_STORE_TYPES as readonly string[]).includes(value)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `unknown trust store type ${JSON.stringify(value)}: use ${TRUST_STORE_TYPES.join(', ')}`,
    );
  }
  return value as TrustStoreType;
}

function describe(cert: Certificate): string[] {
  return [
    `  subject:  ${cert.subject}`,
    `  issuer:   ${cert.issuer}`,
    `  valid:    ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}`,
    `  sha256:   ${cert.fingerprintSha256}`,
  ];
}

/**
 * Downloads a certificate (AIA caIssuers publishes one DER or PEM certificate). Reads at most
 * MAX_PEM_BYTES, follows redirects, gives up after DOWNLOAD_TIMEOUT_MS.
 */
async function download(url: string): Promise<Buffer> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `${url} is not an http(s) URL`);
  }
  if (parsed.protocol === 'http:') {
    warn(
      `${url} is plain HTTP: anyone on the way could substitute the certificate; compare its fingerprint with one the publisher gives you elsewhere`,
    );
  }
  const { createHttpTransport, getFollowingRedirects, proxyFromEnv, readBoundedBody } =
    await import('../../http/index.js');
  const transport = createHttpTransport({
    keepAlive: false,
    deadlineMs: DOWNLOAD_TIMEOUT_MS,
    proxy: proxyFromEnv(process.env),
  });
  try {
    let body: Buffer | undefined;
    try {
      const response = await getFollowingRedirects(transport.fetch, parsed.href);
      if (response.status !== 200) {
        await response.body?.[Symbol.asyncIterator]().return?.();
        throw new VerificationInconclusiveError(
          'NV2_ERR_DOWNLOAD_FAILED',
          `cannot download ${url}: HTTP ${response.status}`,
        );
      }
      body = await readBoundedBody(response.body, MAX_PEM_BYTES);
    } catch (err) {
      if (err instanceof VerificationInconclusiveError) throw err;
      throw new VerificationInconclusiveError(
        'NV2_ERR_DOWNLOAD_FAILED',
        `cannot download ${url}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (body === undefined) {
      throw new VerificationInconclusiveError(
        'NV2_ERR_DOWNLOAD_FAILED',
        `${url} is larger than ${MAX_PEM_BYTES} bytes: not a certificate`,
      );
    }
    return body;
  } finally {
    transport.close();
  }
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

function row(e: TrustStoreCertificate): string[] {
  return [
    `${e.type}:${e.store}`,
    e.file,
    e.certificate.subject,
    e.certificate.notAfter.toISOString(),
    e.certificate.fingerprintSha256,
  ];
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    print(
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    );
}

/** `nv2 trust add|list|remove`: the trust store of the configuration directory. */
export function registerTrust(program: Command): void {
  const trust = program
    .command('trust')
    .description(
      'manage the trust store: named sets of trusted certificates in $NV2_CONFIG_DIR/truststore',
    );
  trust
    .command('add')
    .description(
      'add certificates (PEM or DER files, or one downloaded with --url) to a named trust store',
    )
    .argument('[certs...]', 'certificate files')
    .option('--type <type>', `store type: ${TRUST_STORE_TYPES.join(', ')}`, 'ca')
    .option('--store <name>', 'store name, as trust policies name it (ca:NAME)', 'default')
    .option(
      '--url <url>',
      'download the certificate from URL (e.g. the AIA caIssuers URL a verification error names)',
    )
    .option('--yes', 'add a downloaded certificate without asking (after checking it otherwise)')
    .action(async (certs: string[], flags: AddFlags) => {
      const type = storeType(flags.type);
      const store = new TrustStore(configDirectory(process.env));
      const toAdd: { certificate: Certificate; fileName?: string }[] = [];
      if (flags.url !== undefined) {
        if (certs.length > 0) {
          throw new InvalidInputError(
            'NV2_ERR_INVALID_ARGUMENT',
            'give certificate files or --url, not both',
          );
        }
        const downloaded = loadCertificates(await download(flags.url), flags.url);
        process.stderr.write(`downloaded ${flags.url}:\n`);
        for (const cert of downloaded) process.stderr.write(`${describe(cert).join('\n')}\n`);
        if (flags.yes !== true) {
          if (process.stdin.isTTY !== true) {
            throw new InvalidInputError(
              'NV2_ERR_CONFIRMATION_REQUIRED',
              `not adding the certificate of ${flags.url} without confirmation: check its fingerprint and subject above, then run again with --yes`,
            );
          }
          if (!(await confirm(`trust it as ${type}:${flags.store}? [y/N] `))) {
            throw new InvalidInputError(
              'NV2_ERR_CONFIRMATION_REQUIRED',
              'not added: the certificate was not confirmed',
            );
          }
        }
        const name = new URL(flags.url).pathname.split('/').pop();
        for (const certificate of downloaded)
          toAdd.push({ certificate, ...(name ? { fileName: name } : {}) });
      } else {
        if (certs.length === 0) {
          throw new InvalidInputError(
            'NV2_ERR_INVALID_ARGUMENT',
            'name the certificate files to add, or --url URL',
          );
        }
        for (const path of certs) {
          for (const certificate of loadCertificates(
            await readInput(path, MAX_PEM_BYTES, 'certificate'),
            path,
          ))
            toAdd.push({ certificate, fileName: path === '-' ? undefined : path } as {
              certificate: Certificate;
              fileName?: string;
            });
        }
      }
      for (const result of await store.add(type, flags.store, toAdd)) {
        print(
          `${result.added ? 'added' : 'already trusted'}: ${type}:${flags.store}/${result.file}: ${result.certificate.subject} (sha256 ${result.certificate.fingerprintSha256})`,
        );
      }
    });
  trust
    .command('list')
    .description("list the trust store's certificates: store, file, subject, expiry, SHA-256")
    .option('--type <type>', `only stores of this type: ${TRUST_STORE_TYPES.join(', ')}`)
    .option('--output <format>', 'text or json', outputFormat, 'text')
    .action(async (flags: { type?: string; output: OutputFormat }) => {
      const store = new TrustStore(configDirectory(process.env));
      const entries = await store.list(
        flags.type !== undefined ? storeType(flags.type) : undefined,
      );
      if (flags.output === 'json') {
        printJson(
          entries.map((e) => ({
            type: e.type,
            store: e.store,
            file: e.file,
            subject: e.certificate.subject,
            issuer: e.certificate.issuer,
            notBefore: e.certificate.notBefore.toISOString(),
            notAfter: e.certificate.notAfter.toISOString(),
            sha256Fingerprint: e.certificate.fingerprintSha256,
          })),
        );
        return;
      }
      if (entries.length === 0) {
        process.stderr.write(`the trust store ${store.root} is empty\n`);
        return;
      }
      printTable([['STORE', 'FILE', 'SUBJECT', 'NOT AFTER', 'SHA256'], ...entries.map(row)]);
    });
  trust
    .command('remove')
    .description(
      'remove certificates (by SHA-256 fingerprint prefix or file name), or a whole store',
    )
    .argument('[certs...]', 'SHA-256 fingerprints (at least 8 hex digits) or file names')
    .option('--type <type>', `store type: ${TRUST_STORE_TYPES.join(', ')}`, 'ca')
    .requiredOption('--store <name>', 'store name')
    .option('--all', 'remove the whole store')
    .action(async (certs: string[], flags: { type: string; store: string; all?: boolean }) => {
      const type = storeType(flags.type);
      const store = new TrustStore(configDirectory(process.env));
      if (certs.length === 0 && flags.all !== true) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          'name the certificates to remove (fingerprint or file), or --all for the whole store',
        );
      }
      const removed: TrustStoreCertificate[] = [];
      if (certs.length === 0) removed.push(...(await store.remove(type, flags.store)));
      for (const cert of certs) removed.push(...(await store.remove(type, flags.store, cert)));
      for (const e of removed)
        print(
          `removed: ${type}:${flags.store}/${e.file}: ${e.certificate.subject} (sha256 ${e.certificate.fingerprintSha256})`,
        );
    });
}
