import { InvalidInputError } from '../errors.js';
import { type ProxyConfig, readCaFile } from '../http/index.js';
import { type Reference, isRegistryHost, registryHostname } from '../oci/index.js';
import {
  type CredentialProvider,
  type FetchLike,
  type RegistryClient,
  Repository,
  createRegistryClient,
} from '../remote/index.js';
import { TtlCache } from './cache.js';

/** Each registry request must answer within this by default: well within a webhook's 10 s. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 3_000;

/** Attempts per idempotent registry request: one retry, so that two fit in the deadline. */
const ADMISSION_MAX_ATTEMPTS = 2;

/** Repositories kept open (each remembers whether its registry has the referrers API). */
const MAX_REPOSITORIES = 1024;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Options of `RegistryAccess`. */
export interface RegistryAccessOptions {
  /** Where registry credentials come from (a mounted docker config); anonymous when absent. */
  readonly credentials?: CredentialProvider;
  /**
   * Registries reached over plain HTTP, as host patterns where `*` matches any run of
   * characters (`registry.test:5000`, `*.svc.cluster.local:5000`). Loopback registries always are.
   */
  readonly plainHttp?: readonly string[];
  /**
   * Registries fetched from somewhere else: `docker.io` → `mirror.internal:5000`. Images keep
   * their names (policies and logs see `docker.io/library/nginx`); only the bytes come from
   * the mirror, which must serve the same repositories with the same digests.
   */
  readonly mirrors?: Readonly<Record<string, string>>;
  /** A PEM file of CA certificates trusted besides the system's, for private registries. */
  readonly caFile?: string;
  /** Longest wait for any one registry request (connect, headers, body), default 3 s. */
  readonly requestTimeoutMs?: number;
  /** Proxies (`proxyFromEnv(process.env)`); default none. */
  readonly proxy?: ProxyConfig;
  /** The transport, for tests; default the library's HTTP transport with the deadline above. */
  readonly fetch?: FetchLike;
}

function patternMatcher(patterns: readonly string[]): (host: string) => boolean {
  const regexes = patterns.map(
    (p) =>
      new RegExp(
        `^${p
          .split('*')
          .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
        'i',
      ),
  );
  return (host) => regexes.some((r) => r.test(host));
}

/**
 * How the admission server reaches registries: one shared client (connection pool, token
 * cache) whose every request is bounded by a timeout, plain-HTTP patterns, and mirrors.
 */
export class RegistryAccess {
  readonly client: RegistryClient;
  readonly #mirrors: ReadonlyMap<string, string>;
  readonly #repositories = new TtlCache<string, Repository>(MAX_REPOSITORIES);

  constructor(options: RegistryAccessOptions = {}) {
    const timeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `the registry request timeout must be positive, not ${timeout}`,
      );
    }
    const mirrors = new Map<string, string>();
    for (const [from, to] of Object.entries(options.mirrors ?? {})) {
      for (const host of [from, to]) {
        if (!isRegistryHost(host)) {
          throw new InvalidInputError(
            'NV2_ERR_INVALID_ARGUMENT',
            `registry mirror ${from}=${to}: ${JSON.stringify(host)} is not a registry host`,
          );
        }
      }
      mirrors.set(from, to);
    }
    this.#mirrors = mirrors;
    // Read now, so that a bad CA file stops the server at start, not at the first review.
    if (options.caFile !== undefined) readCaFile(options.caFile);
    const plain = options.plainHttp ?? [];
    const matches = patternMatcher(plain);
    this.client = createRegistryClient({
      ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
      ...(options.caFile !== undefined ? { caFile: options.caFile } : {}),
      ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
      requestDeadlineMs: timeout,
      maxAttempts: ADMISSION_MAX_ATTEMPTS,
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      plainHttp: (registry) =>
        LOOPBACK_HOSTS.has(registryHostname(registry).toLowerCase()) || matches(registry),
    });
  }

  /** The registry `registry`'s content is fetched from: its mirror, or itself. */
  hostOf(registry: string): string {
    return this.#mirrors.get(registry) ?? registry;
  }

  /** The repository `reference` names, at its registry's mirror when it has one. */
  repository(reference: Reference): Repository {
    const host = this.hostOf(reference.registry);
    const key = `${host}/${reference.repository}`;
    let repository = this.#repositories.get(key);
    if (repository === undefined) {
      repository = new Repository(host, reference.repository, { client: this.client });
      this.#repositories.set(key, repository, Number.MAX_SAFE_INTEGER);
    }
    return repository;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
