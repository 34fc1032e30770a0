import { readFile } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { InvalidInputError } from '../../errors.js';
import { CONFIG_PATHS, loadPolicyConfig, watchPaths } from '../../policy/index.js';
import {
  type AccessControl,
  type RegistryTrust,
  createAccessControl,
  createRegistryTrust,
  createFilesystemDriver,
  createMemoryDriver,
  createRegistry,
  openRegistryStore,
  generateTokenSigningKey,
  loadS3Driver,
  loadTokenSigningKey,
  readHtpasswd,
} from '../index.js';
import type { RegistryStore, StorageDriver } from '../index.js';
import type { RegistryConfig, S3StorageConfig } from './config.js';
import type { LogSink } from './logging.js';
import { createAccessLogger, createLogger } from './logging.js';
import { createMetrics } from './metrics.js';

/** A running registry server. */
export interface RunningRegistry {
  /** Base URL, e.g. `http://127.0.0.1:5000`. */
  readonly url: string;
  readonly server: Server;
  /**
   * Reloads the trust policy and trust store (SIGHUP; the directory is also watched): the
   * new policy applies to the next request and every cached verdict is dropped. A
   * configuration that does not load is logged and the old one kept. No-op without `trust`.
   */
  reloadTrust(): Promise<void>;
  /**
   * Stops accepting connections and resolves when in-flight requests have finished, or when
   * the shutdown timeout forces the remaining connections closed.
   */
  close(): Promise<void>;
}

/** Whether a listen host is only reachable from this machine. */
function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

/**
 * The access control of the `auth` section: users from the htpasswd file and the config, the
 * token signing key from the config, else `<root>/auth/token-key.pem` (generated on first
 * start, mode 0600), else (memory storage) a key that lives as long as the process.
 */
async function createServerAccessControl(
  config: RegistryConfig,
  log: (msg: string, fields?: Record<string, unknown>) => void,
): Promise<AccessControl> {
  const settings = config.auth!;
  const users = new Map<string, string>();
  if (settings.htpasswd !== undefined) {
    for (const [name, hash] of await readHtpasswd(settings.htpasswd)) users.set(name, hash);
  }
  for (const [name, hash] of Object.entries(settings.users)) {
    if (users.has(name)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `config: user ${name} is in both auth.users and ${settings.htpasswd}`,
      );
    }
    users.set(name, hash);
  }
  let key;
  if (settings.mode === 'token') {
    if (settings.token.key !== undefined) {
      key = await loadTokenSigningKey(settings.token.key);
    } else if (config.storage.driver === 'filesystem') {
      key = await loadTokenSigningKey(join(config.storage.root, 'auth', 'token-key.pem'), {
        create: true,
      });
    } else if (config.storage.driver === 's3') {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        'config: s3 storage with token auth needs auth.token.key (every replica signs and checks tokens with the same key)',
      );
    } else {
      log(
        'tokens are signed with a key that dies with the process (memory storage, no auth.token.key)',
        {
          level: 'warn',
        },
      );
      key = generateTokenSigningKey();
    }
  }
  return createAccessControl({
    mode: settings.mode,
    users,
    groups: settings.groups,
    rules: settings.rules,
    signatureTypes: settings.signatureTypes,
    token: {
      ...(settings.token.service !== undefined ? { service: settings.token.service } : {}),
      ...(settings.token.issuer !== undefined ? { issuer: settings.token.issuer } : {}),
      ...(settings.token.realm !== undefined ? { realm: settings.token.realm } : {}),
      ...(settings.token.expiresInSeconds !== undefined
        ? { expiresInSeconds: settings.token.expiresInSeconds }
        : {}),
      ...(key !== undefined ? { key } : {}),
    },
    failures: settings.failures,
  });
}

/** How often a replica looks for abandoned upload sessions. */
const UPLOAD_PURGE_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Removes abandoned upload sessions and incomplete multipart uploads older than the configured
 * age, once an hour (every replica does; the work is idempotent).
 */
function startUploadPurging(
  store: RegistryStore,
  storage: S3StorageConfig,
  log: (msg: string, fields?: Record<string, unknown>) => void,
): NodeJS.Timeout {
  const timer = setInterval(() => {
    const before = new Date(Date.now() - storage.uploadPurgeAgeSeconds * 1000);
    store.uploads.purge(before).then(
      (removed) => {
        if (removed > 0) log('purged abandoned uploads', { removed });
      },
      (err: unknown) => log('upload purge failed', { level: 'error', cause: String(err) }),
    );
  }, UPLOAD_PURGE_INTERVAL_MS);
  timer.unref();
  return timer;
}

/**
 * Starts the registry: storage, the request handler, `/metrics`, logging, TLS. Only faces
 * call this; the handler itself comes from `createRegistry`.
 */
export async function startRegistryServer(
  config: RegistryConfig,
  sink: LogSink,
): Promise<RunningRegistry> {
  const log = createLogger(config.log.format, sink);
  const logRequest = createAccessLogger(config.log.format, sink);
  const storage = config.storage;
  let driver: StorageDriver;
  if (storage.driver === 's3') {
    // The SDK warns on stderr about future Node versions, which would break JSON log lines.
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
    driver = await loadS3Driver(storage.s3);
  } else if (storage.driver === 'memory') {
    driver = createMemoryDriver();
  } else {
    driver = createFilesystemDriver({ root: storage.root });
  }
  const metrics = createMetrics();
  const auth = config.auth !== undefined ? await createServerAccessControl(config, log) : undefined;
  const { store, close: closeStore } = await openRegistryStore(
    driver,
    storage.driver === 's3' && storage.redirect !== undefined
      ? { blobs: { redirect: storage.redirect } }
      : {},
    config.metadata,
    log,
  );
  const purge = storage.driver === 's3' ? startUploadPurging(store, storage, log) : undefined;
  // The registry name of the policy's scopes defaults to the address clients reach, known
  // once the server listens.
  let listenName = `${config.addr.host}:${config.addr.port}`;
  let trust: RegistryTrust | undefined;
  if (config.trust !== undefined) {
    const registryName = config.trust.registryName;
    trust = createRegistryTrust({
      store,
      policy: await loadPolicyConfig(config.trust.configDir),
      registryName: registryName !== undefined ? registryName : () => listenName,
      enforce: config.enforce,
    });
  }
  const handler = createRegistry({
    store,
    ui: config.ui,
    ...(auth !== undefined ? { auth } : {}),
    ...(trust !== undefined ? { trust } : {}),
    onRequest: (record) => {
      metrics.observe(record);
      logRequest(record);
    },
  });
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      void metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      });
      return;
    }
    handler(req, res);
  };

  let server: Server;
  if (config.tls !== undefined) {
    let cert: Buffer;
    let key: Buffer;
    try {
      [cert, key] = await Promise.all([readFile(config.tls.cert), readFile(config.tls.key)]);
    } catch {
      throw new InvalidInputError(
        'NV2_ERR_FILE_NOT_FOUND',
        'the TLS certificate or key cannot be read',
      );
    }
    server = createTlsServer({ cert, key }, serve) as unknown as Server;
  } else {
    server = createServer(serve);
  }
  // Uploads can be large and slow: no request timeout; idle keep-alive sockets still close.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL'
          ? new InvalidInputError(
              'NV2_ERR_INVALID_ARGUMENT',
              `cannot listen on ${config.addr.host}:${config.addr.port}: ${err.code}`,
            )
          : err,
      ),
    );
    server.listen(config.addr.port, config.addr.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${config.tls !== undefined ? 'https' : 'http'}://${host}:${address.port}`;
  const anyInterface = address.address === '0.0.0.0' || address.address === '::';
  listenName = `${anyInterface ? 'localhost' : host}:${address.port}`;
  // Before `listening`: whoever waits for that line has seen the warning too.
  if (auth !== undefined && config.tls === undefined && !isLoopback(config.addr.host)) {
    log(
      'passwords and tokens travel in clear text: serve HTTPS (--tls-cert, --tls-key) when clients connect over a network',
      {
        level: 'warn',
        addr: `${config.addr.host}:${config.addr.port}`,
      },
    );
  }
  log('listening', {
    url,
    storage:
      storage.driver === 'filesystem'
        ? `filesystem:${storage.root}`
        : storage.driver === 's3'
          ? `s3:${storage.s3.bucket}${storage.s3.rootDirectory !== undefined ? `/${storage.s3.rootDirectory}` : ''}`
          : 'memory',
    metadata: config.metadata === undefined ? 'embedded' : 'postgres',
    auth: auth === undefined ? 'none' : auth.mode,
    ui: config.ui,
    ...(trust !== undefined
      ? {
          trust: config.trust!.configDir,
          registryName: trust.registryName,
          enforce: config.enforce,
        }
      : {}),
  });

  const reloadTrust = async (): Promise<void> => {
    if (trust === undefined || config.trust === undefined) return;
    try {
      const policy = await loadPolicyConfig(config.trust.configDir);
      trust.replacePolicy(policy);
      log('trust policy reloaded', {
        configDir: config.trust.configDir,
        statements: policy.document.trustPolicies.map((s) => ({
          name: s.name,
          scopes: s.registryScopes,
          level: s.signatureVerification.level,
        })),
      });
    } catch (err) {
      log('trust policy not reloaded; the previous one stays in use', {
        level: 'error',
        error: (err as Error).message,
        ...((err as { code?: unknown }).code !== undefined
          ? { code: (err as { code: unknown }).code }
          : {}),
      });
    }
  };
  const stopWatching =
    config.trust !== undefined
      ? watchPaths(
          CONFIG_PATHS.map((p) => join(config.trust!.configDir, p)),
          config.trust.pollSeconds * 1000,
          reloadTrust,
        )
      : () => undefined;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      stopWatching();
      log('shutting down', { timeoutSeconds: config.shutdownTimeoutSeconds });
      const timer = setTimeout(
        () => server.closeAllConnections(),
        config.shutdownTimeoutSeconds * 1000,
      );
      timer.unref();
      if (purge !== undefined) clearInterval(purge);
      server.close(() => {
        clearTimeout(timer);
        // Last, once no request can write: the store (its database pool), then the driver —
        // the filesystem driver checkpoints its journal, so that the next start has nothing
        // to replay. A failure only means a replay then.
        void closeStore()
          .then(() => driver.close?.())
          .then(
            () => undefined,
            (err: unknown) => log('storage close failed', { level: 'error', cause: String(err) }),
          )
          .finally(() => {
            log('stopped');
            resolve();
          });
      });
      server.closeIdleConnections();
    });
    return closing;
  };
  return { url, server, close, reloadTrust };
}
