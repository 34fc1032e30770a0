import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../content/index.js';
import { InvalidInputError } from '../../errors.js';
import { KeyUsageFlags, generateKeyPair, issueCertificate } from '../../x509/index.js';
import { type OutputFormat, print, printJson } from '../output.js';
import { verificationPluginSettings } from './key.js';
import { collect, maxSignatures, outputFormat } from './options.js';

// The server and its dependencies (prom-client, the registry client) are loaded by `serve`
// only (a dynamic import), so that other commands do not pay for them at start-up.

interface ServeFlags {
  configDir: string;
  dockerConfig?: string;
  addr: string;
  tlsCert?: string;
  tlsKey?: string;
  plainHttp: string[];
  registryMirror: string[];
  registryCaFile?: string;
  excludeNamespace: string[];
  deadline: string;
  requestTimeout: string;
  cacheSize: string;
  maxSignatures?: number;
  cacheTtl: string;
  tagTtl: string;
  tlsPoll: string;
  configPoll: string;
  pluginDir: string[];
  pluginConfig: string[];
  pluginTimeout?: string;
}

interface CertsFlags {
  service: string;
  namespace: string;
  out: string;
  days: string;
  force?: boolean;
  output: OutputFormat;
}

const SERVER_AUTH_EKU = '1.3.6.1.5.5.7.3.1';
const DAY_MS = 86_400_000;

/** Parses `500ms`, `3s`, `5m` or `1h` to milliseconds. */
function parseMs(flag: string, input: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(input);
  if (m === null || Number(m[1]) === 0) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `${flag} ${JSON.stringify(input)}: use a positive number and a unit (ms, s, m, h), e.g. 3s`,
    );
  }
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

function parseCount(flag: string, input: string): number {
  if (!/^\d+$/.test(input) || !Number.isSafeInteger(Number(input))) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `${flag} takes a whole number, not ${JSON.stringify(input)}`,
    );
  }
  return Number(input);
}

function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(addr);
  const port = m !== null ? Number(m[2]) : NaN;
  if (m === null || port > 65535) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `--addr ${JSON.stringify(addr)}: use HOST:PORT or :PORT`,
    );
  }
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? '0.0.0.0' : host, port };
}

function parseMirrors(values: readonly string[]): Record<string, string> {
  const mirrors: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0 || eq === value.length - 1) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `--registry-mirror ${JSON.stringify(value)}: use REGISTRY=MIRROR, e.g. docker.io=mirror.internal:5000`,
      );
    }
    mirrors[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return mirrors;
}

async function serve(flags: ServeFlags): Promise<void> {
  if (flags.tlsCert === undefined || flags.tlsKey === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'the API server calls webhooks over HTTPS only: give --tls-cert and --tls-key (see nv2 admission certs)',
    );
  }
  const { host, port } = parseAddr(flags.addr);
  const deadlineMs = parseMs('--deadline', flags.deadline);
  const requestTimeoutMs = parseMs('--request-timeout', flags.requestTimeout);
  if (requestTimeoutMs >= deadlineMs) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      '--request-timeout must be shorter than --deadline, so that one slow request cannot use up a review',
    );
  }
  const verificationPlugins = verificationPluginSettings(flags);
  const admission = await import('../../admission/index.js');
  const { dockerConfigCredentials, proxyFromEnv } = await import('../../remote/index.js');
  const log = (entry: Readonly<Record<string, unknown>>): void => {
    process.stdout.write(`${JSON.stringify(entry)}\n`);
  };
  const registries = new admission.RegistryAccess({
    ...(flags.dockerConfig !== undefined
      ? {
          credentials: dockerConfigCredentials({
            env: process.env,
            configPath: flags.dockerConfig,
          }),
        }
      : {}),
    plainHttp: flags.plainHttp,
    mirrors: parseMirrors(flags.registryMirror),
    ...(flags.registryCaFile !== undefined ? { caFile: flags.registryCaFile } : {}),
    requestTimeoutMs,
    proxy: proxyFromEnv(process.env),
  });
  // No trust policy, or one naming a store that is not mounted, stops the server here (exit
  // 2, one line): the pod crash-loops with the reason in its log, and the Deployment's ready
  // replicas keep serving under their own configuration.
  const verifierOptions = {
    configDir: flags.configDir,
    registries,
    ...(flags.maxSignatures !== undefined ? { maxSignatures: flags.maxSignatures } : {}),
    verificationPlugins,
  };
  const verifier = await admission.createImageVerifier(verifierOptions);
  log({
    time: new Date().toISOString(),
    level: 'info',
    msg: 'trust policy loaded',
    configDir: flags.configDir,
    pluginDirectories: verificationPlugins.directories,
    statements: verifier.config.document.trustPolicies.map((s) => ({
      name: s.name,
      scopes: s.registryScopes,
      level: s.signatureVerification.level,
    })),
  });
  const checks = new admission.ImageChecks({
    verifier,
    registries,
    cacheEntries: parseCount('--cache-size', flags.cacheSize),
    cacheTtlMs: parseMs('--cache-ttl', flags.cacheTtl),
    tagTtlMs: parseMs('--tag-ttl', flags.tagTtl),
  });
  const stopConfigWatch = admission.reloadOnConfigChange({
    ...verifierOptions,
    checks,
    intervalMs: parseMs('--config-poll', flags.configPoll),
    log,
  });
  const handler = admission.createAdmissionHandler({
    checks,
    excludedNamespaces: flags.excludeNamespace,
    deadlineMs,
    log,
  });
  const server = await admission.startAdmissionServer({
    handler,
    tls: { cert: flags.tlsCert, key: flags.tlsKey },
    host,
    port,
    tlsPollMs: parseMs('--tls-poll', flags.tlsPoll),
    log,
  });
  log({
    time: new Date().toISOString(),
    level: 'info',
    msg: 'admission server listening',
    url: server.url.replace('127.0.0.1', host),
    port: server.port,
  });
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      stopConfigWatch();
      void Promise.all([server.close(), registries.close()]).then(() => resolve());
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function certs(flags: CertsFlags): Promise<void> {
  const name = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  for (const [flag, value] of [
    ['--service', flags.service],
    ['--namespace', flags.namespace],
  ] as const) {
    if (!name.test(value) || value.length > 63) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `${flag} ${JSON.stringify(value)} is not a Kubernetes name`,
      );
    }
  }
  const days = parseCount('--days', flags.days);
  if (days < 1 || days > 3650) {
    throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', '--days must be from 1 to 3650');
  }
  const files = {
    ca: join(flags.out, 'ca.crt'),
    cert: join(flags.out, 'tls.crt'),
    key: join(flags.out, 'tls.key'),
  };
  if (flags.force !== true) {
    for (const file of Object.values(files)) {
      if (await exists(file)) {
        throw new InvalidInputError(
          'NV2_ERR_FILE_EXISTS',
          `${file} exists: remove it or use --force`,
        );
      }
    }
  }
  await mkdir(flags.out, { recursive: true });
  const now = Date.now();
  const notBefore = new Date(now - 60_000);
  const notAfter = new Date(now + days * DAY_MS);
  const caKeys = generateKeyPair('ec-p256');
  const ca = await issueCertificate({
    subject: `CN=${flags.service}.${flags.namespace} webhook CA`,
    publicKey: caKeys.publicKey,
    selfSigningKey: caKeys.privateKey,
    notBefore,
    notAfter,
    basicConstraints: { ca: true, pathLength: 0 },
    keyUsage: KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign,
  });
  const dnsNames = [
    flags.service,
    `${flags.service}.${flags.namespace}`,
    `${flags.service}.${flags.namespace}.svc`,
    `${flags.service}.${flags.namespace}.svc.cluster.local`,
  ];
  const serverKeys = generateKeyPair('ec-p256');
  const cert = await issueCertificate({
    subject: `CN=${flags.service}.${flags.namespace}.svc`,
    publicKey: serverKeys.publicKey,
    issuer: { key: caKeys.privateKey, certificate: ca },
    notBefore,
    notAfter,
    basicConstraints: { ca: false },
    keyUsage: KeyUsageFlags.digitalSignature,
    extendedKeyUsage: [SERVER_AUTH_EKU],
    dnsNames,
  });
  const keyPem = serverKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // The CA's private key is not kept: nothing else is ever issued under it.
  await writeFileAtomic(files.ca, ca.toPem());
  await writeFileAtomic(files.cert, cert.toPem() + ca.toPem());
  await writeFileAtomic(files.key, keyPem, { mode: 0o600 });
  const caBundle = Buffer.from(ca.toPem()).toString('base64');
  if (flags.output === 'json') {
    printJson({ ...files, dnsNames, notAfter: notAfter.toISOString(), caBundle });
    return;
  }
  process.stderr.write(
    `wrote ${files.cert}, ${files.key} and ${files.ca} for ${dnsNames[2]} (valid until ${notAfter.toISOString()})\n` +
      `the line below is the caBundle of the webhook configurations and the Gatekeeper Provider\n`,
  );
  print(caBundle);
}

/** `nv2 admission serve` and `nv2 admission certs`: the Kubernetes admission face. */
export function registerAdmission(program: Command): void {
  const admission = program
    .command('admission')
    .description('deploy-time enforcement: Kubernetes admission webhook and Gatekeeper provider');

  admission
    .command('serve')
    .description(
      'serve /validate and /mutate (AdmissionReview v1), /provider (Gatekeeper external data), /healthz, /readyz and /metrics over HTTPS; logs one JSON line per decision',
    )
    .option(
      '--config-dir <dir>',
      'configuration directory holding trustpolicy.json and truststore/x509/<type>/<name>/*.pem',
      '/etc/nv2',
    )
    .option(
      '--docker-config <file>',
      'registry credentials: a docker config.json (a mounted dockerconfigjson Secret)',
    )
    .option('--addr <host:port>', 'address to listen on', '0.0.0.0:8443')
    .option(
      '--tls-cert <file>',
      'serving certificate (PEM, chain allowed); reloaded when it changes',
    )
    .option('--tls-key <file>', 'private key of --tls-cert; reloaded when it changes')
    .option(
      '--plain-http <pattern>',
      'reach registries matching this host pattern over plain HTTP (* matches anything; repeatable)',
      collect,
      [],
    )
    .option(
      '--registry-mirror <registry=mirror>',
      "fetch REGISTRY's images from MIRROR, names unchanged (repeatable)",
      collect,
      [],
    )
    .option(
      '--registry-ca-file <file>',
      "PEM CA certificates trusted for registries besides the system's",
    )
    .option(
      '--exclude-namespace <name>',
      'never check objects in this namespace (repeatable)',
      collect,
      [],
    )
    .option(
      '--deadline <duration>',
      "time allowed to verify one request's images; keep it under the webhook timeout",
      '8s',
    )
    .option('--request-timeout <duration>', 'time allowed for one registry request', '3s')
    .option('--cache-size <n>', 'verdicts remembered by digest (0: no cache)', '4096')
    .option(
      '--max-signatures <n>',
      'the most signatures of one image evaluated (default 100)',
      maxSignatures,
    )
    .option('--cache-ttl <duration>', 'how long a successful verification is remembered', '5m')
    .option(
      '--tag-ttl <duration>',
      "how long a tag's digest and a refusal are remembered (at most 5m)",
      '30s',
    )
    .option('--tls-poll <duration>', 'how often the TLS files are checked for changes', '5s')
    .option(
      '--config-poll <duration>',
      'how often trustpolicy.json and the trust store are checked for changes',
      '10s',
    )
    .option(
      '--plugin-dir <dir>',
      'where verification plugins named by signatures are found, searched in order (repeatable; default $NV2_CONFIG_DIR/plugins, then $NV2_NOTATION_DIR/plugins when set)',
      collect,
      [],
    )
    .option(
      '--plugin-config <key=value>',
      'pluginConfig sent to verification plugins (repeatable)',
      collect,
      [],
    )
    .option(
      '--plugin-timeout <duration>',
      'time allowed for one verification plugin command (default 60s)',
    )
    .action(serve);

  admission
    .command('certs')
    .description(
      "make the webhook's serving certificate (tls.crt, tls.key) and its CA (ca.crt); prints the caBundle",
    )
    .requiredOption('--service <name>', 'the webhook Service name')
    .requiredOption('--namespace <ns>', 'the namespace of the Service')
    .option('--out <dir>', 'directory to write the files to', '.')
    .option('--days <n>', 'validity in days', '365')
    .option('--force', 'replace existing files')
    .option('--output <format>', 'text or json', outputFormat, 'text')
    .action(certs);
}
