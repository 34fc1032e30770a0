/**
 * An admission set-up for tests and the benchmark: an in-process registry holding signed,
 * unsigned, untrusted-signed, expired and tampered images (and `library/nginx` and
 * `library/busybox`, served as docker.io's mirror), a configuration directory with a trust
 * policy of several scopes and two trust stores, and a running admission server over HTTPS.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import {
  type AdmissionHandler,
  type AdmissionServer,
  ImageChecks,
  type ImageChecksOptions,
  type LogEntry,
  RegistryAccess,
  createAdmissionHandler,
  createImageVerifier,
  reloadOnConfigChange,
  startAdmissionServer,
} from '../../src/admission/index.js';
import { type TrustPolicyDocument, writeTrustPolicy } from '../../src/policy/index.js';
import { signArtifact } from '../../src/notary/index.js';
import { type Descriptor, MediaTypes, createDescriptor } from '../../src/oci/index.js';
import { Repository, createRegistryClient } from '../../src/remote/index.js';
import { sign } from '../../src/signature/index.js';
import { makeTlsCertificate } from './cli.js';
import { tempDir } from './fixtures.js';
import { type TestIdentity, issuedSigner, rootCA } from './pki.js';
import { type RunningRegistry, startRegistry } from './registry.js';

/** Pushes a small image (config + one layer) as `repository:tag`; returns its manifest. */
export async function pushImage(repo: Repository, tag: string, seed: string): Promise<Descriptor> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const layer = Buffer.from(`layer of ${seed}`);
  const configDescriptor = createDescriptor('application/vnd.oci.image.config.v1+json', config);
  const layerDescriptor = createDescriptor('application/vnd.oci.image.layer.v1.tar', layer);
  await repo.push(configDescriptor, config);
  await repo.push(layerDescriptor, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: configDescriptor,
      layers: [layerDescriptor],
    }),
  );
  const descriptor = createDescriptor(MediaTypes.ociManifest, manifest);
  await repo.push(descriptor, manifest);
  await repo.tag(descriptor, tag);
  return descriptor;
}

/** The images of the fixture registry, by role. */
export interface AdmissionImages {
  /** Signed by the trusted signer, by tag (`HOST/signed/one:v1` …). */
  readonly signed: readonly string[];
  /** Their digests, in the same order. */
  readonly signedDigests: readonly string[];
  readonly unsigned: string;
  /** Signed by a signer whose CA is not in the trust store. */
  readonly untrusted: string;
  /** Signed by the trusted signer, but the signature expired. */
  readonly expired: string;
  /** Its signature's bytes were altered. */
  readonly tampered: string;
  /** `nginx:1.25`: docker.io's `library/nginx`, served by the fixture registry as its mirror. */
  readonly shortName: string;
  readonly shortNameDigest: string;
  /** Signed by the partner signer, under the `partner` scope (store `ca:partner`). */
  readonly partner: string;
  /** Signed by the trusted (acme) signer, under the `partner` scope: refused there. */
  readonly partnerByAcme: string;
  /** `busybox:1.36`: docker.io's `library/busybox` (mirrored), signed by the partner signer. */
  readonly mirroredPartner: string;
  /** Under the `audited` scope (level audit): unsigned, and signed by an untrusted signer. */
  readonly auditedUnsigned: string;
  readonly auditedUntrusted: string;
  /** Under the `lenient` scope (level permissive): signed by the trusted signer, expired. */
  readonly lenientExpired: string;
  /** Under the `unchecked` scope (level skip): unsigned. */
  readonly uncheckedUnsigned: string;
}

/** Where the partner signer's issuer says its certificate is published (AIA caIssuers). */
export const PARTNER_CA_ISSUERS_URL = 'http://pki.partner.example/root.crt';

/**
 * The fixture's trust policy: everything under `ca:acme` (strict), except the partner's
 * repositories and docker.io's busybox (`ca:partner`, strict), an audited and a lenient
 * (permissive) scope, and an unchecked one (skip).
 */
export function fixtureTrustPolicy(host: string): TrustPolicyDocument {
  return {
    version: '1.0',
    trustPolicies: [
      {
        name: 'acme',
        registryScopes: ['*'],
        signatureVerification: { level: 'strict' },
        trustStores: ['ca:acme'],
        trustedIdentities: ['*'],
      },
      {
        name: 'partner',
        registryScopes: [`${host}/partner/*`, 'docker.io/library/busybox'],
        signatureVerification: { level: 'strict' },
        trustStores: ['ca:partner'],
        trustedIdentities: ['*'],
      },
      {
        name: 'audited',
        registryScopes: [`${host}/audited/*`],
        signatureVerification: { level: 'audit' },
        trustStores: ['ca:acme'],
        trustedIdentities: ['*'],
      },
      {
        name: 'lenient',
        registryScopes: [`${host}/lenient/*`],
        signatureVerification: { level: 'permissive' },
        trustStores: ['ca:acme'],
        trustedIdentities: ['*'],
      },
      {
        name: 'unchecked',
        registryScopes: [`${host}/unchecked/*`],
        signatureVerification: { level: 'skip' },
      },
    ],
  };
}

/** A running admission fixture. */
export interface AdmissionFixture {
  readonly registry: RunningRegistry;
  readonly server: AdmissionServer;
  readonly handler: AdmissionHandler;
  readonly checks: ImageChecks;
  readonly images: AdmissionImages;
  /**
   * The configuration directory: `trustpolicy.json` (`fixtureTrustPolicy`) and
   * `truststore/x509/ca/{acme,partner}/root.pem`.
   */
  readonly configDir: string;
  /** Replaces `trustpolicy.json` atomically, as the kubelet swaps a ConfigMap. */
  writePolicy(document: TrustPolicyDocument): Promise<void>;
  readonly tls: { readonly cert: string; readonly key: string };
  /** Every decision logged so far. */
  readonly log: LogEntry[];
  readonly trustedRoot: TestIdentity;
  /** The root CA of the untrusted images' signer: the `ca:partner` store. */
  readonly otherRoot: TestIdentity;
  /** POSTs `body` as JSON to `path`, trusting the server's certificate. */
  post(path: string, body: unknown): Promise<{ status: number; body: unknown }>;
  /** GETs `path`. */
  get(path: string): Promise<{ status: number; text: string }>;
  close(): Promise<void>;
}

async function signWith(
  repo: Repository,
  tag: string,
  signer: TestIdentity,
  root: TestIdentity,
  now?: Date,
  expiresIn?: number,
): Promise<void> {
  await signArtifact(
    repo,
    tag,
    { key: signer.key, certificateChain: [signer.cert.der, root.cert.der] },
    { ...(now !== undefined ? { now } : {}), ...(expiresIn !== undefined ? { expiresIn } : {}) },
  );
}

/** Options of `startAdmissionFixture`. */
export interface AdmissionFixtureOptions {
  readonly checks?: Partial<Omit<ImageChecksOptions, 'verifier' | 'registries'>>;
  readonly excludedNamespaces?: readonly string[];
  readonly deadlineMs?: number;
  readonly tlsPollMs?: number;
  /** How often the configuration directory is checked for changes (default 50 ms). */
  readonly configPollMs?: number;
}

/** Starts the registry, fills it, writes the trust directory and starts the server. */
export async function startAdmissionFixture(
  options: AdmissionFixtureOptions = {},
): Promise<AdmissionFixture> {
  const registry = await startRegistry();
  const host = registry.host;
  const client = createRegistryClient();
  const repo = (name: string): Repository => new Repository(host, name, { client });
  const trustedRoot = await rootCA('acme root');
  const trustedSigner = await issuedSigner(trustedRoot, 'acme signer');
  const otherRoot = await rootCA('other root');
  const otherSigner = await issuedSigner(otherRoot, 'other signer', {
    caIssuersUrls: [PARTNER_CA_ISSUERS_URL],
  });

  const signed: string[] = [];
  const signedDigests: string[] = [];
  for (const name of ['one', 'two', 'three', 'init', 'debug']) {
    const r = repo(`signed/${name}`);
    const d = await pushImage(r, 'v1', `signed-${name}`);
    await signWith(r, 'v1', trustedSigner, trustedRoot);
    signed.push(`${host}/signed/${name}:v1`);
    signedDigests.push(d.digest);
  }
  await pushImage(repo('unsigned'), 'v1', 'unsigned');
  const untrusted = repo('untrusted');
  await pushImage(untrusted, 'v1', 'untrusted');
  await signWith(untrusted, 'v1', otherSigner, otherRoot);
  const expired = repo('expired');
  await pushImage(expired, 'v1', 'expired');
  await signWith(expired, 'v1', trustedSigner, trustedRoot, new Date(Date.now() - 3_600_000), 60);
  const tamperedRepo = repo('tampered');
  const tamperedSubject = await pushImage(tamperedRepo, 'v1', 'tampered');
  const jws = sign(tamperedSubject, {
    key: trustedSigner.key,
    certificateChain: [trustedSigner.cert.der, trustedRoot.cert.der],
  });
  const last = jws.at(-2) === 'A' ? 'B' : 'A';
  const { pushSignature } = await import('../../src/notary/index.js');
  await pushSignature(tamperedRepo, tamperedSubject, `${jws.slice(0, -2)}${last}${jws.at(-1)!}`);
  const nginx = repo('library/nginx');
  const nginxDigest = await pushImage(nginx, '1.25', 'nginx');
  await signWith(nginx, '1.25', trustedSigner, trustedRoot);
  const busybox = repo('library/busybox');
  await pushImage(busybox, '1.36', 'busybox');
  await signWith(busybox, '1.36', otherSigner, otherRoot);
  const partner = repo('partner/app');
  await pushImage(partner, 'v1', 'partner-app');
  await signWith(partner, 'v1', otherSigner, otherRoot);
  const partnerByAcme = repo('partner/acme-built');
  await pushImage(partnerByAcme, 'v1', 'partner-acme-built');
  await signWith(partnerByAcme, 'v1', trustedSigner, trustedRoot);
  await pushImage(repo('audited/unsigned'), 'v1', 'audited-unsigned');
  const auditedUntrusted = repo('audited/untrusted');
  await pushImage(auditedUntrusted, 'v1', 'audited-untrusted');
  await signWith(auditedUntrusted, 'v1', otherSigner, otherRoot);
  const lenientExpired = repo('lenient/expired');
  await pushImage(lenientExpired, 'v1', 'lenient-expired');
  await signWith(
    lenientExpired,
    'v1',
    trustedSigner,
    trustedRoot,
    new Date(Date.now() - 3_600_000),
    60,
  );
  await pushImage(repo('unchecked/unsigned'), 'v1', 'unchecked-unsigned');
  await client.close();

  const configDir = await tempDir();
  for (const [store, root] of [
    ['acme', trustedRoot],
    ['partner', otherRoot],
  ] as const) {
    const dir = join(configDir, 'truststore/x509/ca', store);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'root.pem'), root.certPem);
  }
  const writePolicy = async (document: TrustPolicyDocument): Promise<void> => {
    await writeTrustPolicy(configDir, document);
  };
  await writePolicy(fixtureTrustPolicy(host));
  const tlsDir = await tempDir();
  const tls = await makeTlsCertificate(tlsDir);
  const ca = await readFile(tls.cert);

  const log: LogEntry[] = [];
  const registries = new RegistryAccess({
    mirrors: { 'docker.io': host },
    requestTimeoutMs: 2_000,
  });
  const verifier = await createImageVerifier({ configDir, registries });
  const checks = new ImageChecks({ verifier, registries, ...options.checks });
  const stopConfigWatch = reloadOnConfigChange({
    configDir,
    registries,
    checks,
    intervalMs: options.configPollMs ?? 50,
    log: (entry) => log.push(entry),
  });
  const handler = createAdmissionHandler({
    checks,
    excludedNamespaces: options.excludedNamespaces ?? ['nv2-system'],
    ...(options.deadlineMs !== undefined ? { deadlineMs: options.deadlineMs } : {}),
    log: (entry) => log.push(entry),
  });
  const server = await startAdmissionServer({
    handler,
    tls,
    host: '127.0.0.1',
    port: 0,
    tlsPollMs: options.tlsPollMs ?? 50,
    log: (entry) => log.push(entry),
  });

  const send = (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        `${server.url}${path}`,
        {
          method,
          ca,
          headers:
            payload !== undefined
              ? { 'Content-Type': 'application/json', 'Content-Length': payload.length }
              : {},
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });

  return {
    registry,
    server,
    handler,
    checks,
    configDir,
    writePolicy,
    tls,
    log,
    trustedRoot,
    otherRoot,
    images: {
      signed,
      signedDigests,
      unsigned: `${host}/unsigned:v1`,
      untrusted: `${host}/untrusted:v1`,
      expired: `${host}/expired:v1`,
      tampered: `${host}/tampered:v1`,
      shortName: 'nginx:1.25',
      shortNameDigest: nginxDigest.digest,
      partner: `${host}/partner/app:v1`,
      partnerByAcme: `${host}/partner/acme-built:v1`,
      mirroredPartner: 'busybox:1.36',
      auditedUnsigned: `${host}/audited/unsigned:v1`,
      auditedUntrusted: `${host}/audited/untrusted:v1`,
      lenientExpired: `${host}/lenient/expired:v1`,
      uncheckedUnsigned: `${host}/unchecked/unsigned:v1`,
    },
    post: async (path, body) => {
      const res = await send('POST', path, body);
      return { status: res.status, body: JSON.parse(res.text) as unknown };
    },
    get: (path) => send('GET', path),
    close: async () => {
      stopConfigWatch();
      await server.close();
      await registries.close();
      await registry.close();
    },
  };
}

/** A pod spec with these containers, init containers and ephemeral containers. */
export function podSpec(
  containers: readonly string[],
  init: readonly string[] = [],
  ephemeral: readonly string[] = [],
): Record<string, unknown> {
  const list = (prefix: string, images: readonly string[]): unknown[] =>
    images.map((image, i) => ({ name: `${prefix}${i}`, image }));
  return {
    containers: list('c', containers),
    ...(init.length > 0 ? { initContainers: list('init', init) } : {}),
    ...(ephemeral.length > 0 ? { ephemeralContainers: list('debug', ephemeral) } : {}),
  };
}

/** A workload object of `kind` whose pod spec is `spec`. */
export function workload(
  kind: string,
  spec: Record<string, unknown>,
  name = 'web',
): Record<string, unknown> {
  const template = { metadata: { labels: { app: name } }, spec };
  const group =
    {
      Pod: 'v1',
      Deployment: 'apps/v1',
      ReplicaSet: 'apps/v1',
      StatefulSet: 'apps/v1',
      DaemonSet: 'apps/v1',
      Job: 'batch/v1',
      CronJob: 'batch/v1',
    }[kind] ?? 'v1';
  const base = { apiVersion: group, kind, metadata: { name, namespace: 'default' } };
  switch (kind) {
    case 'Pod':
      return { ...base, spec };
    case 'Job':
      return {
        ...base,
        spec: { template: { ...template, spec: { ...spec, restartPolicy: 'Never' } } },
      };
    case 'CronJob':
      return {
        ...base,
        spec: {
          schedule: '*/5 * * * *',
          jobTemplate: {
            spec: { template: { ...template, spec: { ...spec, restartPolicy: 'Never' } } },
          },
        },
      };
    default:
      return { ...base, spec: { selector: { matchLabels: { app: name } }, template } };
  }
}

let uid = 0;

/** An AdmissionReview v1 request for `object`. */
export function admissionReview(
  object: Record<string, unknown>,
  options: { namespace?: string; operation?: string; dryRun?: boolean; subResource?: string } = {},
): Record<string, unknown> {
  const kind = object['kind'] as string;
  const [group, version] = (object['apiVersion'] as string).includes('/')
    ? (object['apiVersion'] as string).split('/')
    : ['', object['apiVersion'] as string];
  const resource = `${kind.toLowerCase()}s`;
  const metadata = object['metadata'] as { name: string };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `00000000-0000-4000-8000-${String(++uid).padStart(12, '0')}`,
      kind: { group, version, kind },
      resource: { group, version, resource },
      ...(options.subResource !== undefined ? { subResource: options.subResource } : {}),
      requestKind: { group, version, kind },
      requestResource: { group, version, resource },
      name: metadata.name,
      namespace: options.namespace ?? 'default',
      operation: options.operation ?? 'CREATE',
      userInfo: {
        username: 'kubernetes-admin',
        groups: ['system:masters', 'system:authenticated'],
      },
      object,
      oldObject: null,
      dryRun: options.dryRun ?? false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}
