/**
 * The registry client (`src/remote`) against real servers on 127.0.0.1:
 *
 * (a) nv2's own registry, in process: the referrers API path, uploads, mounts, pagination,
 *     errors, retries, redirects; and the Target contract suite.
 * (b) CNCF distribution 2.8 (`docker-registry`): no referrers API, so the referrers tag schema
 *     fallback runs for real, concurrent writers included; and the Target contract suite.
 * (c) docker token authentication: a token server and an authenticating front over nv2's
 *     registry (challenges, scopes, the token cache, anonymous tokens, refusals), and basic auth.
 * (d) docker's config: auths, identity tokens, credential helpers, login and logout.
 *
 * A small proxy written here stands between client and registry where a test needs to see or
 * change the traffic (a 503, a reset connection, a stripped header, a concurrent writer).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import {
  type IncomingHttpHeaders,
  type IncomingMessage,
  createServer,
  request as httpRequest,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  InvalidInputError,
  RegistryResponseError,
  VerificationFailedError,
  VerificationInconclusiveError,
} from '../../src/errors.js';
import type { Descriptor } from '../../src/oci/index.js';
import { MediaTypes, createDescriptor } from '../../src/oci/index.js';
import type { RegistryClient, RegistryClientOptions } from '../../src/remote/index.js';
import {
  DEFAULT_MAX_ATTEMPTS,
  DOCKER_HUB_CONFIG_KEY,
  MAX_REFERRERS_INDEX_ATTEMPTS,
  Repository,
  chainCredentials,
  createRegistryClient,
  defaultCredentials,
  dockerConfigCredential,
  dockerConfigCredentials,
  envCredentials,
  login,
  logout,
  mergeScopes,
  parseChallenges,
  proxyFromEnv,
  referrersTag,
  repositoryScope,
  staticCredentials,
} from '../../src/remote/index.js';
import { makeTlsCertificate } from '../helpers/cli.js';
import { distributionMissing, startDistribution } from '../helpers/distribution.js';
import type { RunningDistribution } from '../helpers/distribution.js';
import { tempDir } from '../helpers/fixtures.js';
import { startRegistry } from '../helpers/registry.js';
import type { RunningRegistry } from '../helpers/registry.js';
import { startAuthProxy, startTokenServer } from '../helpers/token-server.js';
import type { AuthProxy, TokenServer } from '../helpers/token-server.js';
import {
  EMPTY_CONFIG,
  blob,
  describeTarget,
  fetchAll,
  image,
  last,
  pushAll,
  signature,
} from '../suites/target.js';
import type { Item } from '../suites/target.js';

let counter = 0;
/** A repository name no other test uses. */
function repoName(prefix = 'test'): string {
  counter++;
  return `${prefix}/r${counter}-${randomBytes(3).toString('hex')}`;
}

/** A client that never waits between retries, recording what it would have waited. */
function fastClient(
  options: RegistryClientOptions = {},
): RegistryClient & { readonly slept: number[] } {
  const slept: number[] = [];
  const client = createRegistryClient({
    random: () => 0,
    ...options,
    sleep: (ms) => {
      slept.push(ms);
      return Promise.resolve();
    },
  });
  return Object.assign(client, { slept });
}

/** The rejection of a promise, which must reject. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

// ---- a proxy to watch and change traffic ---------------------------------------------------

interface Exchange {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

interface ProxiedRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

type Hook = (
  req: ProxiedRequest,
  upstream: (override?: Partial<ProxiedRequest>) => Promise<Exchange>,
) => Promise<Exchange | 'reset'>;

/** One HTTP exchange with `upstream`, buffered. */
function call(upstream: string, req: ProxiedRequest): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers };
    delete headers['content-length'];
    delete headers['transfer-encoding'];
    delete headers['connection'];
    const out = httpRequest(
      `${upstream}${req.url.pathname}${req.url.search}`,
      {
        method: req.method,
        headers: { ...headers, 'content-length': String(req.body.byteLength) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) {
            if (v === undefined || ['transfer-encoding', 'connection', 'keep-alive'].includes(k))
              continue;
            out[k] = Array.isArray(v) ? v.join(', ') : v;
          }
          resolve({ status: res.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    out.on('error', reject);
    out.end(req.body);
  });
}

async function readRequest(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

interface Proxy {
  readonly host: string;
  readonly url: string;
  readonly seen: ProxiedRequest[];
  close(): Promise<void>;
}

/** A buffering proxy to `upstream` that lets `hook` answer, change or cut each request. */
async function startProxy(upstream: string, hook: Hook = (_r, up) => up()): Promise<Proxy> {
  const seen: ProxiedRequest[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const proxied: ProxiedRequest = {
        method: req.method ?? 'GET',
        url: new URL(req.url ?? '/', 'http://proxy'),
        headers: req.headers,
        body: await readRequest(req),
      };
      seen.push(proxied);
      try {
        const answer = await hook(proxied, (override) =>
          call(upstream, { ...proxied, ...override }),
        );
        if (answer === 'reset') {
          req.socket.destroy();
          return;
        }
        const headers = { ...answer.headers };
        delete headers['content-length'];
        if (proxied.method === 'HEAD') {
          res.writeHead(answer.status, {
            ...headers,
            ...(answer.headers['content-length'] !== undefined
              ? { 'content-length': answer.headers['content-length'] }
              : {}),
          });
          res.end();
        } else {
          res.writeHead(answer.status, { ...headers, 'content-length': answer.body.byteLength });
          res.end(answer.body);
        }
      } catch (err) {
        res.writeHead(500);
        res.end(String(err));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---- (0) parsing and names -----------------------------------------------------------------

describe('WWW-Authenticate challenges', () => {
  it('parses a Bearer challenge with quoted parameters', () => {
    assert.deepEqual(
      parseChallenges(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
      ),
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.example/token',
            service: 'registry.example',
            scope: 'repository:a/b:pull,push',
          },
        },
      ],
    );
  });

  it('parses several challenges in one header, unquoted values, escapes and odd spacing', () => {
    assert.deepEqual(
      parseChallenges(
        'Basic realm="x \\"y\\"", Bearer realm=plain , service = svc,error="insufficient_scope"',
      ),
      [
        { scheme: 'basic', params: { realm: 'x "y"' } },
        {
          scheme: 'bearer',
          params: { realm: 'plain', service: 'svc', error: 'insufficient_scope' },
        },
      ],
    );
  });

  it('schemes are case-insensitive; a scheme alone and a token68 parse', () => {
    assert.deepEqual(parseChallenges('BASIC, Negotiate abc123==, bearer REALM="r"'), [
      { scheme: 'basic', params: {} },
      { scheme: 'negotiate', params: {}, token68: 'abc123==' },
      { scheme: 'bearer', params: { realm: 'r' } },
    ]);
  });

  it('garbage yields no usable challenge instead of throwing', () => {
    assert.deepEqual(parseChallenges(''), []);
    assert.deepEqual(parseChallenges('"'), []);
    // An unterminated quote: the challenge has no realm, so it cannot be used.
    assert.equal(parseChallenges('Bearer realm="unterminated')[0]?.params['realm'], undefined);
    assert.deepEqual(parseChallenges(`Bearer realm="${'x'.repeat(20_000)}"`), []);
  });
});

describe('scopes', () => {
  it('merges actions per resource and sorts', () => {
    assert.equal(repositoryScope('a/b', ['push', 'pull', 'push']), 'repository:a/b:pull,push');
    assert.deepEqual(
      mergeScopes([
        'repository:b:push',
        'repository:a:pull',
        'repository:b:pull',
        '',
        'repository:c:*',
        'repository:c:pull',
      ]),
      ['repository:a:pull', 'repository:b:pull,push', 'repository:c:*'],
    );
  });
});

describe('registry client: names and schemes', () => {
  it('plain HTTP for loopback registries only, unless told', () => {
    const client = createRegistryClient();
    assert.equal(client.url('localhost:5000', '/v2/'), 'http://localhost:5000/v2/');
    assert.equal(client.url('127.0.0.1:1', '/v2/'), 'http://127.0.0.1:1/v2/');
    assert.equal(client.url('[::1]:5000', '/v2/'), 'http://[::1]:5000/v2/');
    assert.equal(client.url('localhost', '/v2/'), 'http://localhost/v2/');
    assert.equal(client.url('registry.example.com', '/v2/'), 'https://registry.example.com/v2/');
    assert.equal(client.url('10.0.0.1:5000', '/v2/'), 'https://10.0.0.1:5000/v2/');
    assert.equal(
      createRegistryClient({ plainHttp: false }).url('localhost:5000', '/v2/'),
      'https://localhost:5000/v2/',
    );
    assert.equal(
      createRegistryClient({ plainHttp: true }).url('registry.example.com', '/v2/'),
      'http://registry.example.com/v2/',
    );
    const only = createRegistryClient({ plainHttp: (r) => r === 'insecure.example:5000' });
    assert.equal(only.url('insecure.example:5000', '/v2/'), 'http://insecure.example:5000/v2/');
    assert.equal(only.url('localhost:5000', '/v2/'), 'https://localhost:5000/v2/');
  });

  it('docker.io is served by registry-1.docker.io, and its official images are under library/', () => {
    const client = createRegistryClient();
    assert.equal(client.url('docker.io', '/v2/'), 'https://registry-1.docker.io/v2/');
    assert.equal(new Repository('docker.io', 'ubuntu', { client }).name, 'library/ubuntu');
    assert.equal(Repository.fromReference('ubuntu:22.04', { client }).name, 'library/ubuntu');
    assert.equal(
      Repository.fromReference('ghcr.io/a/b@sha256:' + 'a'.repeat(64), { client }).name,
      'a/b',
    );
  });

  it('refuses bad registries, repository names and options', () => {
    const client = createRegistryClient();
    assert.throws(() => new Repository('bad host', 'x', { client }), {
      code: 'NV2_ERR_INVALID_REFERENCE',
    });
    assert.throws(() => new Repository('localhost:5000', 'Upper/Case', { client }), {
      code: 'NV2_ERR_INVALID_REFERENCE',
    });
    assert.throws(() => new Repository('localhost:5000', 'a:tag', { client }), {
      code: 'NV2_ERR_INVALID_REFERENCE',
    });
    assert.throws(() => new Repository('localhost:5000', 'a', { client, chunkBytes: 0 }), {
      code: 'NV2_ERR_INVALID_ARGUMENT',
    });
    assert.throws(() => createRegistryClient({ maxAttempts: 0 }), {
      code: 'NV2_ERR_INVALID_ARGUMENT',
    });
  });

  it('the referrers tag schema tag: <alg>-<hex>, the hex cut to 64 characters', () => {
    const d256 = createDescriptor('application/octet-stream', Buffer.from('x'));
    assert.equal(referrersTag(d256.digest), d256.digest.replace(':', '-'));
    const d512 = createDescriptor('application/octet-stream', Buffer.from('x'), 'sha512');
    assert.equal(referrersTag(d512.digest), `sha512-${d512.digest.slice(7, 7 + 64)}`);
  });
});

describe('registry client: TLS', () => {
  let work: string;
  let server: ReturnType<typeof createHttpsServer>;
  let host: string;
  before(async () => {
    work = await tempDir();
    await makeTlsCertificate(work);
    server = createHttpsServer(
      { key: await readFile(join(work, 'tls.key')), cert: await readFile(join(work, 'tls.crt')) },
      (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{}');
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );

  it('an untrusted certificate is UNREACHABLE; a CA file or --insecure lets it through', async () => {
    const strict = createRegistryClient({ plainHttp: false });
    const withCa = createRegistryClient({ plainHttp: false, caFile: join(work, 'tls.crt') });
    const insecure = createRegistryClient({ plainHttp: false, insecure: true });
    try {
      const err = await rejection(strict.ping(host));
      assert.ok(err instanceof VerificationInconclusiveError);
      assert.equal((err as VerificationInconclusiveError).code, 'NV2_ERR_REGISTRY_UNREACHABLE');
      await withCa.ping(host);
      await insecure.ping(host);
    } finally {
      await Promise.all([strict.close(), withCa.close(), insecure.close()]);
    }
  });

  it('through an HTTPS_PROXY: TLS runs end to end inside a CONNECT tunnel', async () => {
    const tunnels: string[] = [];
    // A proxy that tunnels every CONNECT to the TLS server, whatever host it names.
    const proxy = createServer();
    proxy.on('connect', (req, socket) => {
      tunnels.push(req.url ?? '');
      const upstream = connect(Number(host.split(':')[1]), '127.0.0.1', () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    // The certificate names 127.0.0.1, not registry.test: --insecure lets the name through.
    const client = createRegistryClient({
      plainHttp: false,
      insecure: true,
      proxy: proxyFromEnv({ HTTPS_PROXY: proxyUrl, NO_PROXY: 'direct.test' }),
    });
    try {
      await client.ping('registry.test');
      assert.deepEqual(tunnels, ['registry.test:443']);
    } finally {
      await client.close();
      proxy.closeAllConnections();
      proxy.close();
    }
  });

  it('a CA file that cannot be read is NV2_ERR_FILE_NOT_FOUND', async () => {
    const client = createRegistryClient({ plainHttp: false, caFile: join(work, 'missing.pem') });
    await assert.rejects(client.ping(host), { code: 'NV2_ERR_FILE_NOT_FOUND' });
    await client.close();
  });
});

// ---- (a) nv2's registry: the referrers API ------------------------------------------------

describe('Repository over the nv2 registry (referrers API)', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;
  before(async () => {
    registry = await startRegistry();
    client = createRegistryClient();
  });
  after(async () => {
    await client.close();
    await registry.close();
  });

  describeTarget('remote Repository over the nv2 registry', () =>
    Promise.resolve(new Repository(registry.host, repoName('contract'), { client })),
  );

  it('resolves a tag with one HEAD, reading digest, size and media type from the headers', async () => {
    const repo = new Repository(registry.host, repoName(), { client });
    const items = image();
    await pushAll(repo, items);
    await repo.tag(last(items), 'v1');
    const before = registry.records.length;
    assert.deepEqual(await repo.resolve('v1'), last(items));
    assert.deepEqual(
      registry.records.slice(before).map((r) => `${r.method} ${r.status}`),
      ['HEAD 200'],
    );
  });

  it('a manifest with a subject: the registry answers OCI-Subject, no tag schema index is written', async () => {
    const repo = new Repository(registry.host, repoName(), { client });
    const subject = image();
    await pushAll(repo, subject);
    const sig = signature(last(subject));
    await pushAll(repo, sig.slice(0, -1));
    const result = await repo.pushManifest(last(sig), sig[2]!.content);
    assert.equal(result.referrers, 'registry');
    assert.deepEqual(result.subject, last(subject));
    assert.equal(repo.referrersApi, true);
    assert.deepEqual(await repo.tags(), []);
    const before = registry.records.length;
    const listed = await repo.referrers(last(subject), {
      artifactType: MediaTypes.nv2ArtifactType,
    });
    assert.deepEqual(
      listed.map((d) => d.digest),
      [last(sig).digest],
    );
    assert.deepEqual(
      registry.records.slice(before).map((r) => r.route),
      ['referrers'],
    );
  });

  it('a fresh Repository detects the referrers API on the first listing', async () => {
    const name = repoName();
    const writer = new Repository(registry.host, name, { client });
    const subject = image();
    const sig = signature(last(subject));
    await pushAll(writer, [...subject, ...sig]);
    const reader = new Repository(registry.host, name, { client });
    assert.equal(reader.referrersApi, undefined);
    assert.equal((await reader.referrers(last(subject))).length, 1);
    assert.equal(reader.referrersApi, true);
  });

  it('large blobs go up in chunks with Content-Range; small ones in one PUT', async () => {
    const repo = new Repository(registry.host, repoName(), {
      client,
      monolithicMaxBytes: 1000,
      chunkBytes: 1000,
    });
    const big = blob(randomBytes(4500));
    const before = registry.records.length;
    await repo.push(big.descriptor, big.content);
    assert.deepEqual(
      registry.records
        .slice(before)
        .map((r) => `${r.method} ${r.status} ${r.bytesIn}`)
        .filter((r) => !r.startsWith('HEAD')),
      [
        'POST 202 0',
        'PATCH 202 1000',
        'PATCH 202 1000',
        'PATCH 202 1000',
        'PATCH 202 1000',
        'PUT 201 500',
      ],
    );
    assert.deepEqual(await fetchAll(repo, big.descriptor), big.content);
    const small = blob(randomBytes(999));
    const mark = registry.records.length;
    await repo.push(small.descriptor, small.content);
    assert.deepEqual(
      registry.records.slice(mark).map((r) => `${r.method} ${r.status}`),
      ['HEAD 404', 'POST 202', 'PUT 201'],
    );
  });

  it('a chunked upload of wrong content is refused before it is committed, and cancelled', async () => {
    const repo = new Repository(registry.host, repoName(), {
      client,
      monolithicMaxBytes: 100,
      chunkBytes: 100,
    });
    const b = blob(randomBytes(350));
    const before = registry.records.length;
    await assert.rejects(repo.push(b.descriptor, randomBytes(350)), {
      code: 'NV2_ERR_CONTENT_DIGEST_MISMATCH',
    });
    const methods = registry.records.slice(before).map((r) => r.method);
    assert.equal(methods.includes('PUT'), false);
    assert.equal(methods.at(-1), 'DELETE');
    assert.equal(await repo.exists(b.descriptor), false);
  });

  it('mounts a blob from another repository instead of uploading it', async () => {
    const source = new Repository(registry.host, repoName(), { client });
    const target = new Repository(registry.host, repoName(), { client });
    const b = blob(randomBytes(2000));
    await source.push(b.descriptor, b.content);
    const before = registry.records.length;
    await target.push(b.descriptor, b.content, { mountFrom: source.name });
    assert.deepEqual(
      registry.records.slice(before).map((r) => `${r.method} ${r.status} ${r.bytesIn}`),
      ['HEAD 404 0', 'POST 201 0'],
    );
    assert.deepEqual(await fetchAll(target, b.descriptor), b.content);
    // A blob the source does not have cannot be mounted; the session opened instead is cancelled.
    const other = blob();
    assert.equal(await target.mount(other.descriptor, source.name), false);
    assert.equal(await target.mount(b.descriptor, source.name), true);
    // push with mountFrom falls back to uploading when the mount is refused.
    await target.push(other.descriptor, other.content, { mountFrom: source.name });
    assert.deepEqual(await fetchAll(target, other.descriptor), other.content);
  });

  it('tags() follows Link pagination, bounded by maxPages', async () => {
    const repo = new Repository(registry.host, repoName(), { client });
    const items = image(1);
    await pushAll(repo, items);
    const tags = ['a', 'b', 'c', 'd', 'e'];
    for (const t of tags) await repo.tag(last(items), t);
    assert.deepEqual(await repo.tags(), tags);
    const before = registry.records.length;
    assert.deepEqual(await repo.tags({ pageSize: 2 }), tags);
    assert.equal(registry.records.length - before, 3);
    assert.deepEqual(await repo.tags({ pageSize: 2, last: 'b' }), ['c', 'd', 'e']);
    const bounded = new Repository(registry.host, repo.name, { client, maxPages: 2 });
    await assert.rejects(bounded.tags({ pageSize: 2 }), { code: 'NV2_ERR_REGISTRY_RESPONSE' });
    await assert.rejects(new Repository(registry.host, repoName(), { client }).tags(), {
      code: 'NV2_ERR_CONTENT_NOT_FOUND',
    });
  });

  it('delete removes manifests and blobs', async () => {
    const repo = new Repository(registry.host, repoName(), { client });
    const items = image(1);
    await pushAll(repo, items);
    await repo.delete(last(items));
    await assert.rejects(repo.resolve(last(items).digest), { code: 'NV2_ERR_CONTENT_NOT_FOUND' });
    await repo.delete(items[0]!.descriptor);
    assert.equal(await repo.exists(items[0]!.descriptor), false);
    await assert.rejects(repo.delete(items[0]!.descriptor), { code: 'NV2_ERR_CONTENT_NOT_FOUND' });
  });

  it("errors name the method, URL, status and the registry's decoded errors", async () => {
    const name = repoName();
    const repo = new Repository(registry.host, name, { client });
    const err = await rejection(repo.resolve('missing'));
    assert.ok(err instanceof RegistryResponseError);
    assert.equal(err.code, 'NV2_ERR_CONTENT_NOT_FOUND');
    assert.equal(err.method, 'GET');
    assert.equal(err.status, 404);
    assert.equal(err.url, `${registry.url}/v2/${name}/manifests/missing`);
    assert.equal(err.errors[0]?.code, 'MANIFEST_UNKNOWN');
    assert.ok(err.message.includes(err.url));
    const blobErr = await rejection(repo.fetch(blob().descriptor));
    assert.ok(blobErr instanceof RegistryResponseError);
    assert.equal(blobErr.errors[0]?.code, 'BLOB_UNKNOWN');
    await assert.rejects(repo.resolve('bad tag!'), { code: 'NV2_ERR_INVALID_REFERENCE' });
    await assert.rejects(
      repo.push({ mediaType: 'x', digest: 'y', size: 1 } as never, Buffer.alloc(1)),
      {
        code: 'NV2_ERR_INVALID_ARGUMENT',
      },
    );
  });

  it('a registry that cannot be reached is inconclusive, not a verdict', async () => {
    const port = await closedPort();
    const repo = new Repository(`127.0.0.1:${port}`, 'any', { client });
    const err = await rejection(repo.resolve('v1'));
    assert.ok(err instanceof VerificationInconclusiveError);
    assert.equal((err as VerificationInconclusiveError).code, 'NV2_ERR_REGISTRY_UNREACHABLE');
  });

  it('ping checks the API root', async () => {
    await client.ping(registry.host);
    const proxy = await startProxy(registry.url, () =>
      Promise.resolve({ status: 404, headers: {}, body: Buffer.from('not a registry') }),
    );
    try {
      await assert.rejects(client.ping(proxy.host), { code: 'NV2_ERR_REGISTRY_RESPONSE' });
    } finally {
      await proxy.close();
    }
  });

  describe('through a proxy', () => {
    let proxy: Proxy | undefined;
    after(async () => proxy?.close());

    async function through(hook: Hook): Promise<Proxy> {
      await proxy?.close();
      proxy = await startProxy(registry.url, hook);
      return proxy;
    }

    it('sends User-Agent nv2/<version> and asks for identity encoding', async () => {
      const p = await through((_r, up) => up());
      const c = createRegistryClient();
      await c.ping(p.host);
      await c.close();
      assert.match(String(p.seen[0]!.headers['user-agent']), /^nv2\/\d+\.\d+\.\d+/);
      assert.equal(p.seen[0]!.headers['accept-encoding'], 'identity');
    });

    it('retries 503 as Retry-After says, then succeeds', async () => {
      const name = repoName();
      const seed = new Repository(registry.host, name, { client });
      const items = image(1);
      await pushAll(seed, items);
      await seed.tag(last(items), 'v1');
      let failures = 2;
      const p = await through(async (_r, up) =>
        failures-- > 0
          ? { status: 503, headers: { 'retry-after': '1' }, body: Buffer.alloc(0) }
          : up(),
      );
      const c = fastClient();
      const repo = new Repository(p.host, name, { client: c });
      assert.deepEqual(await repo.resolve('v1'), last(items));
      assert.deepEqual(c.slept, [1000, 1000]);
      assert.equal(p.seen.length, 3);
      await c.close();
    });

    it('gives up after maxAttempts with exponential backoff, as UNAVAILABLE', async () => {
      const p = await through(async () => ({
        status: 503,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'busy' }] })),
      }));
      const c = fastClient();
      const err = await rejection(c.ping(p.host));
      assert.ok(err instanceof RegistryResponseError);
      assert.equal(err.code, 'NV2_ERR_REGISTRY_UNAVAILABLE');
      assert.equal(err.errors[0]?.code, 'UNAVAILABLE');
      assert.equal(p.seen.length, DEFAULT_MAX_ATTEMPTS);
      // random() = 0: half of 250, 500, 1000 ms.
      assert.deepEqual(c.slept, [125, 250, 500]);
      await c.close();
    });

    it('a Retry-After beyond the limit is not waited for', async () => {
      const p = await through(async () => ({
        status: 429,
        headers: { 'retry-after': '3600' },
        body: Buffer.alloc(0),
      }));
      const c = fastClient();
      await assert.rejects(c.ping(p.host), { code: 'NV2_ERR_REGISTRY_UNAVAILABLE' });
      assert.equal(p.seen.length, 1);
      assert.deepEqual(c.slept, []);
      await c.close();
    });

    it('retries a reset connection for GET, never a POST', async () => {
      let resets = 1;
      const p = await through(async (r, up) =>
        (r.method === 'GET' || r.method === 'POST') && resets-- > 0 ? 'reset' : up(),
      );
      const c = fastClient();
      await c.ping(p.host);
      assert.equal(p.seen.length, 2);
      resets = 1;
      const repo = new Repository(p.host, repoName(), { client: c });
      const b = blob();
      const err = await rejection(repo.push(b.descriptor, b.content));
      assert.ok(err instanceof VerificationInconclusiveError);
      assert.equal((err as VerificationInconclusiveError).code, 'NV2_ERR_REGISTRY_UNREACHABLE');
      assert.deepEqual(
        p.seen.slice(2).map((r) => r.method),
        ['HEAD', 'POST'],
      );
      await c.close();
    });

    it('a 503 to a POST is not retried', async () => {
      const p = await through(async (r, up) =>
        r.method === 'POST' ? { status: 503, headers: {}, body: Buffer.alloc(0) } : up(),
      );
      const c = fastClient();
      const repo = new Repository(p.host, repoName(), { client: c });
      const b = blob();
      await assert.rejects(repo.push(b.descriptor, b.content), {
        code: 'NV2_ERR_REGISTRY_UNAVAILABLE',
      });
      assert.deepEqual(
        p.seen.map((r) => r.method),
        ['HEAD', 'POST'],
      );
      await c.close();
    });

    it('without Docker-Content-Digest on HEAD, resolve GETs the manifest and hashes it', async () => {
      const name = repoName();
      const seed = new Repository(registry.host, name, { client });
      const items = image(1);
      await pushAll(seed, items);
      await seed.tag(last(items), 'v1');
      const p = await through(async (_r, up) => {
        const answer = await up();
        const headers = { ...answer.headers };
        delete headers['docker-content-digest'];
        return { ...answer, headers };
      });
      const repo = new Repository(p.host, name, { client });
      assert.deepEqual(await repo.resolve('v1'), last(items));
      assert.deepEqual(
        p.seen.map((r) => r.method),
        ['HEAD', 'GET'],
      );
    });

    it('manifests and blobs changed in transit fail verification', async () => {
      const name = repoName();
      const seed = new Repository(registry.host, name, { client });
      const items = image(1);
      await pushAll(seed, items);
      await seed.tag(last(items), 'v1');
      const flip = (body: Buffer): Buffer => {
        const copy = Buffer.from(body);
        copy[copy.length - 2] = copy[copy.length - 2]! ^ 1;
        return copy;
      };
      // HEAD without Docker-Content-Digest (so resolve GETs); GET bodies changed, headers kept.
      const p = await through(async (r, up) => {
        const answer = await up();
        if (r.method === 'HEAD') {
          const headers = { ...answer.headers };
          delete headers['docker-content-digest'];
          return { ...answer, headers };
        }
        return answer.body.length === 0 ? answer : { ...answer, body: flip(answer.body) };
      });
      const repo = new Repository(p.host, name, { client });
      // The bytes must hash to the digest the registry names.
      const err = await rejection(repo.resolve('v1'));
      assert.ok(err instanceof VerificationFailedError);
      assert.equal((err as VerificationFailedError).code, 'NV2_ERR_CONTENT_DIGEST_MISMATCH');
      await assert.rejects(fetchAll(repo, last(items)), {
        code: 'NV2_ERR_CONTENT_DIGEST_MISMATCH',
      });
      await assert.rejects(fetchAll(repo, items[1]!.descriptor), {
        code: 'NV2_ERR_CONTENT_DIGEST_MISMATCH',
      });
    });

    it('a blob served with another length fails before it is read', async () => {
      const name = repoName();
      const seed = new Repository(registry.host, name, { client });
      const b = blob(randomBytes(100));
      await seed.push(b.descriptor, b.content);
      const p = await through(async (r, up) => {
        const answer = await up();
        return r.method === 'GET'
          ? { ...answer, body: Buffer.concat([answer.body, Buffer.from('x')]) }
          : answer;
      });
      const repo = new Repository(p.host, name, { client });
      await assert.rejects(repo.fetch(b.descriptor), { code: 'NV2_ERR_CONTENT_SIZE_MISMATCH' });
    });

    it('a registry listing referrers without filtering is filtered by the client', async () => {
      const name = repoName();
      const seed = new Repository(registry.host, name, { client });
      const subject = image(1);
      const sig = signature(last(subject));
      const other = [EMPTY_CONFIG, blob('{}', 'application/vnd.example')];
      await pushAll(seed, [...subject, ...sig, ...other]);
      const { manifest: makeManifest } = await import('../suites/target.js');
      const bom = makeManifest({
        artifactType: 'application/vnd.example.sbom',
        config: EMPTY_CONFIG,
        layers: [other[1]!],
        subject: last(subject),
      });
      await seed.push(bom.descriptor, bom.content);
      // The proxy drops the artifactType query and the OCI-Filters-Applied header.
      const p = await through(async (r, up) => {
        const url = new URL(r.url.href);
        url.searchParams.delete('artifactType');
        const answer = await up({ url });
        const headers = { ...answer.headers };
        delete headers['oci-filters-applied'];
        return { ...answer, headers };
      });
      const repo = new Repository(p.host, name, { client });
      const listed = await repo.referrers(last(subject), {
        artifactType: MediaTypes.nv2ArtifactType,
      });
      assert.deepEqual(
        listed.map((d) => d.digest),
        [last(sig).digest],
      );
    });
  });
});

// ---- (b) CNCF distribution 2.8: the referrers tag schema ---------------------------------

const noDistribution = distributionMissing();

describe(
  'Repository over CNCF distribution 2.8 (referrers tag schema)',
  {
    skip: noDistribution,
  },
  () => {
    let registry: RunningDistribution;
    let client: RegistryClient;
    before(async () => {
      registry = await startDistribution();
      client = createRegistryClient();
    });
    after(async () => {
      await client?.close();
      await registry?.close();
    });

    describeTarget('remote Repository over CNCF distribution 2.8', () =>
      Promise.resolve(new Repository(registry.host, repoName('contract'), { client })),
    );

    /** Reads the tag schema index straight from the registry. */
    async function indexAt(name: string, subject: Descriptor): Promise<Descriptor[]> {
      const res = await fetch(
        `${registry.url}/v2/${name}/manifests/${referrersTag(subject.digest)}`,
        {
          headers: { Accept: MediaTypes.ociIndex },
        },
      );
      if (res.status === 404) return [];
      assert.equal(res.status, 200);
      return ((await res.json()) as { manifests: Descriptor[] }).manifests;
    }

    /** Pushes a manifest straight to the registry, bypassing the client's referrers handling. */
    async function rawPush(name: string, item: Item): Promise<void> {
      const res = await fetch(`${registry.url}/v2/${name}/manifests/${item.descriptor.digest}`, {
        method: 'PUT',
        headers: { 'Content-Type': item.descriptor.mediaType },
        body: item.content,
      });
      await res.arrayBuffer();
      assert.equal(res.status, 201);
    }

    it('has no referrers API: a pushed signature goes into the sha256-<hex> index, with artifactType and annotations', async () => {
      const name = repoName();
      const repo = new Repository(registry.host, name, { client });
      const subject = image();
      await pushAll(repo, subject);
      const sig = signature(last(subject));
      await pushAll(repo, sig.slice(0, -1));
      const result = await repo.pushManifest(last(sig), sig[2]!.content);
      assert.equal(result.referrers, 'tag-schema');
      assert.equal(repo.referrersApi, false);
      assert.deepEqual(await indexAt(name, last(subject)), [
        {
          ...last(sig),
          artifactType: MediaTypes.nv2ArtifactType,
          annotations: { 'org.opencontainers.image.created': '2026-11-23T10:00:00Z' },
        },
      ]);
      assert.deepEqual(await repo.tags(), [referrersTag(last(subject).digest)]);
      // Pushing it again does not list it twice.
      await repo.push(last(sig), sig[2]!.content);
      assert.equal((await indexAt(name, last(subject))).length, 1);
      // A reader that never pushed finds it through the fallback.
      const reader = new Repository(registry.host, name, { client });
      assert.deepEqual(
        (await reader.referrers(last(subject))).map((d) => d.digest),
        [last(sig).digest],
      );
      assert.equal(reader.referrersApi, false);
    });

    it('two concurrent referrer pushes from two clients both end up in the index', async () => {
      const name = repoName();
      const other = createRegistryClient();
      try {
        const a = new Repository(registry.host, name, { client });
        const b = new Repository(registry.host, name, { client: other });
        const subject = image();
        await pushAll(a, subject);
        const sigs = [signature(last(subject)), signature(last(subject), '2026-11-24T00:00:00Z')];
        const more = [signature(last(subject), '2026-11-25T00:00:00Z')];
        await Promise.all([pushAll(a, sigs[0]!), pushAll(b, sigs[1]!), pushAll(a, more[0]!)]);
        const listed = await indexAt(name, last(subject));
        assert.deepEqual(
          listed.map((d) => d.digest).sort(),
          [last(sigs[0]!), last(sigs[1]!), last(more[0]!)].map((d) => d.digest).sort(),
        );
      } finally {
        await other.close();
      }
    });

    it('a concurrent writer replacing the index is noticed on the re-read, and the update is made again', async () => {
      const name = repoName();
      const direct = new Repository(registry.host, name, { client });
      const subject = image();
      await pushAll(direct, subject);
      // Writer B's referrer is in the repository; B read the empty index and writes [B] just
      // after our PUT lands, replacing it.
      const sigB = signature(last(subject), '2026-11-24T00:00:00Z');
      await pushAll(direct, sigB.slice(0, -1));
      await rawPush(name, sigB[2]!);
      const tag = referrersTag(last(subject).digest);
      let interfere = 1;
      const proxy = await startProxy(registry.url, async (r, up) => {
        const answer = await up();
        if (r.method === 'PUT' && r.url.pathname.endsWith(`/manifests/${tag}`) && interfere-- > 0) {
          const res = await fetch(`${registry.url}/v2/${name}/manifests/${tag}`, {
            method: 'PUT',
            headers: { 'Content-Type': MediaTypes.ociIndex },
            body: JSON.stringify({
              schemaVersion: 2,
              mediaType: MediaTypes.ociIndex,
              manifests: [{ ...last(sigB), artifactType: MediaTypes.nv2ArtifactType }],
            }),
          });
          await res.arrayBuffer();
          assert.equal(res.status, 201);
        }
        return answer;
      });
      const c = fastClient();
      try {
        const repo = new Repository(proxy.host, name, { client: c });
        const sigA = signature(last(subject));
        await pushAll(repo, sigA);
        assert.deepEqual(
          (await indexAt(name, last(subject))).map((d) => d.digest).sort(),
          [last(sigA).digest, last(sigB).digest].sort(),
        );
        const indexPuts = proxy.seen.filter(
          (r) => r.method === 'PUT' && r.url.pathname.endsWith(`/manifests/${tag}`),
        );
        assert.equal(indexPuts.length, 2);
        assert.equal(c.slept.length, 1);
      } finally {
        await c.close();
        await proxy.close();
      }
    });

    it('an index that keeps being replaced gives up with NV2_ERR_REFERRERS_INDEX_CONFLICT', async () => {
      const name = repoName();
      const direct = new Repository(registry.host, name, { client });
      const subject = image(1);
      await pushAll(direct, subject);
      const tag = referrersTag(last(subject).digest);
      const empty = JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [],
      });
      const proxy = await startProxy(registry.url, async (r, up) => {
        const answer = await up();
        if (r.method === 'PUT' && r.url.pathname.endsWith(`/manifests/${tag}`)) {
          const res = await fetch(`${registry.url}/v2/${name}/manifests/${tag}`, {
            method: 'PUT',
            headers: { 'Content-Type': MediaTypes.ociIndex },
            body: empty,
          });
          await res.arrayBuffer();
        }
        return answer;
      });
      const c = fastClient();
      try {
        const repo = new Repository(proxy.host, name, { client: c });
        const err = await rejection(pushAll(repo, signature(last(subject))));
        assert.ok(err instanceof VerificationInconclusiveError);
        assert.equal(
          (err as VerificationInconclusiveError).code,
          'NV2_ERR_REFERRERS_INDEX_CONFLICT',
        );
        assert.equal(c.slept.length, MAX_REFERRERS_INDEX_ATTEMPTS - 1);
      } finally {
        await c.close();
        await proxy.close();
      }
    });

    it('deleting a referrer removes it from the index', async () => {
      const name = repoName();
      const repo = new Repository(registry.host, name, { client });
      const subject = image(1);
      const sig1 = signature(last(subject));
      const sig2 = signature(last(subject), '2026-11-24T00:00:00Z');
      await pushAll(repo, [...subject, ...sig1, ...sig2]);
      assert.equal((await repo.referrers(last(subject))).length, 2);
      const fresh = new Repository(registry.host, name, { client });
      await fresh.delete(last(sig1));
      assert.deepEqual(
        (await indexAt(name, last(subject))).map((d) => d.digest),
        [last(sig2).digest],
      );
      await fresh.delete(last(sig2));
      assert.deepEqual(await indexAt(name, last(subject)), []);
      assert.deepEqual(await fresh.referrers(last(subject)), []);
    });

    it('chunked uploads and mounts work against distribution too', async () => {
      const source = new Repository(registry.host, repoName(), {
        client,
        monolithicMaxBytes: 1000,
        chunkBytes: 1000,
      });
      const b = blob(randomBytes(4321));
      await source.push(b.descriptor, b.content);
      assert.deepEqual(await fetchAll(source, b.descriptor), b.content);
      const target = new Repository(registry.host, repoName(), { client });
      assert.equal(await target.mount(b.descriptor, source.name), true);
      assert.deepEqual(await fetchAll(target, b.descriptor), b.content);
    });
  },
);

// ---- (c) docker token authentication -----------------------------------------------------

describe('token authentication (bearer) in front of the nv2 registry', () => {
  let registry: RunningRegistry;
  let tokens: TokenServer;
  let proxy: AuthProxy;
  const USERS = { alice: 'wonderland' };
  before(async () => {
    registry = await startRegistry();
    tokens = await startTokenServer({
      users: USERS,
      publicRepositories: ['public/app'],
      expiresIn: 300,
      identityTokens: { 'refresh-abc': 'alice' },
    });
    proxy = await startAuthProxy({
      upstream: registry.url,
      mode: 'bearer',
      tokens,
      redirectBlobs: true,
    });
  });
  after(async () => {
    await proxy.close();
    await tokens.close();
    await registry.close();
  });

  const alice = () => staticCredentials('alice', 'wonderland');

  it('answers the challenge with a token per scope, and caches it', async () => {
    let now = 1_000_000;
    const client = createRegistryClient({ credentials: alice(), now: () => now });
    try {
      const repo = new Repository(proxy.host, 'team/app', { client });
      const start = tokens.requests.length;
      const unauthorized = proxy.records.filter((r) => r.status === 401).length;
      const items = image(2);
      await pushAll(repo, items.slice(0, -1));
      await repo.pushManifest(last(items), items[3]!.content, { tag: 'v1' });
      // One challenge, one token for the push scope, which served every request of the push.
      let asked = tokens.requests.slice(start);
      assert.deepEqual(
        asked.map((r) => [r.grantType, r.user, r.service, r.scopes]),
        [['basic', 'alice', tokens.service, ['repository:team/app:pull,push']]],
      );
      assert.equal(proxy.records.filter((r) => r.status === 401).length - unauthorized, 1);
      // Pulling asks a token for the pull scope once; then it is cached.
      assert.deepEqual(await repo.resolve('v1'), last(items));
      assert.deepEqual(await fetchAll(repo, last(items)), items[3]!.content);
      assert.equal(await repo.exists(items[0]!.descriptor), true);
      asked = tokens.requests.slice(start);
      assert.deepEqual(
        asked.map((r) => r.scopes),
        [['repository:team/app:pull,push'], ['repository:team/app:pull']],
      );
      // Another repository is another scope.
      await assert.rejects(new Repository(proxy.host, 'team/other', { client }).resolve('v1'), {
        code: 'NV2_ERR_CONTENT_NOT_FOUND',
      });
      assert.equal(tokens.requests.length - start, 3);
      // Tokens live expires_in (300 s) less a leeway: still cached 280 s on, renewed after 300.
      now += 280_000;
      await repo.resolve('v1');
      assert.equal(tokens.requests.length - start, 3);
      now += 20_001;
      await repo.resolve('v1');
      assert.equal(tokens.requests.length - start, 4);
      // The expired token was never sent: the new one was fetched before the request.
      assert.equal(proxy.records.filter((r) => r.status === 401).length - unauthorized, 1);
    } finally {
      await client.close();
    }
  });

  it('concurrent requests share one token request', async () => {
    const client = createRegistryClient({ credentials: alice() });
    try {
      const repo = new Repository(proxy.host, 'team/app', { client });
      const start = tokens.requests.length;
      const results = await Promise.all(
        Array.from({ length: 6 }, () => repo.exists(blob().descriptor)),
      );
      assert.deepEqual(results, [false, false, false, false, false, false]);
      assert.equal(tokens.requests.length - start, 1);
    } finally {
      await client.close();
    }
  });

  it('anonymous tokens pull public repositories; pushing without credentials is UNAUTHORIZED', async () => {
    const seeder = createRegistryClient({ credentials: alice() });
    const anonymous = createRegistryClient();
    try {
      const items = image(1);
      const seed = new Repository(proxy.host, 'public/app', { client: seeder });
      await pushAll(seed, items);
      await seed.tag(last(items), 'v1');
      const repo = new Repository(proxy.host, 'public/app', { client: anonymous });
      const start = tokens.requests.length;
      assert.deepEqual(await repo.resolve('v1'), last(items));
      assert.deepEqual(
        tokens.requests.slice(start).map((r) => [r.grantType, r.scopes]),
        [['anonymous', ['repository:public/app:pull']]],
      );
      const b = blob();
      const err = await rejection(repo.push(b.descriptor, b.content));
      assert.ok(err instanceof RegistryResponseError);
      assert.equal(err.code, 'NV2_ERR_REGISTRY_UNAUTHORIZED');
      assert.equal(err.status, 401);
      assert.ok(err.message.includes(proxy.host));
      // A private repository is not readable anonymously.
      await assert.rejects(
        new Repository(proxy.host, 'team/app', { client: anonymous }).resolve('v1'),
        {
          code: 'NV2_ERR_REGISTRY_UNAUTHORIZED',
        },
      );
    } finally {
      await seeder.close();
      await anonymous.close();
    }
  });

  it('a wrong password is refused by the token server: UNAUTHORIZED naming the realm', async () => {
    const client = createRegistryClient({ credentials: staticCredentials('alice', 'wrong') });
    try {
      const err = await rejection(new Repository(proxy.host, 'team/app', { client }).resolve('v1'));
      assert.ok(err instanceof RegistryResponseError);
      assert.equal(err.code, 'NV2_ERR_REGISTRY_UNAUTHORIZED');
      assert.equal(err.url, tokens.realm + '?…');
      assert.equal(err.errors[0]?.code, 'UNAUTHORIZED');
    } finally {
      await client.close();
    }
  });

  it('a mount asks for pull on the source repository as well', async () => {
    const client = createRegistryClient({ credentials: alice() });
    try {
      const source = new Repository(proxy.host, 'team/source', { client });
      const target = new Repository(proxy.host, 'team/target', { client });
      const b = blob(randomBytes(500));
      await source.push(b.descriptor, b.content);
      const start = tokens.requests.length;
      const before = proxy.records.length;
      await target.push(b.descriptor, b.content, { mountFrom: 'team/source' });
      assert.deepEqual(
        tokens.requests.slice(start).map((r) => r.scopes),
        [
          ['repository:team/target:pull,push'],
          ['repository:team/source:pull', 'repository:team/target:pull,push'],
        ],
      );
      assert.deepEqual(
        proxy.records.slice(before).map((r) => `${r.method} ${r.status}`),
        ['HEAD 404', 'POST 201'],
      );
    } finally {
      await client.close();
    }
  });

  it('blob reads redirected to storage follow the redirect without sending credentials there', async () => {
    const client = createRegistryClient({ credentials: alice() });
    try {
      const repo = new Repository(proxy.host, 'team/redirect', { client });
      const b = blob(randomBytes(3000));
      await repo.push(b.descriptor, b.content);
      const before = proxy.records.length;
      assert.deepEqual(await fetchAll(repo, b.descriptor), b.content);
      const seen = proxy.records.slice(before);
      assert.deepEqual(
        seen.map(
          (r) => `${r.method} ${r.status} ${r.path.startsWith('storage:') ? 'storage' : 'front'}`,
        ),
        ['GET 307 front', 'GET 200 storage'],
      );
      assert.equal(seen[1]!.storageAuthorization, undefined);
    } finally {
      await client.close();
    }
  });

  it('an identity token from the docker config is exchanged with a refresh-token grant', async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ auths: { [proxy.host]: { identitytoken: 'refresh-abc' } } }),
    );
    const client = createRegistryClient({
      credentials: dockerConfigCredentials({ env: { DOCKER_CONFIG: dir } }),
    });
    try {
      const start = tokens.requests.length;
      await assert.rejects(new Repository(proxy.host, 'team/app', { client }).resolve('nope'), {
        code: 'NV2_ERR_CONTENT_NOT_FOUND',
      });
      assert.deepEqual(
        tokens.requests.slice(start).map((r) => [r.method, r.grantType, r.user]),
        [['POST', 'refresh_token', 'alice']],
      );
    } finally {
      await client.close();
    }
  });

  it('ping checks credentials the way docker login does', async () => {
    const good = createRegistryClient({ credentials: alice() });
    const bad = createRegistryClient({ credentials: staticCredentials('alice', 'nope') });
    try {
      await good.ping(proxy.host);
      await assert.rejects(bad.ping(proxy.host), { code: 'NV2_ERR_REGISTRY_UNAUTHORIZED' });
    } finally {
      await good.close();
      await bad.close();
    }
  });
});

describe('basic authentication in front of the nv2 registry', () => {
  let registry: RunningRegistry;
  let proxy: AuthProxy;
  before(async () => {
    registry = await startRegistry();
    proxy = await startAuthProxy({ upstream: registry.url, mode: 'basic', users: { bob: 'pw' } });
  });
  after(async () => {
    await proxy.close();
    await registry.close();
  });

  it('sends credentials after the first challenge, then with every request', async () => {
    const client = createRegistryClient({ credentials: staticCredentials('bob', 'pw') });
    try {
      const repo = new Repository(proxy.host, 'basic/app', { client });
      const items = image(1);
      await pushAll(repo, items);
      assert.deepEqual(await repo.resolve(last(items).digest), last(items));
      assert.equal(proxy.records.filter((r) => r.status === 401).length, 1);
    } finally {
      await client.close();
    }
  });

  it('no credentials, or wrong ones: UNAUTHORIZED', async () => {
    for (const credentials of [undefined, staticCredentials('bob', 'wrong')]) {
      const client = createRegistryClient({ credentials });
      try {
        const err = await rejection(
          new Repository(proxy.host, 'basic/app', { client }).resolve('v1'),
        );
        assert.ok(err instanceof RegistryResponseError);
        assert.equal(err.code, 'NV2_ERR_REGISTRY_UNAUTHORIZED');
      } finally {
        await client.close();
      }
    }
  });

  it('credentials from docker config auths', async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({
        auths: { [proxy.host]: { auth: Buffer.from('bob:pw').toString('base64') } },
      }),
    );
    const client = createRegistryClient({
      credentials: defaultCredentials({ env: { DOCKER_CONFIG: dir } }),
    });
    try {
      await client.ping(proxy.host);
    } finally {
      await client.close();
    }
  });
});

// ---- (d) docker config and credential helpers ---------------------------------------------

describe('docker config credentials', () => {
  let bin: string;
  const PATH = process.env['PATH'] ?? '/usr/bin:/bin';

  before(async () => {
    bin = join(await tempDir(), 'bin');
    await mkdir(bin);
    // A credential helper over a JSON file (docker-credential-helpers' protocol), logging calls.
    const helper = [
      `#!${process.execPath}`,
      "const fs = require('fs');",
      'const store = process.env.NV2_TEST_HELPER_STORE;',
      'const action = process.argv[2];',
      "let data = {}; try { data = JSON.parse(fs.readFileSync(store, 'utf8')); } catch {}",
      "const input = fs.readFileSync(0, 'utf8');",
      "fs.appendFileSync(store + '.log', action + ' ' + input.trim() + '\\n');",
      "const notFound = () => { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); };",
      "if (action === 'get') { const e = data[input.trim()]; if (!e) notFound(); process.stdout.write(JSON.stringify({ ServerURL: input.trim(), Username: e.Username, Secret: e.Secret })); }",
      "else if (action === 'store') { const c = JSON.parse(input); data[c.ServerURL] = { Username: c.Username, Secret: c.Secret }; fs.writeFileSync(store, JSON.stringify(data)); }",
      "else if (action === 'erase') { const k = input.trim(); if (!data[k]) notFound(); delete data[k]; fs.writeFileSync(store, JSON.stringify(data)); }",
      'else process.exit(2);',
      '',
    ].join('\n');
    await writeFile(join(bin, 'docker-credential-test'), helper);
    await chmod(join(bin, 'docker-credential-test'), 0o755);
    await writeFile(join(bin, 'docker-credential-hang'), '#!/bin/sh\nexec sleep 600\n');
    await chmod(join(bin, 'docker-credential-hang'), 0o755);
    await writeFile(
      join(bin, 'docker-credential-broken'),
      '#!/bin/sh\necho "keychain locked" >&2\nexit 3\n',
    );
    await chmod(join(bin, 'docker-credential-broken'), 0o755);
  });

  /** A docker config dir with `config` and a helper store holding `store`. */
  async function setup(
    config: unknown,
    store: Record<string, { Username: string; Secret: string }> = {},
  ): Promise<{ dir: string; env: Record<string, string>; storePath: string }> {
    const dir = await tempDir();
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    const storePath = join(dir, 'helper-store.json');
    await writeFile(storePath, JSON.stringify(store));
    return {
      dir,
      storePath,
      env: { DOCKER_CONFIG: dir, PATH: `${bin}:${PATH}`, NV2_TEST_HELPER_STORE: storePath },
    };
  }

  it('reads auths: base64 user:password, under the host or a URL naming it', async () => {
    const { env } = await setup({
      auths: {
        'registry.example.com': { auth: Buffer.from('alice:pa:ss').toString('base64') },
        'https://other.example:5000/v1/': { auth: Buffer.from('bob:pw').toString('base64') },
        'tokens.example': { identitytoken: 'refresh-xyz' },
      },
    });
    assert.deepEqual(await dockerConfigCredential('registry.example.com', { env }), {
      username: 'alice',
      password: 'pa:ss',
    });
    assert.deepEqual(await dockerConfigCredential('other.example:5000', { env }), {
      username: 'bob',
      password: 'pw',
    });
    assert.deepEqual(await dockerConfigCredential('tokens.example', { env }), {
      identityToken: 'refresh-xyz',
    });
    assert.equal(await dockerConfigCredential('unknown.example', { env }), undefined);
  });

  it('docker.io is filed under https://index.docker.io/v1/', async () => {
    const { env } = await setup({
      auths: { [DOCKER_HUB_CONFIG_KEY]: { auth: Buffer.from('hub:pw').toString('base64') } },
    });
    assert.deepEqual(await dockerConfigCredential('docker.io', { env }), {
      username: 'hub',
      password: 'pw',
    });
  });

  it('no config file means no credentials; $HOME/.docker/config.json is the default', async () => {
    const home = await tempDir();
    assert.equal(
      await dockerConfigCredential('registry.example.com', { env: { HOME: home } }),
      undefined,
    );
    await mkdir(join(home, '.docker'));
    await writeFile(
      join(home, '.docker', 'config.json'),
      JSON.stringify({
        auths: { 'registry.example.com': { auth: Buffer.from('h:p').toString('base64') } },
      }),
    );
    assert.deepEqual(
      await dockerConfigCredential('registry.example.com', { env: { HOME: home } }),
      {
        username: 'h',
        password: 'p',
      },
    );
  });

  it('a malformed config is NV2_ERR_DOCKER_CONFIG_INVALID', async () => {
    const dir = await tempDir();
    for (const text of [
      '{not json',
      '[]',
      '{"auths": []}',
      '{"auths": {"r.io": {"auth": "bm9jb2xvbg=="}}}',
    ]) {
      await writeFile(join(dir, 'config.json'), text);
      const err = await rejection(dockerConfigCredential('r.io', { env: { DOCKER_CONFIG: dir } }));
      assert.ok(err instanceof InvalidInputError);
      assert.equal((err as InvalidInputError).code, 'NV2_ERR_DOCKER_CONFIG_INVALID');
    }
  });

  it('credsStore: the helper is asked with the server URL on stdin', async () => {
    const { env, storePath } = await setup(
      { credsStore: 'test', auths: { 'registry.example.com': {} } },
      {
        'registry.example.com': { Username: 'carol', Secret: 's3cret' },
        [DOCKER_HUB_CONFIG_KEY]: { Username: '<token>', Secret: 'hub-refresh' },
      },
    );
    assert.deepEqual(await dockerConfigCredential('registry.example.com', { env }), {
      username: 'carol',
      password: 's3cret',
    });
    assert.deepEqual(await dockerConfigCredential('docker.io', { env }), {
      identityToken: 'hub-refresh',
    });
    assert.equal(await dockerConfigCredential('unknown.example', { env }), undefined);
    assert.deepEqual((await readFile(`${storePath}.log`, 'utf8')).trim().split('\n'), [
      'get registry.example.com',
      `get ${DOCKER_HUB_CONFIG_KEY}`,
      'get unknown.example',
    ]);
  });

  it('credHelpers take precedence over credsStore and auths, per registry', async () => {
    const { env } = await setup(
      {
        credsStore: 'missing-helper',
        credHelpers: { 'registry.example.com': 'test' },
        auths: { 'registry.example.com': { auth: Buffer.from('file:pw').toString('base64') } },
      },
      { 'registry.example.com': { Username: 'helper', Secret: 'pw' } },
    );
    assert.deepEqual(await dockerConfigCredential('registry.example.com', { env }), {
      username: 'helper',
      password: 'pw',
    });
    // Any other registry goes to credsStore, whose helper is not installed.
    const err = await rejection(dockerConfigCredential('other.example', { env }));
    assert.ok(err instanceof InvalidInputError);
    assert.equal((err as InvalidInputError).code, 'NV2_ERR_CREDENTIAL_HELPER');
  });

  it('a failing helper is NV2_ERR_CREDENTIAL_HELPER; a hanging one is killed after the timeout', async () => {
    const broken = await setup({ credsStore: 'broken' });
    await assert.rejects(dockerConfigCredential('r.example', { env: broken.env }), {
      code: 'NV2_ERR_CREDENTIAL_HELPER',
    });
    const hang = await setup({ credsStore: 'hang' });
    const err = await rejection(
      dockerConfigCredential('r.example', { env: hang.env, helperTimeoutMs: 100 }),
    );
    assert.ok(err instanceof VerificationInconclusiveError);
    assert.equal((err as VerificationInconclusiveError).code, 'NV2_ERR_CREDENTIAL_HELPER');
    const badName = await setup({ credsStore: '../evil' });
    await assert.rejects(dockerConfigCredential('r.example', { env: badName.env }), {
      code: 'NV2_ERR_DOCKER_CONFIG_INVALID',
    });
  });

  it('login and logout round trip keeps every other field of the file', async () => {
    const original = {
      auths: { 'other.example': { auth: Buffer.from('o:p').toString('base64'), email: 'o@x' } },
      psFormat: 'table {{.ID}}',
      HttpHeaders: { 'X-Meta': 'kept' },
      currentContext: 'default',
    };
    const { dir, env } = await setup(original);
    const result = await login({
      registry: 'registry.example.com',
      username: 'dave',
      password: 'pw',
      env,
    });
    assert.equal(result.helper, undefined);
    const written = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(written, {
      ...original,
      auths: {
        ...original.auths,
        'registry.example.com': { auth: Buffer.from('dave:pw').toString('base64') },
      },
    });
    assert.equal((await stat(join(dir, 'config.json'))).mode & 0o777, 0o600);
    assert.deepEqual(await dockerConfigCredential('registry.example.com', { env }), {
      username: 'dave',
      password: 'pw',
    });
    assert.equal(await logout({ registry: 'registry.example.com', env }), true);
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')), original);
    assert.equal(await logout({ registry: 'registry.example.com', env }), false);
    await login({ registry: 'docker.io', username: 'hub', password: 'pw', env });
    const hub = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as {
      auths: Record<string, unknown>;
    };
    assert.ok(DOCKER_HUB_CONFIG_KEY in hub.auths);
  });

  it('login creates the config directory when there is none', async () => {
    const dir = join(await tempDir(), 'fresh');
    await login({
      registry: 'r.example',
      username: 'u',
      password: 'p',
      env: { DOCKER_CONFIG: dir },
    });
    assert.deepEqual(await dockerConfigCredential('r.example', { env: { DOCKER_CONFIG: dir } }), {
      username: 'u',
      password: 'p',
    });
    await assert.rejects(
      login({ registry: 'r.example', username: 'a:b', password: 'p', env: { DOCKER_CONFIG: dir } }),
      { code: 'NV2_ERR_INVALID_ARGUMENT' },
    );
  });

  it('with a credential helper configured, login stores there and leaves no secret in the file', async () => {
    const { dir, env, storePath } = await setup({ credsStore: 'test', auths: {}, extra: [1, 2] });
    const result = await login({
      registry: 'registry.example.com',
      username: 'erin',
      password: 'pw',
      env,
    });
    assert.equal(result.helper, 'docker-credential-test');
    assert.deepEqual(JSON.parse(await readFile(storePath, 'utf8')), {
      'registry.example.com': { Username: 'erin', Secret: 'pw' },
    });
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')), {
      credsStore: 'test',
      auths: { 'registry.example.com': {} },
      extra: [1, 2],
    });
    assert.deepEqual(await dockerConfigCredential('registry.example.com', { env }), {
      username: 'erin',
      password: 'pw',
    });
    assert.equal(await logout({ registry: 'registry.example.com', env }), true);
    assert.deepEqual(JSON.parse(await readFile(storePath, 'utf8')), {});
    assert.equal(await dockerConfigCredential('registry.example.com', { env }), undefined);
  });

  it('the default chain: -u/-p, then NV2_USERNAME/NV2_PASSWORD, then docker config', async () => {
    const { env } = await setup({
      auths: { 'registry.example.com': { auth: Buffer.from('file:pw').toString('base64') } },
    });
    assert.deepEqual(await defaultCredentials({ env })('registry.example.com'), {
      username: 'file',
      password: 'pw',
    });
    const withEnv = { ...env, NV2_USERNAME: 'envuser', NV2_PASSWORD: 'envpw' };
    assert.deepEqual(await defaultCredentials({ env: withEnv })('registry.example.com'), {
      username: 'envuser',
      password: 'envpw',
    });
    assert.deepEqual(
      await defaultCredentials({ env: withEnv, username: 'flag', password: 'flagpw' })(
        'registry.example.com',
      ),
      { username: 'flag', password: 'flagpw' },
    );
    // -u/-p for one registry only: others fall through.
    assert.deepEqual(
      await defaultCredentials({
        env,
        username: 'flag',
        password: 'flagpw',
        registries: ['elsewhere.example'],
      })('registry.example.com'),
      { username: 'file', password: 'pw' },
    );
    assert.throws(() => defaultCredentials({ env, username: 'only-user' }), {
      code: 'NV2_ERR_INVALID_ARGUMENT',
    });
    assert.throws(() => envCredentials({ NV2_PASSWORD: 'x' }), {
      code: 'NV2_ERR_INVALID_ARGUMENT',
    });
    assert.equal(await chainCredentials()('r.example'), undefined);
  });
});
