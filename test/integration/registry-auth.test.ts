/**
 * Registry access control in token mode, end to end over HTTP on 127.0.0.1: the Docker token
 * flow (challenge, token endpoint, scope intersection), each role's allowed and refused paths,
 * the signer rule, cross-repository mounts, refused tokens (forged, expired, mis-scoped, for
 * another service or issuer, `alg: none`, HMAC), throttling of repeated failures, and skopeo
 * as an independent client.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT, decodeJwt } from 'jose';
import {
  type AccessControlOptions,
  type RequestRecord,
  createAccessControl,
  createMemoryDriver,
  createRegistry,
  createStore,
  generateTokenSigningKey,
  hashPassword,
} from '../../src/registry/index.js';
import type { Digest } from '../../src/oci/index.js';
import {
  Repository,
  createRegistryClient,
  referrersTag,
  staticCredentials,
} from '../../src/remote/index.js';
import { type CliResult, run } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeImageLayout } from '../helpers/oci-layout.js';

const PASSWORDS = {
  wanda: 'writer-pass',
  sam: 'signer-pass',
  wes: 'writer-signer-pass',
  root: 'admin-pass',
  rita: 'reader-pass',
  tom: 'team-pass',
} as const;
type User = keyof typeof PASSWORDS;

interface Server {
  readonly url: string;
  readonly host: string;
  readonly records: RequestRecord[];
  close(): Promise<void>;
}

async function listen(options: AccessControlOptions): Promise<Server> {
  const records: RequestRecord[] = [];
  const auth = createAccessControl(options);
  const server = createServer(
    createRegistry({
      store: createStore(createMemoryDriver()),
      auth,
      onRequest: (r) => records.push(r),
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    records,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function basic(user: User, password: string = PASSWORDS[user]): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const NOTARY = 'application/vnd.cncf.notary.v2';
const NOTATION = 'application/vnd.cncf.notary.signature';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY = Buffer.from('{}');

function imageManifest(config: Buffer, layer: Buffer): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: sha256(layer),
          size: layer.length,
        },
      ],
    }),
  );
}

function signatureManifest(subject: Buffer, signature: Buffer, artifactType = NOTARY): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType,
      config: {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: sha256(EMPTY),
        size: 2,
      },
      layers: [
        {
          mediaType: 'application/vnd.cncf.notary.signature.v2+jwt',
          digest: sha256(signature),
          size: signature.length,
        },
      ],
      subject: { mediaType: OCI_MANIFEST, digest: sha256(subject), size: subject.length },
    }),
  );
}

describe('registry access control (token mode)', () => {
  let clock = Date.now();
  let server: Server;
  const key = generateTokenSigningKey();
  let options: AccessControlOptions;

  before(async () => {
    const users: Record<string, string> = {};
    for (const [name, password] of Object.entries(PASSWORDS)) {
      users[name] = await hashPassword(password, { cost: 4 });
    }
    options = {
      users,
      groups: { release: ['wes'] },
      rules: [
        { repositories: ['acme/*'], users: ['wanda'], roles: ['writer'] },
        { repositories: ['acme/*'], users: ['sam'], roles: ['signer'] },
        { repositories: ['acme/*'], groups: ['release'], roles: ['writer', 'signer'] },
        { repositories: ['acme/*'], users: ['rita'], roles: ['reader'] },
        { repositories: ['team/*'], users: ['tom'], roles: ['writer'] },
        { repositories: ['*'], users: ['root'], roles: ['admin'] },
        { repositories: ['public/*'], anonymous: true, roles: ['reader'] },
      ],
      token: { key },
      // Every client here is 127.0.0.1: the refused-token cases must not slow the others down.
      failures: { burst: 1000, refillSeconds: 60 },
      now: () => clock,
    };
    server = await listen(options);
  });
  after(() => server.close());

  async function token(
    user: User | undefined,
    scopes: readonly string[],
    extra: Record<string, string> = {},
  ): Promise<string> {
    const url = new URL('/auth/token', server.url);
    url.searchParams.set('service', 'nv2-registry');
    for (const s of scopes) url.searchParams.append('scope', s);
    for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
    const res = await fetch(url, {
      headers: user !== undefined ? { Authorization: basic(user) } : {},
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as Record<string, unknown>;
    return body['token'] as string;
  }

  function send(
    method: string,
    path: string,
    bearer: string | undefined,
    body?: Buffer,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...headers,
        ...(bearer !== undefined ? { Authorization: `Bearer ${bearer}` } : {}),
      },
      ...(body !== undefined ? { body } : {}),
    });
  }

  async function pushBlob(repo: string, bearer: string, bytes: Buffer): Promise<Response> {
    return send('POST', `/v2/${repo}/blobs/uploads/?digest=${sha256(bytes)}`, bearer, bytes, {
      'Content-Type': 'application/octet-stream',
    });
  }

  async function pushManifest(
    repo: string,
    reference: string,
    bearer: string,
    manifest: Buffer,
  ): Promise<Response> {
    return send('PUT', `/v2/${repo}/manifests/${reference}`, bearer, manifest, {
      'Content-Type': OCI_MANIFEST,
    });
  }

  /** Pushes an image (as wanda unless told); returns its manifest. */
  async function pushImage(repo = 'acme/app', tag = 'v1', user: User = 'wanda'): Promise<Buffer> {
    const t = await token(user, [`repository:${repo}:pull,push`]);
    const config = Buffer.from(`{"architecture":"amd64","tag":"${tag}"}`);
    const layer = Buffer.from(`layer of ${repo}:${tag}`);
    assert.equal((await pushBlob(repo, t, config)).status, 201);
    assert.equal((await pushBlob(repo, t, layer)).status, 201);
    const manifest = imageManifest(config, layer);
    assert.equal((await pushManifest(repo, tag, t, manifest)).status, 201);
    return manifest;
  }

  async function errorOf(res: Response): Promise<{ code: string; message: string }> {
    const body = (await res.json()) as { errors: { code: string; message: string }[] };
    return body.errors[0]!;
  }

  describe('challenge and token endpoint', () => {
    it('answers /v2/ without a token with a Bearer challenge and the API version header', async () => {
      const res = await send('GET', '/v2/', undefined);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
      assert.equal(
        res.headers.get('www-authenticate'),
        `Bearer realm="${server.url}/auth/token",service="nv2-registry"`,
      );
      assert.equal((await errorOf(res)).code, 'UNAUTHORIZED');
      const anonymous = await token(undefined, []);
      assert.equal((await send('GET', '/v2/', anonymous)).status, 200);
    });

    it('names the scope a repository request needs in the challenge', async () => {
      const pull = await send('GET', '/v2/acme/app/manifests/v1', undefined);
      assert.equal(pull.status, 401);
      assert.match(pull.headers.get('www-authenticate')!, /scope="repository:acme\/app:pull"/);
      const push = await send('POST', '/v2/acme/app/blobs/uploads/', undefined);
      assert.match(push.headers.get('www-authenticate')!, /scope="repository:acme\/app:pull,push"/);
      const catalog = await send('GET', '/v2/_catalog', undefined);
      assert.match(catalog.headers.get('www-authenticate')!, /scope="registry:catalog:\*"/);
    });

    it('issues token and access_token, expires_in and issued_at, with the intersected scopes', async () => {
      const url = `${server.url}/auth/token?service=nv2-registry&scope=repository:acme/app:pull,push&scope=repository:team/x:pull,push&scope=registry:catalog:*`;
      const res = await fetch(url, { headers: { Authorization: basic('wanda') } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body['token'], body['access_token']);
      assert.equal(body['expires_in'], 300);
      assert.equal(
        body['issued_at'],
        new Date(Math.floor(clock / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      );
      const claims = decodeJwt(body['token'] as string);
      assert.equal(claims.iss, 'nv2-registry');
      assert.equal(claims.aud, 'nv2-registry');
      assert.equal(claims.sub, 'wanda');
      assert.equal(claims.exp! - claims.iat!, 300);
      assert.deepEqual(claims['access'], [
        { type: 'repository', name: 'acme/app', actions: ['pull', 'push'] },
      ]);
    });

    it('grants a signer sign for a requested push, and a writer-signer both', async () => {
      const sam = decodeJwt(await token('sam', ['repository:acme/app:pull,push']));
      assert.deepEqual(sam['access'], [
        { type: 'repository', name: 'acme/app', actions: ['pull', 'sign'] },
      ]);
      const wes = decodeJwt(await token('wes', ['repository:acme/app:pull,push,delete']));
      assert.deepEqual(wes['access'], [
        { type: 'repository', name: 'acme/app', actions: ['pull', 'push', 'sign'] },
      ]);
    });

    it('gives anonymous clients pull where a rule allows it, and nothing elsewhere', async () => {
      const claims = decodeJwt(
        await token(undefined, ['repository:public/tools:pull,push', 'repository:acme/app:pull']),
      );
      assert.equal(claims.sub, '');
      assert.deepEqual(claims['access'], [
        { type: 'repository', name: 'public/tools', actions: ['pull'] },
      ]);
    });

    it('refuses bad passwords and unknown users, and logs them without the password', async () => {
      const wrong = await fetch(`${server.url}/auth/token?scope=repository:acme/app:pull`, {
        headers: { Authorization: basic('wanda', 'not-her-password') },
      });
      assert.equal(wrong.status, 401);
      assert.match(wrong.headers.get('www-authenticate')!, /^Basic /);
      const unknown = await fetch(`${server.url}/auth/token`, {
        headers: { Authorization: `Basic ${Buffer.from('mallory:guess-123').toString('base64')}` },
      });
      assert.equal(unknown.status, 401);
      const failures = server.records.filter((r) => r.route === 'token' && r.status === 401);
      assert.deepEqual(
        failures.slice(-2).map((r) => r.authFailure),
        ['wrong password for user wanda', 'unknown user'],
      );
      const logged = JSON.stringify(server.records);
      assert.ok(!logged.includes('not-her-password') && !logged.includes('guess-123'));
      assert.ok(!logged.includes('mallory'));
    });

    it('refuses a token request for another service', async () => {
      const res = await fetch(`${server.url}/auth/token?service=elsewhere`, {
        headers: { Authorization: basic('wanda') },
      });
      assert.equal(res.status, 403);
    });
  });

  describe('roles', () => {
    let image: Buffer;
    before(async () => {
      image = await pushImage();
    });

    it('reader: pulls, cannot push', async () => {
      const t = await token('rita', ['repository:acme/app:pull,push']);
      assert.deepEqual(decodeJwt(t)['access'], [
        { type: 'repository', name: 'acme/app', actions: ['pull'] },
      ]);
      const get = await send('GET', '/v2/acme/app/manifests/v1', t, undefined, {
        Accept: OCI_MANIFEST,
      });
      assert.equal(get.status, 200);
      assert.deepEqual(Buffer.from(await get.arrayBuffer()), image);
      const push = await send('POST', '/v2/acme/app/blobs/uploads/', t);
      assert.equal(push.status, 401);
      assert.match(push.headers.get('www-authenticate')!, /error="insufficient_scope"/);
      const put = await pushManifest('acme/app', 'v2', t, image);
      assert.equal(put.status, 401);
    });

    it('writer: pushes images and tags, cannot push signatures (403 DENIED naming the signer role)', async () => {
      const t = await token('wanda', ['repository:acme/app:pull,push']);
      assert.equal((await pushManifest('acme/app', 'v1-copy', t, image)).status, 201);
      const sig = Buffer.from('header.payload.signature');
      assert.equal((await pushBlob('acme/app', t, EMPTY)).status, 201);
      assert.equal((await pushBlob('acme/app', t, sig)).status, 201);
      for (const type of [NOTARY, NOTATION]) {
        const manifest = signatureManifest(image, sig, type);
        const res = await pushManifest('acme/app', sha256(manifest), t, manifest);
        assert.equal(res.status, 403, type);
        const error = await errorOf(res);
        assert.equal(error.code, 'DENIED');
        assert.match(error.message, /signer role/);
      }
    });

    it('writer: a signature type given as the config media type is a signature too', async () => {
      const t = await token('wanda', ['repository:acme/app:pull,push']);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: NOTARY, digest: sha256(EMPTY), size: 2 },
          layers: [],
        }),
      );
      const res = await pushManifest('acme/app', sha256(manifest), t, manifest);
      assert.equal(res.status, 403);
    });

    it('writer: cannot delete', async () => {
      const t = await token('wanda', ['repository:acme/app:delete']);
      const res = await send('DELETE', `/v2/acme/app/manifests/${sha256(image)}`, t);
      assert.equal(res.status, 401);
      assert.match(
        res.headers.get('www-authenticate')!,
        /scope="repository:acme\/app:delete",error="insufficient_scope"/,
      );
    });

    it('signer: pushes the blobs and the signature manifest by digest, and nothing else', async () => {
      const t = await token('sam', ['repository:acme/app:pull,push']);
      const sig = Buffer.from('sam.signature.bytes');
      assert.equal((await pushBlob('acme/app', t, EMPTY)).status, 201);
      // A chunked upload works too: session, PATCH, PUT.
      const session = await send('POST', '/v2/acme/app/blobs/uploads/', t);
      assert.equal(session.status, 202);
      const location = session.headers.get('location')!;
      const patch = await send('PATCH', location, t, sig, {
        'Content-Type': 'application/octet-stream',
      });
      assert.equal(patch.status, 202);
      const put = await send('PUT', `${patch.headers.get('location')!}?digest=${sha256(sig)}`, t);
      assert.equal(put.status, 201);
      const manifest = signatureManifest(image, sig);
      const pushed = await pushManifest('acme/app', sha256(manifest), t, manifest);
      assert.equal(pushed.status, 201, await pushed.text());
      assert.equal(pushed.headers.get('oci-subject'), sha256(image));

      const byTag = await pushManifest('acme/app', 'sig', t, manifest);
      assert.equal(byTag.status, 403);
      assert.match((await errorOf(byTag)).message, /writer role/);

      const config = Buffer.from('{"architecture":"arm64"}');
      const layer = Buffer.from('not a signature');
      assert.equal((await pushBlob('acme/app', t, config)).status, 201);
      assert.equal((await pushBlob('acme/app', t, layer)).status, 201);
      const other = imageManifest(config, layer);
      for (const reference of [sha256(other), 'v9']) {
        const res = await pushManifest('acme/app', reference, t, other);
        assert.equal(res.status, 403, reference);
        const error = await errorOf(res);
        assert.equal(error.code, 'DENIED');
        assert.match(error.message, /signature artifacts only/);
      }
      const del = await send('DELETE', `/v2/acme/app/manifests/${sha256(manifest)}`, t);
      assert.equal(del.status, 401);
      // Nothing outside the rule's repositories.
      const elsewhere = decodeJwt(await token('sam', ['repository:team/app:pull,push']));
      assert.deepEqual(elsewhere['access'], []);
    });

    it('writer and signer: pushes signatures by tag too', async () => {
      const t = await token('wes', ['repository:acme/app:pull,push']);
      const sig = Buffer.from('wes.signature');
      assert.equal((await pushBlob('acme/app', t, EMPTY)).status, 201);
      assert.equal((await pushBlob('acme/app', t, sig)).status, 201);
      const manifest = signatureManifest(image, sig);
      assert.equal((await pushManifest('acme/app', 'wes-sig', t, manifest)).status, 201);
    });

    it('admin: deletes signatures and lists the catalog; others may not list it', async () => {
      const sam = await token('sam', ['repository:acme/app:pull,push']);
      const sig = Buffer.from('to be deleted');
      assert.equal((await pushBlob('acme/app', sam, EMPTY)).status, 201);
      assert.equal((await pushBlob('acme/app', sam, sig)).status, 201);
      const manifest = signatureManifest(image, sig);
      assert.equal((await pushManifest('acme/app', sha256(manifest), sam, manifest)).status, 201);

      const wes = await token('wes', ['repository:acme/app:delete']);
      assert.equal(
        (await send('DELETE', `/v2/acme/app/manifests/${sha256(manifest)}`, wes)).status,
        401,
      );
      const root = await token('root', ['repository:acme/app:delete', 'registry:catalog:*']);
      assert.equal(
        (await send('DELETE', `/v2/acme/app/manifests/${sha256(manifest)}`, root)).status,
        202,
      );
      const catalog = await send('GET', '/v2/_catalog', root);
      assert.equal(catalog.status, 200);
      assert.ok(
        ((await catalog.json()) as { repositories: string[] }).repositories.includes('acme/app'),
      );
      const wanda = await token('wanda', ['registry:catalog:*']);
      assert.deepEqual(decodeJwt(wanda)['access'], []);
      assert.equal((await send('GET', '/v2/_catalog', wanda)).status, 401);
    });

    it('anonymous: pulls public repositories only', async () => {
      await pushImage('public/tools', 'v1', 'root');
      const t = await token(undefined, ['repository:public/tools:pull']);
      const get = await send('GET', '/v2/public/tools/tags/list', t);
      assert.equal(get.status, 200);
      const denied = await token(undefined, ['repository:acme/app:pull']);
      assert.equal((await send('GET', '/v2/acme/app/tags/list', denied)).status, 401);
    });
  });

  describe("referrers tag schema: a signer's index under sha256-<hex> (notation's default)", () => {
    const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

    /**
     * An HTTP client acting as oras-go's auth client does: send, and on a 401 Bearer challenge
     * fetch a token for the challenge's scope with basic credentials, then send again.
     */
    function client(
      user: User,
    ): (
      method: string,
      path: string,
      body?: Buffer,
      headers?: Record<string, string>,
    ) => Promise<Response> {
      const tokens = new Map<string, string>();
      return async (method, path, body, headers = {}) => {
        const first = await send(method, path, tokens.get(path), body, headers);
        if (first.status !== 401) return first;
        await first.arrayBuffer();
        const challenge = first.headers.get('www-authenticate') ?? '';
        const scope = /scope="([^"]*)"/.exec(challenge)?.[1];
        assert.ok(scope !== undefined, challenge);
        const t = await token(user, scope.split(' '));
        tokens.set(path, t);
        return send(method, path, t, body, headers);
      };
    }

    type Client = ReturnType<typeof client>;

    /** A blob push as oras-go does it: HEAD, then POST a session and PUT with the digest. */
    async function orasPushBlob(c: Client, repo: string, bytes: Buffer): Promise<void> {
      const head = await c('HEAD', `/v2/${repo}/blobs/${sha256(bytes)}`);
      if (head.status === 200) return;
      const session = await c('POST', `/v2/${repo}/blobs/uploads/`);
      assert.equal(session.status, 202);
      const location = new URL(session.headers.get('location')!, server.url);
      location.searchParams.set('digest', sha256(bytes));
      const put = await c('PUT', `${location.pathname}${location.search}`, bytes, {
        'Content-Type': 'application/octet-stream',
      });
      assert.equal(put.status, 201, await put.clone().text());
    }

    /** A Notary Project signature manifest as notation 1.3 builds it. */
    function notationSignature(subject: Buffer, envelope: Buffer): Buffer {
      return Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType: NOTATION,
          config: {
            mediaType: 'application/vnd.oci.empty.v1+json',
            digest: sha256(EMPTY),
            size: 2,
          },
          layers: [
            { mediaType: 'application/jose+json', digest: sha256(envelope), size: envelope.length },
          ],
          subject: { mediaType: OCI_MANIFEST, digest: sha256(subject), size: subject.length },
          annotations: {
            'io.cncf.notary.x509chain.thumbprint#S256': `["${'ab'.repeat(32)}"]`,
            'org.opencontainers.image.created': '2026-01-01T00:00:00Z',
          },
        }),
      );
    }

    /** The descriptor oras-go lists a referrer with: its own, plus artifactType and annotations. */
    function listed(manifest: Buffer): Record<string, unknown> {
      const m = JSON.parse(manifest.toString()) as Record<string, unknown>;
      return {
        mediaType: OCI_MANIFEST,
        digest: sha256(manifest),
        size: manifest.length,
        ...(m['artifactType'] !== undefined ? { artifactType: m['artifactType'] } : {}),
        ...(m['annotations'] !== undefined ? { annotations: m['annotations'] } : {}),
      };
    }

    function referrersIndex(
      entries: readonly unknown[],
      extra: Record<string, unknown> = {},
    ): Buffer {
      return Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries, ...extra }),
      );
    }

    function tagOf(subject: Buffer): string {
      return sha256(subject).replace(':', '-');
    }

    /**
     * `notation sign` with its default `--force-referrers-tag=true`: oras-go with the referrers
     * capability set to false pushes the signature by digest, GETs the tag schema index, PUTs
     * the index with the signature added under the tag and, when there was an old index,
     * DELETEs it by digest. Returns the statuses of the index PUT and of the DELETE.
     */
    async function notationSign(
      c: Client,
      repo: string,
      subject: Buffer,
      envelope: Buffer,
    ): Promise<{ signature: Buffer; put: Response; deleted?: Response }> {
      await orasPushBlob(c, repo, EMPTY);
      await orasPushBlob(c, repo, envelope);
      const signature = notationSignature(subject, envelope);
      const pushed = await c('PUT', `/v2/${repo}/manifests/${sha256(signature)}`, signature, {
        'Content-Type': OCI_MANIFEST,
      });
      assert.equal(pushed.status, 201, await pushed.clone().text());
      const tag = tagOf(subject);
      const old = await c('GET', `/v2/${repo}/manifests/${tag}`, undefined, { Accept: OCI_INDEX });
      let entries: unknown[] = [];
      let oldDigest: string | undefined;
      if (old.status === 200) {
        const bytes = Buffer.from(await old.arrayBuffer());
        oldDigest = sha256(bytes);
        entries = (JSON.parse(bytes.toString()) as { manifests: unknown[] }).manifests;
      } else {
        assert.equal(old.status, 404);
        await old.arrayBuffer();
      }
      const index = referrersIndex([...entries, listed(signature)]);
      const put = await c('PUT', `/v2/${repo}/manifests/${tag}`, index, {
        'Content-Type': OCI_INDEX,
      });
      if (put.status !== 201 || oldDigest === undefined) return { signature, put };
      const deleted = await c('DELETE', `/v2/${repo}/manifests/${oldDigest}`);
      return { signature, put, deleted };
    }

    let image: Buffer;
    before(async () => {
      image = await pushImage('acme/tagschema', 'v1');
    });

    it('lets a signer sign as notation does: signature by digest, then the index under the referrers tag', async () => {
      const sam = client('sam');
      const first = await notationSign(sam, 'acme/tagschema', image, Buffer.from('envelope one'));
      assert.equal(first.put.status, 201, await first.put.clone().text());
      assert.equal(first.deleted, undefined);
      const second = await notationSign(sam, 'acme/tagschema', image, Buffer.from('envelope two'));
      assert.equal(second.put.status, 201, await second.put.clone().text());
      // The old index is not the signer's to delete (no delete action): the token endpoint grants
      // nothing for it, so the DELETE stays 401; notation then warns that the outdated index may
      // need garbage collection, and reports success.
      assert.equal(second.deleted?.status, 401);
      const reader = client('rita');
      const index = await reader('GET', `/v2/acme/tagschema/manifests/${tagOf(image)}`, undefined, {
        Accept: OCI_INDEX,
      });
      assert.equal(index.status, 200);
      const digests = ((await index.json()) as { manifests: { digest: string }[] }).manifests.map(
        (m) => m.digest,
      );
      assert.deepEqual(digests, [sha256(first.signature), sha256(second.signature)]);
    });

    it('keeps refusing a signer anything else under a referrers tag', async () => {
      const sam = client('sam');
      const repo = 'acme/tagschema';
      const { signature } = await notationSign(sam, repo, image, Buffer.from('envelope three'));
      const put = (reference: string, body: Buffer, type = OCI_INDEX): Promise<Response> =>
        sam('PUT', `/v2/${repo}/manifests/${reference}`, body, { 'Content-Type': type });
      // Another image (a writer's), and a signature of another subject, in the same repository.
      const other = await pushImage(repo, 'v2');
      await orasPushBlob(sam, repo, Buffer.from('envelope of v2'));
      const otherSignature = notationSignature(other, Buffer.from('envelope of v2'));
      assert.equal((await put(sha256(otherSignature), otherSignature, OCI_MANIFEST)).status, 201);

      const refusals: [string, string, Buffer, string?][] = [
        ['an image manifest', tagOf(image), image, OCI_MANIFEST],
        ['a signature manifest', tagOf(image), signature, OCI_MANIFEST],
        [
          'an index listing a referrer of another subject',
          tagOf(image),
          referrersIndex([listed(otherSignature)]),
        ],
        [
          'an index listing an image, not a referrer',
          tagOf(image),
          referrersIndex([listed(other)]),
        ],
        [
          'an index listing a manifest not in the repository',
          tagOf(image),
          referrersIndex([{ ...listed(signature), digest: sha256(Buffer.from('nothing')) }]),
        ],
        [
          'an index with a wrong size for a referrer',
          tagOf(image),
          referrersIndex([{ ...listed(signature), size: signature.length + 1 }]),
        ],
        [
          'an index with a subject of its own',
          tagOf(image),
          referrersIndex([listed(signature)], { subject: listed(other) }),
        ],
        [
          'an index with an artifactType',
          tagOf(image),
          referrersIndex([listed(signature)], { artifactType: NOTATION }),
        ],
        [
          'the referrers index of the image under a plain tag',
          'v1',
          referrersIndex([listed(signature)]),
        ],
        [
          "the image's referrers under another digest's referrers tag",
          tagOf(other),
          referrersIndex([listed(signature)]),
        ],
        [
          'a referrers index under a tag that only looks like one',
          `${tagOf(image)}x`,
          referrersIndex([listed(signature)]),
        ],
      ];
      for (const [what, reference, body, type] of refusals) {
        const res = await put(reference, body, type);
        assert.equal(res.status, 403, what);
        const error = await errorOf(res);
        assert.equal(error.code, 'DENIED', what);
      }
      // The writer's tag still names the image, and the referrers tag the signer's index.
      const reader = client('rita');
      const v1 = await reader('GET', `/v2/${repo}/manifests/v1`, undefined, {
        Accept: OCI_MANIFEST,
      });
      assert.equal(sha256(Buffer.from(await v1.arrayBuffer())), sha256(image));
      const index = await reader('GET', `/v2/${repo}/manifests/${tagOf(image)}`, undefined, {
        Accept: OCI_INDEX,
      });
      const entries = ((await index.json()) as { manifests: { digest: string }[] }).manifests;
      assert.equal(entries.at(-1)!.digest, sha256(signature));
      // An empty index lists nothing but referrers, and is accepted.
      assert.equal((await put(tagOf(other), referrersIndex([]))).status, 201);
    });

    it("lets nv2's own client write the referrers index as a signer", async () => {
      const repo = 'acme/tagschema-nv2';
      const subject = await pushImage(repo, 'v1');
      const c = createRegistryClient({ credentials: staticCredentials('sam', PASSWORDS.sam) });
      try {
        const remote = new Repository(server.host, repo, { client: c });
        const envelope = Buffer.from('nv2 client envelope');
        await remote.push(
          {
            mediaType: 'application/vnd.oci.empty.v1+json',
            digest: sha256(EMPTY) as Digest,
            size: 2,
          },
          EMPTY,
        );
        await remote.push(
          {
            mediaType: 'application/jose+json',
            digest: sha256(envelope) as Digest,
            size: envelope.length,
          },
          envelope,
        );
        const signature = notationSignature(subject, envelope);
        const pushed = await remote.pushManifest(
          { mediaType: OCI_MANIFEST, digest: sha256(signature) as Digest, size: signature.length },
          signature,
        );
        assert.equal(pushed.referrers, 'registry');
        const index = referrersIndex([listed(signature)]);
        const indexDescriptor = {
          mediaType: OCI_INDEX,
          digest: sha256(index) as Digest,
          size: index.length,
        };
        await remote.pushManifest(indexDescriptor, index, {
          tag: referrersTag(sha256(subject) as Digest),
        });
        assert.equal((await remote.resolve(tagOf(subject))).digest, indexDescriptor.digest);
        // Anything else under that tag stays the writer's.
        await assert.rejects(
          remote.pushManifest(
            { mediaType: OCI_MANIFEST, digest: sha256(subject) as Digest, size: subject.length },
            subject,
            { tag: tagOf(subject) },
          ),
          (err: unknown) => (err as { code?: string }).code === 'NV2_ERR_REGISTRY_DENIED',
        );
      } finally {
        await c.close();
      }
    });
  });

  describe('cross-repository mount', () => {
    it('mounts with pull on the source, else starts a plain upload session', async () => {
      await pushImage('acme/app', 'mount-src');
      const blob = Buffer.from('layer of acme/app:mount-src');
      const allowed = await token('wanda', [
        'repository:acme/other:pull,push',
        'repository:acme/app:pull',
      ]);
      const mounted = await send(
        'POST',
        `/v2/acme/other/blobs/uploads/?mount=${sha256(blob)}&from=acme/app`,
        allowed,
      );
      assert.equal(mounted.status, 201);

      const tom = await token('tom', ['repository:team/app:pull,push', 'repository:acme/app:pull']);
      assert.deepEqual(decodeJwt(tom)['access'], [
        { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      ]);
      const refused = await send(
        'POST',
        `/v2/team/app/blobs/uploads/?mount=${sha256(blob)}&from=acme/app`,
        tom,
      );
      assert.equal(refused.status, 202);
      assert.match(refused.headers.get('location')!, /^\/v2\/team\/app\/blobs\/uploads\//);
      // The same answer as for a blob that does not exist anywhere.
      const absent = await send(
        'POST',
        `/v2/team/app/blobs/uploads/?mount=sha256:${'0'.repeat(64)}&from=acme/app`,
        tom,
      );
      assert.equal(absent.status, 202);
      const head = await send('HEAD', `/v2/team/app/blobs/${sha256(blob)}`, tom);
      assert.equal(head.status, 404);
    });
  });

  describe('refused tokens', () => {
    const claims = (overrides: Record<string, unknown> = {}) => ({
      access: [{ type: 'repository', name: 'acme/app', actions: ['pull'] }],
      ...overrides,
    });
    async function mint(
      signingKey: Parameters<SignJWT['sign']>[0],
      alg: string,
      overrides: { iss?: string; aud?: string; exp?: number; nbf?: number } = {},
      body: Record<string, unknown> = claims(),
    ): Promise<string> {
      const now = Math.floor(clock / 1000);
      return new SignJWT(body)
        .setProtectedHeader({ alg, typ: 'JWT' })
        .setIssuer(overrides.iss ?? 'nv2-registry')
        .setAudience(overrides.aud ?? 'nv2-registry')
        .setSubject('rita')
        .setIssuedAt(now)
        .setNotBefore(overrides.nbf ?? now)
        .setExpirationTime(overrides.exp ?? now + 60)
        .sign(signingKey);
    }
    async function refused(t: string, reason: string): Promise<void> {
      const res = await send('GET', '/v2/acme/app/tags/list', t);
      assert.equal(res.status, 401, reason);
      assert.match(res.headers.get('www-authenticate')!, /error="invalid_token"/, reason);
      assert.equal(server.records.at(-1)!.authFailure, `token refused: ${reason}`);
    }

    it('accepts a token it signed itself (the control for the cases below)', async () => {
      const res = await send('GET', '/v2/acme/app/tags/list', await mint(key.privateKey, 'ES256'));
      assert.equal(res.status, 200);
    });

    it('refuses a token signed by another key', async () => {
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      await refused(await mint(other, 'ES256'), 'signature');
    });

    it('refuses an expired token, and one not valid yet', async () => {
      const now = Math.floor(clock / 1000);
      await refused(await mint(key.privateKey, 'ES256', { exp: now - 120 }), 'expired');
      await refused(
        await mint(key.privateKey, 'ES256', { nbf: now + 600, exp: now + 900 }),
        'not-yet-valid',
      );
      const issued = await token('rita', ['repository:acme/app:pull']);
      clock += 301_000 + 30_000;
      try {
        await refused(issued, 'expired');
      } finally {
        clock -= 331_000;
      }
    });

    it('refuses a token for another service (audience) or from another issuer', async () => {
      await refused(await mint(key.privateKey, 'ES256', { aud: 'other-registry' }), 'audience');
      await refused(await mint(key.privateKey, 'ES256', { iss: 'someone-else' }), 'issuer');
    });

    it('refuses alg none and HMAC keyed with the public key', async () => {
      const header = Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url');
      const now = Math.floor(clock / 1000);
      const payload = Buffer.from(
        JSON.stringify({
          ...claims(),
          iss: 'nv2-registry',
          aud: 'nv2-registry',
          sub: 'rita',
          exp: now + 60,
        }),
      ).toString('base64url');
      await refused(`${header}.${payload}.`, 'algorithm');
      const secret = new Uint8Array(key.publicKey.export({ format: 'der', type: 'spki' }));
      await refused(await mint(secret, 'HS256'), 'algorithm');
    });

    it('refuses garbage, and a token for one repository used on another', async () => {
      await refused('not-a-token', 'malformed');
      const other = await token('rita', ['repository:acme/other:pull']);
      const res = await send('GET', '/v2/acme/app/tags/list', other);
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate')!, /error="insufficient_scope"/);
    });
  });

  describe('repeated failures', () => {
    it('answers 429 with Retry-After once a client has failed too often, then forgives', async () => {
      // Separate server: its limiter must not be shared with the tests above.
      const limited = await listen({ ...options, failures: { burst: 3, refillSeconds: 20 } });
      try {
        const ask = (user: User, password: string) =>
          fetch(`${limited.url}/auth/token?scope=repository:acme/app:pull`, {
            headers: { Authorization: basic(user, password) },
          });
        for (let i = 0; i < 3; i++) assert.equal((await ask('wanda', `guess-${i}`)).status, 401);
        const slowed = await ask('wanda', 'guess-4');
        assert.equal(slowed.status, 429);
        assert.equal((await errorOf(slowed)).code, 'TOOMANYREQUESTS');
        assert.equal(slowed.headers.get('retry-after'), '20');
        // The right password waits too: guessing must not find it faster.
        assert.equal((await ask('wanda', PASSWORDS.wanda)).status, 429);
        // Anonymous requests are not limited.
        assert.equal((await fetch(`${limited.url}/auth/token`)).status, 200);
        clock += 20_000;
        try {
          assert.equal((await ask('wanda', PASSWORDS.wanda)).status, 200);
        } finally {
          clock -= 20_000;
        }
      } finally {
        await limited.close();
      }
    });
  });

  describe('skopeo', () => {
    function skopeo(...args: string[]): Promise<CliResult> {
      return run('skopeo', ['--insecure-policy', ...args]);
    }
    let layout: string;
    before(async () => {
      layout = await tempDir();
      await writeImageLayout(layout, { tag: 'v1', layers: 1, layerSize: 1024 });
    });

    it('pushes with --dest-creds as a writer and inspects with --creds as a reader', async () => {
      const pushed = await skopeo(
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `wanda:${PASSWORDS.wanda}`,
        `oci:${layout}:v1`,
        `docker://${server.host}/acme/skopeo:v1`,
      );
      assert.equal(pushed.code, 0, pushed.stderr);
      const inspected = await skopeo(
        'inspect',
        '--raw',
        '--tls-verify=false',
        '--creds',
        `rita:${PASSWORDS.rita}`,
        `docker://${server.host}/acme/skopeo:v1`,
      );
      assert.equal(inspected.code, 0, inspected.stderr);
      assert.equal(JSON.parse(inspected.stdout).schemaVersion, 2);
    });

    it('is refused a push as a reader, and a pull without credentials', async () => {
      const pushed = await skopeo(
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `rita:${PASSWORDS.rita}`,
        `oci:${layout}:v1`,
        `docker://${server.host}/acme/skopeo:v2`,
      );
      assert.notEqual(pushed.code, 0);
      const anonymous = await skopeo(
        'inspect',
        '--raw',
        '--tls-verify=false',
        '--no-creds',
        `docker://${server.host}/acme/skopeo:v1`,
      );
      assert.notEqual(anonymous.code, 0);
    });
  });
});
