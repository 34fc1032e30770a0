/**
 * The registry's HTTP API on a real server (127.0.0.1:0), driven with fetch (and node:http
 * where fetch would normalize the request): every endpoint, every error code the HTTP layer
 * produces, and the headers clients and the OCI conformance suite read. Runs over the memory
 * driver and the filesystem driver.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { StorageError } from '../../src/errors.js';
import type { ErrorResponseBody } from '../../src/oci/index.js';
import type { RegistryStore, RequestRecord } from '../../src/registry/index.js';
import {
  RegistryError,
  createFilesystemDriver,
  createMemoryDriver,
  createRegistry,
  createStore,
} from '../../src/registry/index.js';
import { createPool, createPostgresStore, migrate } from '../../src/registry/postgres/index.js';
import type pg from 'pg';
import { tempDir } from '../helpers/fixtures.js';
import { postgresMissing, startPostgres } from '../helpers/postgres.js';
import type { RunningRegistry } from '../helpers/registry.js';
import { startRegistry } from '../helpers/registry.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const ACCEPT_ALL = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST].join(', ');
const EMPTY_CONFIG_TYPE = 'application/vnd.oci.empty.v1+json';
const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar';

interface TestBlob {
  readonly content: Buffer;
  readonly digest: string;
  readonly size: number;
}

function sha256(content: Uint8Array): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

function makeBlob(content: string | Buffer): TestBlob {
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  return { content: buf, digest: sha256(buf), size: buf.byteLength };
}

function descriptorOf(blob: TestBlob, mediaType: string): Record<string, unknown> {
  return { mediaType, digest: blob.digest, size: blob.size };
}

/** An image manifest's exact bytes, formatted unusually so that re-serialization would show. */
function imageManifest(options: {
  config: TestBlob;
  configType?: string;
  layers?: readonly TestBlob[];
  subject?: TestBlob;
  artifactType?: string;
  annotations?: Record<string, string>;
}): TestBlob {
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    ...(options.artifactType !== undefined ? { artifactType: options.artifactType } : {}),
    config: descriptorOf(options.config, options.configType ?? EMPTY_CONFIG_TYPE),
    layers: (options.layers ?? []).map((l) => descriptorOf(l, LAYER_TYPE)),
    ...(options.subject !== undefined
      ? { subject: descriptorOf(options.subject, OCI_MANIFEST) }
      : {}),
    ...(options.annotations !== undefined ? { annotations: options.annotations } : {}),
  };
  return makeBlob(JSON.stringify(manifest, null, '\t') + '\n');
}

function indexManifest(
  children: readonly TestBlob[],
  extra: { subject?: TestBlob; artifactType?: string; annotations?: Record<string, string> } = {},
): TestBlob {
  return makeBlob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      ...(extra.artifactType !== undefined ? { artifactType: extra.artifactType } : {}),
      manifests: children.map((c) => descriptorOf(c, OCI_MANIFEST)),
      ...(extra.subject !== undefined
        ? { subject: descriptorOf(extra.subject, OCI_MANIFEST) }
        : {}),
      ...(extra.annotations !== undefined ? { annotations: extra.annotations } : {}),
    }),
  );
}

/** The first error code of an error response (and checks the envelope's shape). */
async function errorCode(res: Response): Promise<string> {
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await res.json()) as ErrorResponseBody;
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, 'errors array');
  assert.equal(typeof body.errors[0]!.message, 'string');
  return body.errors[0]!.code;
}

/** A raw HTTP/1.1 request, for paths fetch would normalize and bodies it would not send. */
function raw(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, headers, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function codeOf(body: Buffer): string {
  return (JSON.parse(body.toString()) as ErrorResponseBody).errors[0]!.code;
}

/** What an HTTP/1.1 client (node:http) saw of a response body. */
interface RawBody {
  /** The status; undefined when the connection broke before a response arrived. */
  readonly status: number | undefined;
  /** The `Content-Length` announced. */
  readonly announced: number | undefined;
  readonly received: number;
  /** Whether the message was received whole, as its framing says. */
  readonly complete: boolean;
  /** Whether the transfer ended in an error (a connection reset or closed mid-body). */
  readonly failed: boolean;
}

/** GETs `url` with node:http on a connection of its own, and reads the body to its end. */
function getRaw(url: string): Promise<RawBody> {
  return new Promise((resolve) => {
    let responded = false;
    const req = request(url, { agent: false }, (res) => {
      responded = true;
      let received = 0;
      let failed = false;
      res.on('data', (chunk: Buffer) => (received += chunk.byteLength));
      res.on('error', () => (failed = true));
      res.on('close', () =>
        resolve({
          status: res.statusCode,
          announced: Number(res.headers['content-length']),
          received,
          complete: res.complete,
          failed,
        }),
      );
    });
    req.on('error', () => {
      if (!responded) {
        resolve({
          status: undefined,
          announced: undefined,
          received: 0,
          complete: false,
          failed: true,
        });
      }
    });
    req.end();
  });
}

/** A body streamed in the given chunks, sent chunked (no Content-Length). */
function streamOf(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

function registrySuite(driverName: string, makeStore: () => Promise<RegistryStore>): void {
  describe(`registry API over the ${driverName} driver`, () => {
    let registry: RunningRegistry;
    let url: string;

    before(async () => {
      registry = await startRegistry({ store: await makeStore() });
      url = registry.url;
    });
    after(() => registry.close());

    const get = (path: string, init: RequestInit = {}): Promise<Response> =>
      fetch(`${url}${path}`, init);

    async function pushBlob(repo: string, blob: TestBlob): Promise<void> {
      const res = await get(`/v2/${repo}/blobs/uploads/?digest=${blob.digest}`, {
        method: 'POST',
        body: blob.content,
      });
      assert.equal(res.status, 201, await res.text());
    }

    async function pushManifest(
      repo: string,
      reference: string,
      manifest: TestBlob,
      mediaType = OCI_MANIFEST,
    ): Promise<Response> {
      return get(`/v2/${repo}/manifests/${reference}`, {
        method: 'PUT',
        headers: { 'Content-Type': mediaType },
        body: manifest.content,
      });
    }

    async function startSession(repo: string): Promise<string> {
      const res = await get(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      assert.equal(res.status, 202);
      return res.headers.get('location')!;
    }

    /** The last request record for `path` (records are emitted when responses finish). */
    function recordFor(method: string, path: string): RequestRecord | undefined {
      return registry.records.findLast((r) => r.method === method && r.path === path);
    }

    describe('base, health, routing', () => {
      it('GET /v2/ is 200 {} with the API version header', async () => {
        const res = await get('/v2/');
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
        assert.match(res.headers.get('content-type')!, /^application\/json/);
        assert.deepEqual(await res.json(), {});
        const head = await get('/v2/', { method: 'HEAD' });
        assert.equal(head.status, 200);
      });

      it('GET /healthz is 200 ok', async () => {
        const res = await get('/healthz');
        assert.equal(res.status, 200);
        assert.equal(await res.text(), 'ok');
      });

      it('a path that is no endpoint is 404 with a JSON error body', async () => {
        for (const path of ['/', '/v1/', '/v2/repo', '/v2/repo/unknown/x', '/v2/repo/tags/all']) {
          const res = await get(path);
          assert.equal(res.status, 404, path);
          assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
          assert.equal(await errorCode(res), 'UNSUPPORTED', path);
        }
        assert.equal(recordFor('GET', '/v2/repo/tags/all')?.route, undefined);
      });

      it('a known route with the wrong method is 405 UNSUPPORTED with Allow', async () => {
        const cases: [string, string, string][] = [
          ['POST', '/v2/repo/tags/list', 'GET'],
          ['PUT', '/v2/', 'GET, HEAD'],
          ['PATCH', `/v2/repo/blobs/${sha256(Buffer.from('x'))}`, 'GET, HEAD, DELETE'],
          ['DELETE', '/v2/_catalog', 'GET'],
          ['GET', '/v2/repo/blobs/uploads/', 'POST'],
          ['POST', `/v2/repo/referrers/${sha256(Buffer.from('x'))}`, 'GET'],
        ];
        for (const [method, path, allow] of cases) {
          const res = await get(path, { method });
          assert.equal(res.status, 405, `${method} ${path}`);
          assert.equal(res.headers.get('allow'), allow);
          assert.equal(await errorCode(res), 'UNSUPPORTED');
        }
      });

      it('invalid repository names are 400 NAME_INVALID on every route', async () => {
        const digest = sha256(Buffer.from('x'));
        const names = [
          'Upper',
          'a..b',
          '-a',
          'a-',
          'a/_b',
          'a__-b',
          'a//b',
          `${'a'.repeat(256)}`,
          `${'a/'.repeat(127)}ab`,
        ];
        for (const name of names) {
          for (const path of [
            `/v2/${name}/tags/list`,
            `/v2/${name}/manifests/latest`,
            `/v2/${name}/blobs/${digest}`,
            `/v2/${name}/referrers/${digest}`,
          ]) {
            const res = await get(path);
            assert.equal(res.status, 400, path);
            assert.equal(await errorCode(res), 'NAME_INVALID', path);
          }
        }
        const post = await get('/v2/Bad/blobs/uploads/', { method: 'POST' });
        assert.equal(await errorCode(post), 'NAME_INVALID');
      });

      it('names of the spec grammar up to 255 characters are served', async () => {
        for (const name of ['a', 'a.b_c__d---e/f0/g-1', `${'a'.repeat(255)}`]) {
          const res = await get(`/v2/${name}/referrers/${sha256(Buffer.from('x'))}`);
          assert.equal(res.status, 200, name);
        }
      });

      it('dot segments and encoded slashes never reach the store', async () => {
        // fetch would normalize these paths; send them as they are.
        let res = await raw(url, 'GET', '/v2/../../etc/tags/list');
        assert.equal(res.status, 400);
        assert.equal(codeOf(res.body), 'NAME_INVALID');
        res = await raw(url, 'GET', '/v2/a/%2e%2e/tags/list');
        assert.equal(codeOf(res.body), 'NAME_INVALID');
        res = await raw(url, 'GET', '/v2/a/blobs/..%2f..%2fetc%2fpasswd');
        assert.equal(res.status, 404);
        res = await raw(url, 'GET', '/v2/a/manifests/..');
        assert.equal(res.status, 404);
        assert.equal(codeOf(res.body), 'MANIFEST_UNKNOWN');
        res = await raw(url, 'GET', '/v2/a/blobs/uploads/..');
        assert.equal(res.status, 404);
        assert.equal(codeOf(res.body), 'BLOB_UPLOAD_UNKNOWN');
      });

      it('invalid tags are 400 TAG_INVALID on PUT and DELETE', async () => {
        for (const tag of ['-x', '.x', 'a'.repeat(129), 'a%20b']) {
          const put = await pushManifest('repo', tag, makeBlob('{}'));
          assert.equal(put.status, 400, tag);
          assert.equal(await errorCode(put), 'TAG_INVALID', tag);
          const del = await get(`/v2/repo/manifests/${tag}`, { method: 'DELETE' });
          assert.equal(del.status, 400, tag);
          assert.equal(await errorCode(del), 'TAG_INVALID', tag);
        }
      });

      it('GET and HEAD of a reference that is neither tag nor digest are 404 MANIFEST_UNKNOWN', async () => {
        // The conformance suite's `.INVALID_MANIFEST_NAME` ("GET/HEAD nonexistent manifest
        // should return 404"), and distribution's answer for any reference outside its grammar.
        const refs = [
          '.INVALID_MANIFEST_NAME',
          '-x',
          'a'.repeat(129),
          'a%20b',
          'sha256:totallywrong',
          `sha256:${'A'.repeat(64)}`,
          `md5:${'a'.repeat(32)}`,
          `sha384:${'a'.repeat(96)}`,
        ];
        for (const ref of refs) {
          const res = await get(`/v2/repo/manifests/${ref}`, { headers: { accept: ACCEPT_ALL } });
          assert.equal(res.status, 404, ref);
          assert.equal(await errorCode(res), 'MANIFEST_UNKNOWN', ref);
          const head = await raw(url, 'HEAD', `/v2/repo/manifests/${ref}`);
          assert.equal(head.status, 404, ref);
          assert.equal(head.body.byteLength, 0, ref);
        }
      });

      it('invalid digests and unsupported algorithms are 400 DIGEST_INVALID', async () => {
        const hex = 'a'.repeat(64);
        const invalid = [
          'sha256:totallywrong',
          `sha256:${'A'.repeat(64)}`,
          `sha256:${hex}0`,
          'sha512:abc',
          `md5:${'a'.repeat(32)}`,
          `sha384:${'a'.repeat(96)}`,
          `sha256%3A${hex.slice(1)}`,
          ':x',
        ];
        for (const digest of invalid) {
          for (const path of [`/v2/repo/blobs/${digest}`, `/v2/repo/referrers/${digest}`]) {
            const res = await get(path);
            assert.equal(res.status, 400, path);
            assert.equal(await errorCode(res), 'DIGEST_INVALID', path);
          }
          const del = await get(`/v2/repo/manifests/${digest}`, { method: 'DELETE' });
          assert.equal(del.status, 400, digest);
          assert.equal(await errorCode(del), 'DIGEST_INVALID', digest);
        }
        // The conformance suite's "400 response body" check: PUT by a malformed digest.
        const put = await pushManifest('repo', 'sha256:totallywrong', makeBlob('{}'));
        assert.equal(put.status, 400);
        assert.equal(await errorCode(put), 'DIGEST_INVALID');
        const post = await get(`/v2/repo/blobs/uploads/?digest=md5:${'a'.repeat(32)}`, {
          method: 'POST',
          body: 'x',
        });
        assert.equal(await errorCode(post), 'DIGEST_INVALID');
      });

      it('a digest with a percent-encoded colon is the same digest', async () => {
        const blob = makeBlob('encoded colon');
        await pushBlob('enc', blob);
        const res = await get(`/v2/enc/blobs/${blob.digest.replace(':', '%3A')}`);
        assert.equal(res.status, 200);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), blob.content);
      });
    });

    describe('blobs', () => {
      const blob = makeBlob(Buffer.from('0123456789abcdefghij'));

      before(() => pushBlob('blobs/repo', blob));

      it('HEAD is 200 with Content-Length, Content-Type and Docker-Content-Digest, no body', async () => {
        const res = await raw(url, 'HEAD', `/v2/blobs/repo/blobs/${blob.digest}`);
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-length'], String(blob.size));
        assert.equal(res.headers['content-type'], 'application/octet-stream');
        assert.equal(res.headers['docker-content-digest'], blob.digest);
        assert.equal(res.headers['etag'], `"${blob.digest}"`);
        assert.equal(res.body.byteLength, 0);
      });

      it('GET returns the exact bytes', async () => {
        const res = await get(`/v2/blobs/repo/blobs/${blob.digest}`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('docker-content-digest'), blob.digest);
        assert.equal(res.headers.get('accept-ranges'), 'bytes');
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), blob.content);
        const record = recordFor('GET', `/v2/blobs/repo/blobs/${blob.digest}`);
        assert.equal(record?.route, 'blob');
        assert.equal(record?.status, 200);
        assert.equal(record?.bytesOut, blob.size);
      });

      it('Range requests are 206 with Content-Range', async () => {
        const cases: [string, number, number][] = [
          ['bytes=2-5', 2, 5],
          ['bytes=15-', 15, 19],
          ['bytes=-4', 16, 19],
          ['bytes=10-1000', 10, 19],
        ];
        for (const [range, start, end] of cases) {
          const res = await get(`/v2/blobs/repo/blobs/${blob.digest}`, { headers: { range } });
          assert.equal(res.status, 206, range);
          assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${blob.size}`);
          assert.equal(res.headers.get('content-length'), String(end - start + 1));
          assert.deepEqual(
            Buffer.from(await res.arrayBuffer()),
            blob.content.subarray(start, end + 1),
          );
        }
        const head = await raw(url, 'HEAD', `/v2/blobs/repo/blobs/${blob.digest}`, {
          range: 'bytes=0-0',
        });
        assert.equal(head.status, 206);
        assert.equal(head.headers['content-length'], '1');
      });

      it('an unsatisfiable range is 416 RANGE_INVALID with Content-Range: bytes */size', async () => {
        for (const range of ['bytes=20-', 'bytes=100-200', 'bytes=-0']) {
          const res = await get(`/v2/blobs/repo/blobs/${blob.digest}`, { headers: { range } });
          assert.equal(res.status, 416, range);
          assert.equal(res.headers.get('content-range'), `bytes */${blob.size}`);
          assert.equal(await errorCode(res), 'RANGE_INVALID');
        }
      });

      it('ranges the server does not serve give the whole blob', async () => {
        for (const range of ['bytes=0-1,4-5', 'items=0-1', 'bytes=5-2']) {
          const res = await get(`/v2/blobs/repo/blobs/${blob.digest}`, { headers: { range } });
          assert.equal(res.status, 200, range);
          assert.deepEqual(Buffer.from(await res.arrayBuffer()), blob.content);
        }
        const stale = await get(`/v2/blobs/repo/blobs/${blob.digest}`, {
          headers: { range: 'bytes=0-1', 'if-range': '"sha256:other"' },
        });
        assert.equal(stale.status, 200);
        await stale.arrayBuffer();
      });

      it('If-None-Match with the digest is 304', async () => {
        const res = await get(`/v2/blobs/repo/blobs/${blob.digest}`, {
          headers: { 'if-none-match': `"${blob.digest}"` },
        });
        assert.equal(res.status, 304);
      });

      it('an unknown blob is 404 BLOB_UNKNOWN, also for HEAD and in another repository', async () => {
        const unknown = sha256(Buffer.from('never pushed'));
        const res = await get(`/v2/blobs/repo/blobs/${unknown}`);
        assert.equal(res.status, 404);
        assert.equal(await errorCode(res), 'BLOB_UNKNOWN');
        const head = await raw(url, 'HEAD', `/v2/blobs/repo/blobs/${unknown}`);
        assert.equal(head.status, 404);
        assert.equal(head.body.byteLength, 0);
        const other = await get(`/v2/blobs/other/blobs/${blob.digest}`);
        assert.equal(await errorCode(other), 'BLOB_UNKNOWN');
      });

      it('DELETE is 202, then the blob is gone (404 BLOB_UNKNOWN)', async () => {
        const doomed = makeBlob('to be deleted');
        await pushBlob('blobs/repo', doomed);
        const res = await get(`/v2/blobs/repo/blobs/${doomed.digest}`, { method: 'DELETE' });
        assert.equal(res.status, 202);
        assert.equal(res.headers.get('content-length'), '0');
        const gone = await get(`/v2/blobs/repo/blobs/${doomed.digest}`);
        assert.equal(await errorCode(gone), 'BLOB_UNKNOWN');
        const again = await get(`/v2/blobs/repo/blobs/${doomed.digest}`, { method: 'DELETE' });
        assert.equal(again.status, 404);
        assert.equal(await errorCode(again), 'BLOB_UNKNOWN');
      });

      it('a client abandoning a download does not disturb the server', async () => {
        const big = makeBlob(Buffer.alloc(8 * 1024 * 1024, 7));
        await pushBlob('blobs/big', big);
        const controller = new AbortController();
        const res = await get(`/v2/blobs/big/blobs/${big.digest}`, { signal: controller.signal });
        const reader = res.body!.getReader();
        await reader.read();
        controller.abort();
        await assert.rejects(reader.read());
        const again = await get(`/v2/blobs/big/blobs/${big.digest}`);
        assert.equal(again.status, 200);
        assert.deepEqual(Buffer.from(await again.arrayBuffer()), big.content);
      });
    });

    describe('uploads', () => {
      it('POST starts a session: 202 with Location, Docker-Upload-UUID and Range 0-0', async () => {
        const res = await get('/v2/up/repo/blobs/uploads/', { method: 'POST' });
        assert.equal(res.status, 202);
        const location = res.headers.get('location')!;
        const id = res.headers.get('docker-upload-uuid')!;
        assert.ok(id.length > 0);
        assert.equal(location, `/v2/up/repo/blobs/uploads/${id}`);
        assert.equal(res.headers.get('range'), '0-0');
        assert.equal(res.headers.get('content-length'), '0');
        const status = await get(location);
        assert.equal(status.status, 204);
        assert.equal(status.headers.get('range'), '0-0');
        assert.equal(status.headers.get('location'), location);
        assert.equal(status.headers.get('docker-upload-uuid'), id);
        const head = await raw(url, 'HEAD', location);
        assert.equal(head.status, 204);
        assert.equal(head.headers['range'], '0-0');
      });

      it('a chunked upload of three PATCHes, then PUT ?digest=', async () => {
        const data = Buffer.from('first chunk|second chunk|third and last chunk');
        const blob = makeBlob(data);
        const parts = [data.subarray(0, 12), data.subarray(12, 25), data.subarray(25)];
        let location = await startSession('up/chunked');
        let offset = 0;
        for (const part of parts) {
          const end = offset + part.byteLength - 1;
          const res = await get(location, {
            method: 'PATCH',
            headers: {
              'Content-Type': 'application/octet-stream',
              'Content-Range': `${offset}-${end}`,
            },
            body: part,
          });
          assert.equal(res.status, 202);
          assert.equal(res.headers.get('range'), `0-${end}`);
          assert.equal(res.headers.get('content-length'), '0');
          location = res.headers.get('location')!;
          offset = end + 1;
        }
        const status = await get(location);
        assert.equal(status.status, 204);
        assert.equal(status.headers.get('range'), `0-${data.byteLength - 1}`);
        const put = await get(`${location}?digest=${blob.digest}`, { method: 'PUT' });
        assert.equal(put.status, 201);
        assert.equal(put.headers.get('location'), `/v2/up/chunked/blobs/${blob.digest}`);
        assert.equal(put.headers.get('docker-content-digest'), blob.digest);
        const got = await get(put.headers.get('location')!);
        assert.deepEqual(Buffer.from(await got.arrayBuffer()), data);
        // The session is gone once committed.
        const after = await get(location);
        assert.equal(await errorCode(after), 'BLOB_UPLOAD_UNKNOWN');
        const record = registry.records.findLast((r) => r.method === 'PATCH');
        assert.equal(record?.route, 'blob-upload-chunk');
        assert.equal(record?.bytesIn, parts[2]!.byteLength);
      });

      it('a PATCH without Content-Range streams (chunked) and appends', async () => {
        const data = Buffer.from('streamed in pieces');
        const blob = makeBlob(data);
        const location = await startSession('up/streamed');
        const res = await get(location, {
          method: 'PATCH',
          body: streamOf(data.subarray(0, 5), data.subarray(5)),
          duplex: 'half',
        });
        assert.equal(res.status, 202);
        assert.equal(res.headers.get('range'), `0-${data.byteLength - 1}`);
        const put = await get(`${res.headers.get('location')}?digest=${blob.digest}`, {
          method: 'PUT',
        });
        assert.equal(put.status, 201);
      });

      it('an out-of-order chunk is 416 with the session Location and Range', async () => {
        const location = await startSession('up/order');
        const skipped = await get(location, {
          method: 'PATCH',
          headers: { 'Content-Range': '5-9' },
          body: 'abcde',
        });
        assert.equal(skipped.status, 416);
        assert.equal(await errorCode(skipped), 'RANGE_INVALID');
        assert.equal(skipped.headers.get('location'), location);
        assert.equal(skipped.headers.get('range'), '0-0');
        const first = await get(location, {
          method: 'PATCH',
          headers: { 'Content-Range': '0-4' },
          body: 'abcde',
        });
        assert.equal(first.status, 202);
        // Retrying the chunk just accepted is out of order too.
        const retry = await get(location, {
          method: 'PATCH',
          headers: { 'Content-Range': '0-4' },
          body: 'abcde',
        });
        assert.equal(retry.status, 416);
        assert.equal(retry.headers.get('range'), '0-4');
        assert.equal(await errorCode(retry), 'RANGE_INVALID');
        const status = await get(location);
        assert.equal(status.headers.get('range'), '0-4');
      });

      it('a malformed Content-Range, or one disagreeing with the body length, is 416', async () => {
        const location = await startSession('up/badrange');
        for (const contentRange of ['abc', '4-2', '0-9']) {
          const res = await get(location, {
            method: 'PATCH',
            headers: { 'Content-Range': contentRange },
            body: 'abcde',
          });
          assert.equal(res.status, 416, contentRange);
          assert.equal(await errorCode(res), 'RANGE_INVALID');
          assert.equal(res.headers.get('range'), '0-0');
        }
      });

      it('a chunk shorter than its Content-Range is 400 SIZE_INVALID', async () => {
        const location = await startSession('up/short');
        const res = await get(location, {
          method: 'PATCH',
          headers: { 'Content-Range': '0-9' },
          body: streamOf(Buffer.from('abcde')),
          duplex: 'half',
        });
        assert.equal(res.status, 400);
        assert.equal(await errorCode(res), 'SIZE_INVALID');
      });

      it('PUT ?digest= may carry the last chunk, with or without Content-Range', async () => {
        const data = Buffer.from('0123456789');
        const blob = makeBlob(data);
        let location = await startSession('up/final');
        const patch = await get(location, {
          method: 'PATCH',
          headers: { 'Content-Range': '0-3' },
          body: data.subarray(0, 4),
        });
        location = patch.headers.get('location')!;
        const put = await get(`${location}?digest=${blob.digest}`, {
          method: 'PUT',
          headers: { 'Content-Range': '4-9', 'Content-Type': 'application/octet-stream' },
          body: data.subarray(4),
        });
        assert.equal(put.status, 201);
        assert.equal(put.headers.get('docker-content-digest'), blob.digest);

        const monolithic = makeBlob('POST then PUT');
        const session = await startSession('up/final');
        const put2 = await get(`${session}?digest=${monolithic.digest}`, {
          method: 'PUT',
          body: monolithic.content,
        });
        assert.equal(put2.status, 201);
        assert.equal(put2.headers.get('location'), `/v2/up/final/blobs/${monolithic.digest}`);
        const got = await get(`/v2/up/final/blobs/${monolithic.digest}`);
        assert.deepEqual(Buffer.from(await got.arrayBuffer()), monolithic.content);
      });

      it('PUT without a digest is 400 DIGEST_INVALID and the session stays usable', async () => {
        const blob = makeBlob('kept');
        const location = await startSession('up/nodigest');
        const res = await get(location, { method: 'PUT', body: blob.content });
        assert.equal(res.status, 400);
        assert.equal(await errorCode(res), 'DIGEST_INVALID');
        const bad = await get(`${location}?digest=sha256:nope`, { method: 'PUT' });
        assert.equal(await errorCode(bad), 'DIGEST_INVALID');
        assert.equal((await get(location)).status, 204);
        const put = await get(`${location}?digest=${blob.digest}`, {
          method: 'PUT',
          body: blob.content,
        });
        assert.equal(put.status, 201);
      });

      it('PUT with a digest the content does not have is 400 DIGEST_INVALID and ends the session', async () => {
        const location = await startSession('up/mismatch');
        const res = await get(`${location}?digest=${sha256(Buffer.from('other'))}`, {
          method: 'PUT',
          body: 'content',
        });
        assert.equal(res.status, 400);
        assert.equal(await errorCode(res), 'DIGEST_INVALID');
        const status = await get(location);
        assert.equal(status.status, 404);
        assert.equal(await errorCode(status), 'BLOB_UPLOAD_UNKNOWN');
      });

      it('DELETE cancels a session (204); unknown sessions are 404 BLOB_UPLOAD_UNKNOWN', async () => {
        const location = await startSession('up/cancel');
        const res = await get(location, { method: 'DELETE' });
        assert.equal(res.status, 204);
        for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
          const again = await get(
            method === 'PUT' ? `${location}?digest=${sha256(Buffer.from(''))}` : location,
            {
              method,
              ...(method === 'PATCH' ? { body: 'x' } : {}),
            },
          );
          assert.equal(again.status, 404, method);
          assert.equal(await errorCode(again), 'BLOB_UPLOAD_UNKNOWN', method);
        }
        const unknown = await get(
          '/v2/up/cancel/blobs/uploads/0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f',
        );
        assert.equal(await errorCode(unknown), 'BLOB_UPLOAD_UNKNOWN');
        const malformed = await get('/v2/up/cancel/blobs/uploads/not@an@id');
        assert.equal(await errorCode(malformed), 'BLOB_UPLOAD_UNKNOWN');
      });

      it('a session belongs to its repository', async () => {
        const location = await startSession('up/owner');
        const id = location.split('/').at(-1)!;
        const res = await get(`/v2/up/thief/blobs/uploads/${id}`);
        assert.equal(res.status, 404);
        assert.equal(await errorCode(res), 'BLOB_UPLOAD_UNKNOWN');
      });

      it('POST ?digest= uploads a whole blob in one request (201)', async () => {
        const blob = makeBlob('single POST');
        const res = await get(`/v2/up/single/blobs/uploads/?digest=${blob.digest}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/octet-stream' },
          body: blob.content,
        });
        assert.equal(res.status, 201);
        assert.equal(res.headers.get('location'), `/v2/up/single/blobs/${blob.digest}`);
        assert.equal(res.headers.get('docker-content-digest'), blob.digest);
        const wrong = await get(`/v2/up/single/blobs/uploads/?digest=${sha256(Buffer.from('x'))}`, {
          method: 'POST',
          body: 'not x',
        });
        assert.equal(wrong.status, 400);
        assert.equal(await errorCode(wrong), 'DIGEST_INVALID');
        const none = await get(`/v2/up/single/blobs/${sha256(Buffer.from('x'))}`);
        assert.equal(none.status, 404);
      });

      it('mount from another repository is 201; a failed mount falls back to a session (202)', async () => {
        const blob = makeBlob('mount me');
        await pushBlob('mount/source', blob);
        const res = await get(
          `/v2/mount/target/blobs/uploads/?mount=${blob.digest}&from=mount/source`,
          { method: 'POST' },
        );
        assert.equal(res.status, 201);
        assert.equal(res.headers.get('location'), `/v2/mount/target/blobs/${blob.digest}`);
        assert.equal(res.headers.get('docker-content-digest'), blob.digest);
        const got = await get(res.headers.get('location')!);
        assert.deepEqual(Buffer.from(await got.arrayBuffer()), blob.content);

        const missing = sha256(Buffer.from('not in source'));
        for (const query of [
          `mount=${missing}&from=mount/source`,
          `mount=${blob.digest}&from=mount/elsewhere`,
          `mount=${blob.digest}`,
          `mount=sha256:bad&from=mount/source`,
          `mount=${blob.digest}&from=Bad..Name`,
        ]) {
          const fallback = await get(`/v2/mount/other/blobs/uploads/?${query}`, { method: 'POST' });
          assert.equal(fallback.status, 202, query);
          assert.match(fallback.headers.get('location')!, /^\/v2\/mount\/other\/blobs\/uploads\/./);
          assert.equal(fallback.headers.get('range'), '0-0');
        }
      });

      it('a client abandoning a PATCH leaves the session usable', async () => {
        // A registry whose store tells when the chunk's first bytes have reached it, so the
        // client aborts mid-body, not before sending.
        const store = await makeStore();
        let received!: () => void;
        const firstBytes = new Promise<void>((resolve) => (received = resolve));
        const uploads = store.uploads;
        const watched: RegistryStore = {
          ...store,
          uploads: {
            ...uploads,
            append: (repo, id, body, options) =>
              uploads.append(
                repo,
                id,
                (async function* () {
                  for await (const chunk of body) {
                    received();
                    yield chunk;
                  }
                })(),
                options,
              ),
          },
        };
        const own = await startRegistry({ store: watched });
        try {
          const data = Buffer.alloc(256 * 1024, 3);
          data.write('the start');
          const blob = makeBlob(data);
          const start = await fetch(`${own.url}/v2/up/abort/blobs/uploads/`, { method: 'POST' });
          const location = `${own.url}${start.headers.get('location')}`;
          const controller = new AbortController();
          const body = new ReadableStream<Uint8Array>({
            start(c) {
              c.enqueue(data.subarray(0, 1024));
            },
            pull: () => new Promise(() => undefined), // never sends more
          });
          const aborted = fetch(location, {
            method: 'PATCH',
            body,
            duplex: 'half',
            signal: controller.signal,
          });
          await firstBytes;
          controller.abort();
          await assert.rejects(aborted);
          // An empty PATCH waits for the abandoned one to release the session, then reports it.
          const probe = await fetch(location, { method: 'PATCH', body: '' });
          assert.equal(probe.status, 202);
          const range = probe.headers.get('range')!;
          const size = range === '0-0' ? 0 : Number(range.split('-')[1]) + 1;
          assert.ok(size <= 1024);
          const rest = await fetch(location, {
            method: 'PATCH',
            headers: { 'Content-Range': `${size}-${data.byteLength - 1}` },
            body: data.subarray(size),
          });
          assert.equal(rest.status, 202);
          const put = await fetch(`${location}?digest=${blob.digest}`, { method: 'PUT' });
          assert.equal(put.status, 201);
          // The abandoned PATCH is recorded once its handler has let go of the session, so
          // possibly after the probe's.
          const patches = own.records.filter((r) => r.method === 'PATCH');
          assert.deepEqual(patches.map((r) => r.status).sort(), [202, 202, 499]);
          const abandoned = patches.find((r) => r.status === 499);
          assert.equal(abandoned?.route, 'blob-upload-chunk');
          assert.equal(abandoned.errorCode, undefined);
        } finally {
          await own.close();
        }
      });
    });

    describe('manifests', () => {
      const config = makeBlob('{"architecture":"amd64","os":"linux"}');
      const layer1 = makeBlob('layer one');
      const layer2 = makeBlob('layer two');
      const image = imageManifest({
        config,
        configType: 'application/vnd.oci.image.config.v1+json',
        layers: [layer1, layer2],
      });

      before(async () => {
        for (const b of [config, layer1, layer2]) await pushBlob('man/repo', b);
      });

      it('PUT by tag is 201 with Location and Docker-Content-Digest; GET is byte-for-byte', async () => {
        const res = await pushManifest('man/repo', 'v1', image);
        assert.equal(res.status, 201, await res.clone().text());
        assert.equal(res.headers.get('location'), `/v2/man/repo/manifests/${image.digest}`);
        assert.equal(res.headers.get('docker-content-digest'), image.digest);
        assert.equal(res.headers.get('oci-subject'), null);
        for (const ref of ['v1', image.digest]) {
          const got = await get(`/v2/man/repo/manifests/${ref}`, {
            headers: { accept: ACCEPT_ALL },
          });
          assert.equal(got.status, 200);
          assert.equal(got.headers.get('content-type'), OCI_MANIFEST);
          assert.equal(got.headers.get('docker-content-digest'), image.digest);
          assert.equal(got.headers.get('content-length'), String(image.size));
          assert.deepEqual(Buffer.from(await got.arrayBuffer()), image.content);
        }
        const head = await raw(url, 'HEAD', '/v2/man/repo/manifests/v1', { accept: OCI_MANIFEST });
        assert.equal(head.status, 200);
        assert.equal(head.headers['content-length'], String(image.size));
        assert.equal(head.headers['docker-content-digest'], image.digest);
        assert.equal(head.headers['content-type'], OCI_MANIFEST);
        assert.equal(head.body.byteLength, 0);
      });

      it('PUT by digest is 201; a digest that does not match the body is 400 DIGEST_INVALID', async () => {
        const other = imageManifest({ config, layers: [layer1] });
        const res = await pushManifest('man/repo', other.digest, other);
        assert.equal(res.status, 201);
        const wrong = await pushManifest('man/repo', image.digest, other);
        assert.equal(wrong.status, 400);
        assert.equal(await errorCode(wrong), 'DIGEST_INVALID');
      });

      it('content negotiation: an OCI manifest needs an Accept that allows it', async () => {
        const accepted = [
          undefined,
          OCI_MANIFEST,
          '*/*',
          'application/*',
          `${DOCKER_MANIFEST}, ${OCI_MANIFEST};q=0.5`,
        ];
        for (const accept of accepted) {
          const res = await get('/v2/man/repo/manifests/v1', {
            headers: accept === undefined ? {} : { accept },
          });
          assert.equal(res.status, 200, String(accept));
          await res.arrayBuffer();
        }
        for (const accept of [DOCKER_MANIFEST, `${OCI_MANIFEST};q=0`, OCI_INDEX]) {
          const res = await get('/v2/man/repo/manifests/v1', { headers: { accept } });
          assert.equal(res.status, 404, accept);
          assert.equal(await errorCode(res), 'MANIFEST_UNKNOWN');
        }
      });

      it('If-None-Match with the digest is 304', async () => {
        const res = await get('/v2/man/repo/manifests/v1', {
          headers: { accept: ACCEPT_ALL, 'if-none-match': `"${image.digest}"` },
        });
        assert.equal(res.status, 304);
        assert.equal(res.headers.get('docker-content-digest'), image.digest);
      });

      it('an index of image manifests', async () => {
        const a = imageManifest({ config, layers: [layer1], annotations: { n: 'a' } });
        const b = imageManifest({ config, layers: [layer2], annotations: { n: 'b' } });
        for (const m of [a, b])
          assert.equal((await pushManifest('man/repo', m.digest, m)).status, 201);
        const index = indexManifest([a, b]);
        const res = await pushManifest('man/repo', 'multi', index, OCI_INDEX);
        assert.equal(res.status, 201);
        assert.equal(res.headers.get('docker-content-digest'), index.digest);
        const got = await get('/v2/man/repo/manifests/multi', { headers: { accept: OCI_INDEX } });
        assert.equal(got.status, 200);
        assert.equal(got.headers.get('content-type'), OCI_INDEX);
        assert.deepEqual(Buffer.from(await got.arrayBuffer()), index.content);
        const refused = await get('/v2/man/repo/manifests/multi', {
          headers: { accept: OCI_MANIFEST },
        });
        assert.equal(await errorCode(refused), 'MANIFEST_UNKNOWN');
      });

      it('references to blobs or manifests the repository lacks are 404 MANIFEST_BLOB_UNKNOWN', async () => {
        const missingLayer = imageManifest({ config, layers: [makeBlob('never pushed')] });
        const res = await pushManifest('man/repo', 'broken', missingLayer);
        assert.equal(res.status, 404);
        assert.equal(await errorCode(res), 'MANIFEST_BLOB_UNKNOWN');
        const missingChild = indexManifest([imageManifest({ config, layers: [layer2, layer1] })]);
        const idx = await pushManifest('man/repo', 'broken-index', missingChild, OCI_INDEX);
        assert.equal(idx.status, 404);
        assert.equal(await errorCode(idx), 'MANIFEST_BLOB_UNKNOWN');
        // Blobs of another repository do not count.
        const elsewhere = await pushManifest('man/empty', 'v1', image);
        assert.equal(await errorCode(elsewhere), 'MANIFEST_BLOB_UNKNOWN');
      });

      it('a body that is not a manifest is 400 MANIFEST_INVALID', async () => {
        for (const body of ['not json', '[]', '{"schemaVersion":2,"mediaType":"x/y"}']) {
          const res = await pushManifest('man/repo', 'bad', makeBlob(body));
          assert.equal(res.status, 400, body);
          assert.equal(await errorCode(res), 'MANIFEST_INVALID', body);
        }
      });

      it('a manifest over 4 MiB is 413 MANIFEST_INVALID', async () => {
        const huge = makeBlob(Buffer.alloc(4 * 1024 * 1024 + 1, 0x20));
        const res = await pushManifest('man/repo', 'huge', huge);
        assert.equal(res.status, 413);
        assert.equal(await errorCode(res), 'MANIFEST_INVALID');
        // Without a declared length, the limit applies while reading.
        const streamed = await get('/v2/man/repo/manifests/huge', {
          method: 'PUT',
          headers: { 'Content-Type': OCI_MANIFEST },
          body: streamOf(
            huge.content.subarray(0, 3 * 1024 * 1024),
            huge.content.subarray(3 * 1024 * 1024),
          ),
          duplex: 'half',
        });
        assert.equal(streamed.status, 413);
        assert.equal(await errorCode(streamed), 'MANIFEST_INVALID');
        assert.equal((await get('/v2/')).status, 200);
      });

      it('an unknown tag or digest is 404 MANIFEST_UNKNOWN', async () => {
        for (const ref of ['nope', sha256(Buffer.from('nope'))]) {
          const res = await get(`/v2/man/repo/manifests/${ref}`, {
            headers: { accept: ACCEPT_ALL },
          });
          assert.equal(res.status, 404);
          assert.equal(await errorCode(res), 'MANIFEST_UNKNOWN');
          const head = await raw(url, 'HEAD', `/v2/man/repo/manifests/${ref}`);
          assert.equal(head.status, 404);
        }
      });

      it('DELETE by tag removes the tag; DELETE by digest removes the manifest (202)', async () => {
        const m = imageManifest({ config, layers: [layer1], annotations: { del: 'yes' } });
        await pushManifest('man/repo', 'doomed', m);
        await pushManifest('man/repo', 'doomed2', m);
        const byTag = await get('/v2/man/repo/manifests/doomed', { method: 'DELETE' });
        assert.equal(byTag.status, 202);
        assert.equal(
          await errorCode(await get('/v2/man/repo/manifests/doomed')),
          'MANIFEST_UNKNOWN',
        );
        assert.equal((await get(`/v2/man/repo/manifests/${m.digest}`)).status, 200);
        const byDigest = await get(`/v2/man/repo/manifests/${m.digest}`, { method: 'DELETE' });
        assert.equal(byDigest.status, 202);
        const gone = await get(`/v2/man/repo/manifests/${m.digest}`);
        assert.equal(await errorCode(gone), 'MANIFEST_UNKNOWN');
        assert.equal(
          await errorCode(await get('/v2/man/repo/manifests/doomed2')),
          'MANIFEST_UNKNOWN',
        );
        const again = await get(`/v2/man/repo/manifests/${m.digest}`, { method: 'DELETE' });
        assert.equal(again.status, 404);
        assert.equal(await errorCode(again), 'MANIFEST_UNKNOWN');
      });
    });

    describe('tags', () => {
      const tags = ['a', 'b', 'c', 'd', 'e'];

      before(async () => {
        const config = makeBlob('{}');
        await pushBlob('tags/repo', config);
        const m = imageManifest({ config });
        for (const tag of [...tags].reverse()) {
          assert.equal((await pushManifest('tags/repo', tag, m)).status, 201);
        }
      });

      it('lists every tag in lexical order', async () => {
        const res = await get('/v2/tags/repo/tags/list');
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type')!, /^application\/json/);
        assert.equal(res.headers.get('link'), null);
        assert.deepEqual(await res.json(), { name: 'tags/repo', tags });
      });

      it('paginates with n and last, linking to the next page', async () => {
        const seen: string[] = [];
        let next: string | undefined = '/v2/tags/repo/tags/list?n=2';
        const links: string[] = [];
        while (next !== undefined) {
          const res = await get(next);
          assert.equal(res.status, 200);
          const body = (await res.json()) as { tags: string[] };
          assert.ok(body.tags.length <= 2);
          seen.push(...body.tags);
          const link = res.headers.get('link');
          if (link === null) {
            next = undefined;
          } else {
            links.push(link);
            const m = /^<([^>]+)>; rel="next"$/.exec(link);
            assert.ok(m, link);
            next = m[1];
          }
        }
        assert.deepEqual(seen, tags);
        assert.equal(links[0], '</v2/tags/repo/tags/list?n=2&last=b>; rel="next"');
        const tail = await get('/v2/tags/repo/tags/list?last=c');
        assert.deepEqual(((await tail.json()) as { tags: string[] }).tags, ['d', 'e']);
      });

      it('n=0 is an empty list without Link', async () => {
        const res = await get('/v2/tags/repo/tags/list?n=0');
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('link'), null);
        assert.deepEqual(await res.json(), { name: 'tags/repo', tags: [] });
      });

      it('an invalid n is 400 PAGINATION_NUMBER_INVALID', async () => {
        for (const n of ['abc', '-1', '1.5', '']) {
          const res = await get(`/v2/tags/repo/tags/list?n=${n}`);
          assert.equal(res.status, 400, n);
          assert.equal(await errorCode(res), 'PAGINATION_NUMBER_INVALID');
        }
      });

      it('an unknown repository is 404 NAME_UNKNOWN', async () => {
        const res = await get('/v2/tags/nothing/tags/list');
        assert.equal(res.status, 404);
        assert.equal(await errorCode(res), 'NAME_UNKNOWN');
      });
    });

    describe('referrers', () => {
      const config = makeBlob('{"image":true}');
      const subject = imageManifest({ config, annotations: { role: 'subject' } });
      const early = imageManifest({
        config: makeBlob('{}'),
        artifactType: 'application/vnd.example.sbom',
        subject,
        annotations: { order: 'before subject' },
      });
      const signature = imageManifest({
        config: makeBlob('{}'),
        artifactType: 'application/vnd.cncf.notary.v2',
        layers: [makeBlob('a signature')],
        subject,
        annotations: { 'org.opencontainers.image.created': '2026-11-23T10:00:00Z' },
      });
      const configTyped = imageManifest({
        config: makeBlob('{"scan":1}'),
        configType: 'application/vnd.example.scan.config',
        subject,
        annotations: { kind: 'config type' },
      });
      const indexReferrer = indexManifest([], {
        subject,
        annotations: { kind: 'index' },
      });

      before(async () => {
        for (const b of [config, makeBlob('{}'), makeBlob('a signature'), makeBlob('{"scan":1}')]) {
          await pushBlob('ref/repo', b);
        }
        // A referrer pushed before its subject exists.
        const res = await pushManifest('ref/repo', early.digest, early);
        assert.equal(res.status, 201);
        assert.equal(res.headers.get('oci-subject'), subject.digest);
      });

      it('lists a referrer pushed before its subject exists', async () => {
        const res = await get(`/v2/ref/repo/referrers/${subject.digest}`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), OCI_INDEX);
        const index = (await res.json()) as {
          schemaVersion: number;
          mediaType: string;
          manifests: unknown[];
        };
        assert.equal(index.schemaVersion, 2);
        assert.equal(index.mediaType, OCI_INDEX);
        assert.deepEqual(index.manifests, [
          {
            mediaType: OCI_MANIFEST,
            digest: early.digest,
            size: early.size,
            artifactType: 'application/vnd.example.sbom',
            annotations: { order: 'before subject' },
          },
        ]);
      });

      it('PUT of manifests with a subject answers OCI-Subject; listing has every referrer', async () => {
        assert.equal((await pushManifest('ref/repo', 'v1', subject)).status, 201);
        for (const [m, type] of [
          [signature, OCI_MANIFEST],
          [configTyped, OCI_MANIFEST],
          [indexReferrer, OCI_INDEX],
        ] as const) {
          const res = await pushManifest('ref/repo', m.digest, m, type);
          assert.equal(res.status, 201, await res.clone().text());
          assert.equal(res.headers.get('oci-subject'), subject.digest);
        }
        const res = await get(`/v2/ref/repo/referrers/${subject.digest}`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('oci-filters-applied'), null);
        const { manifests } = (await res.json()) as { manifests: Record<string, unknown>[] };
        const byDigest = new Map(manifests.map((d) => [d['digest'], d]));
        assert.equal(manifests.length, 4);
        assert.deepEqual(byDigest.get(signature.digest), {
          mediaType: OCI_MANIFEST,
          digest: signature.digest,
          size: signature.size,
          artifactType: 'application/vnd.cncf.notary.v2',
          annotations: { 'org.opencontainers.image.created': '2026-11-23T10:00:00Z' },
        });
        assert.equal(
          byDigest.get(configTyped.digest)?.['artifactType'],
          'application/vnd.example.scan.config',
        );
        assert.equal(byDigest.get(indexReferrer.digest)?.['mediaType'], OCI_INDEX);
        assert.equal(byDigest.get(indexReferrer.digest)?.['artifactType'], undefined);
        assert.deepEqual(byDigest.get(indexReferrer.digest)?.['annotations'], { kind: 'index' });
      });

      it('?artifactType= filters and says so in OCI-Filters-Applied', async () => {
        const res = await get(
          `/v2/ref/repo/referrers/${subject.digest}?artifactType=${encodeURIComponent('application/vnd.cncf.notary.v2')}`,
        );
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('oci-filters-applied'), 'artifactType');
        const { manifests } = (await res.json()) as { manifests: { digest: string }[] };
        assert.deepEqual(
          manifests.map((d) => d.digest),
          [signature.digest],
        );
        const none = await get(`/v2/ref/repo/referrers/${subject.digest}?artifactType=x/none`);
        assert.equal(none.headers.get('oci-filters-applied'), 'artifactType');
        assert.deepEqual(((await none.json()) as { manifests: unknown[] }).manifests, []);
      });

      it('pages with n and a Link to the next page', async () => {
        const seen: string[] = [];
        let next: string | undefined = `/v2/ref/repo/referrers/${subject.digest}?n=3`;
        let pages = 0;
        while (next !== undefined) {
          const res = await get(next);
          assert.equal(res.status, 200);
          const { manifests } = (await res.json()) as { manifests: { digest: string }[] };
          seen.push(...manifests.map((d) => d.digest));
          pages += 1;
          const link = res.headers.get('link');
          next = link === null ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)![1];
        }
        assert.equal(pages, 2);
        const zero = await get(`/v2/ref/repo/referrers/${subject.digest}?n=0`);
        assert.equal(zero.headers.get('link'), null);
        assert.deepEqual(((await zero.json()) as { manifests: unknown[] }).manifests, []);
        const bad = await get(`/v2/ref/repo/referrers/${subject.digest}?n=many`);
        assert.equal(await errorCode(bad), 'PAGINATION_NUMBER_INVALID');
        assert.deepEqual(
          seen,
          [early, signature, configTyped, indexReferrer].map((m) => m.digest).sort(),
        );
      });

      it('a digest nothing refers to, or an unknown repository, is an empty index (200)', async () => {
        for (const path of [
          `/v2/ref/repo/referrers/${sha256(Buffer.from('nothing'))}`,
          `/v2/ref/unknown/referrers/${subject.digest}`,
          `/v2/ref/repo/referrers/sha512:${'a'.repeat(128)}`,
        ]) {
          const res = await get(path);
          assert.equal(res.status, 200, path);
          assert.equal(res.headers.get('content-type'), OCI_INDEX);
          assert.deepEqual(await res.json(), {
            schemaVersion: 2,
            mediaType: OCI_INDEX,
            manifests: [],
          });
        }
      });

      it('a deleted referrer is no longer listed', async () => {
        const res = await get(`/v2/ref/repo/manifests/${signature.digest}`, { method: 'DELETE' });
        assert.equal(res.status, 202);
        const list = await get(`/v2/ref/repo/referrers/${subject.digest}`);
        const { manifests } = (await list.json()) as { manifests: { digest: string }[] };
        assert.equal(manifests.length, 3);
        assert.ok(!manifests.some((d) => d.digest === signature.digest));
      });
    });

    describe('catalog', () => {
      it('lists repositories in pages linked by Link', async () => {
        const own = await startRegistry({ store: await makeStore() });
        try {
          const empty = await fetch(`${own.url}/v2/_catalog`);
          assert.equal(empty.status, 200);
          assert.deepEqual(await empty.json(), { repositories: [] });
          const config = makeBlob('{}');
          const repos = ['cat/a', 'cat/b', 'cat/c', 'dog'];
          for (const repo of repos) {
            await fetch(`${own.url}/v2/${repo}/blobs/uploads/?digest=${config.digest}`, {
              method: 'POST',
              body: config.content,
            });
            const res = await fetch(`${own.url}/v2/${repo}/manifests/latest`, {
              method: 'PUT',
              headers: { 'Content-Type': OCI_MANIFEST },
              body: imageManifest({ config }).content,
            });
            assert.equal(res.status, 201);
          }
          const all = await fetch(`${own.url}/v2/_catalog`);
          assert.deepEqual(await all.json(), { repositories: repos });
          assert.equal(all.headers.get('link'), null);
          const first = await fetch(`${own.url}/v2/_catalog?n=3`);
          assert.deepEqual(await first.json(), { repositories: repos.slice(0, 3) });
          assert.equal(first.headers.get('link'), '</v2/_catalog?n=3&last=cat%2Fc>; rel="next"');
          const second = await fetch(`${own.url}/v2/_catalog?n=3&last=cat%2Fc`);
          assert.deepEqual(await second.json(), { repositories: ['dog'] });
          assert.equal(second.headers.get('link'), null);
          const bad = await fetch(`${own.url}/v2/_catalog?n=x`);
          assert.equal(await errorCode(bad), 'PAGINATION_NUMBER_INVALID');
        } finally {
          await own.close();
        }
      });
    });

    describe('storage failures', () => {
      const secret = '/srv/secret/storage/path';
      let failing: RunningRegistry;

      before(async () => {
        const store = await makeStore();
        const broken: RegistryStore = {
          ...store,
          blobs: {
            ...store.blobs,
            stat: async (repo, digest) => {
              if (repo === 'fail/io')
                throw new StorageError('NV2_ERR_STORAGE_IO', `read ${secret}`);
              if (repo === 'fail/gone') {
                throw new StorageError('NV2_ERR_STORAGE_NOT_FOUND', `stat ${secret}`);
              }
              if (repo === 'fail/busy') {
                throw new RegistryError('UNAVAILABLE', 'busy', { path: secret });
              }
              return store.blobs.stat(repo, digest);
            },
            // The broken media below are streams: these blobs are small, so the store would
            // answer them from memory (`readSmall`) without ever opening them.
            readSmall: async (repo, digest) =>
              repo.startsWith('fail/') ? undefined : store.blobs.readSmall(repo, digest),
            open: async (repo, digest, range) => {
              const stream = await store.blobs.open(repo, digest, range);
              const whole = async (): Promise<Buffer> => {
                const chunks: Buffer[] = [];
                for await (const chunk of stream) chunks.push(chunk as Buffer);
                return Buffer.concat(chunks);
              };
              switch (repo) {
                case 'fail/stream':
                  // The first bytes, then the medium fails.
                  return Readable.from(
                    (async function* () {
                      yield (await whole()).subarray(0, 4);
                      throw new StorageError('NV2_ERR_STORAGE_IO', `read ${secret}`);
                    })(),
                  );
                case 'fail/short':
                  // The first bytes, then a clean end: a file truncated under the store.
                  return Readable.from([(await whole()).subarray(0, 4)]);
                case 'fail/long':
                  // More than its size: a file that grew under the store.
                  return Readable.from([Buffer.concat([await whole(), Buffer.from('HTTP/1.1')])]);
                default:
                  return stream;
              }
            },
          },
          tags: {
            ...store.tags,
            list: () => {
              throw new Error(`unexpected ${secret}`);
            },
          },
        };
        failing = await startRegistry({ store: broken });
      });
      after(() => failing.close());

      it('a failing medium is 500 UNKNOWN without detail; the cause goes to the record only', async () => {
        const digest = sha256(Buffer.from('x'));
        for (const path of [`/v2/fail/io/blobs/${digest}`, '/v2/fail/io/tags/list']) {
          const res = await fetch(`${failing.url}${path}`);
          assert.equal(res.status, 500, path);
          const text = await res.text();
          assert.ok(!text.includes(secret), text);
          const body = JSON.parse(text) as ErrorResponseBody;
          assert.equal(body.errors[0]!.code, 'UNKNOWN');
          assert.equal(body.errors[0]!.detail, undefined);
          const record = failing.records.findLast((r) => r.path === path);
          assert.equal(record?.status, 500);
          assert.equal(record?.errorCode, 'UNKNOWN');
          assert.ok(String((record?.cause as Error | undefined)?.message).includes(secret));
        }
      });

      it("a path vanishing under the store is the route's unknown code, without detail", async () => {
        const res = await fetch(`${failing.url}/v2/fail/gone/blobs/${sha256(Buffer.from('x'))}`);
        assert.equal(res.status, 404);
        const text = await res.text();
        assert.ok(!text.includes(secret));
        assert.equal(codeOf(Buffer.from(text)), 'BLOB_UNKNOWN');
      });

      it('a RegistryError with a 5xx code is served with its status, without detail', async () => {
        const res = await fetch(`${failing.url}/v2/fail/busy/blobs/${sha256(Buffer.from('x'))}`);
        assert.equal(res.status, 503);
        const text = await res.text();
        assert.ok(!text.includes(secret));
        assert.equal(codeOf(Buffer.from(text)), 'UNAVAILABLE');
      });

      for (const [repo, what] of [
        ['fail/stream', 'failing half-way'],
        ['fail/short', 'ending short of its size'],
        ['fail/long', 'running past its size'],
      ] as const) {
        it(`a blob stream ${what} breaks the connection: never a body that looks complete`, async () => {
          const blob = makeBlob(`a blob in ${repo} that will not arrive whole`);
          const upload = `${failing.url}/v2/${repo}/blobs/uploads/?digest=${blob.digest}`;
          const push = await fetch(upload, { method: 'POST', body: blob.content });
          assert.equal(push.status, 201);
          const url = `${failing.url}/v2/${repo}/blobs/${blob.digest}`;
          // What an HTTP/1.1 client sees: the connection breaks, before the response (the
          // headers wait for the first bytes) or after the announced length and fewer bytes;
          // either way the transfer is flagged as broken, not ended.
          const seen = await getRaw(url);
          if (seen.status !== undefined) {
            assert.equal(seen.status, 200);
            assert.equal(seen.announced, blob.size);
          }
          assert.ok(seen.received < blob.size, `${seen.received} of ${blob.size} bytes`);
          assert.equal(seen.complete, false);
          assert.equal(seen.failed, true);
          const record = await failing.recorded((r) => r.path === new URL(url).pathname);
          assert.equal(record.status, 200);
          assert.equal(record.errorCode, 'UNKNOWN');
          assert.ok(record.cause instanceof StorageError);
          assert.equal(record.bytesOut, seen.received);
          // fetch fails (the response or its body) rather than returning a short body.
          await assert.rejects(async () => (await fetch(url)).arrayBuffer());
          assert.equal((await fetch(`${failing.url}/v2/`)).status, 200);
        });
      }

      it('an observer that throws does not break serving', async () => {
        const server = createServer(
          createRegistry({
            store: await makeStore(),
            onRequest: () => {
              throw new Error('observer failed');
            },
          }),
        );
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        try {
          const { port } = server.address() as AddressInfo;
          for (let i = 0; i < 2; i++) {
            assert.equal((await fetch(`http://127.0.0.1:${port}/v2/`)).status, 200);
          }
        } finally {
          server.closeAllConnections();
          await new Promise((resolve) => server.close(resolve));
        }
      });
    });

    describe('request records', () => {
      it('one record per request, with route, status, byte counts and error code', async () => {
        const before = registry.records.length;
        const blob = makeBlob('recorded');
        await pushBlob('rec/repo', blob);
        const res = await get(`/v2/rec/repo/blobs/${sha256(Buffer.from('absent'))}`);
        await res.arrayBuffer();
        const records = registry.records.slice(before);
        assert.equal(records.length, 2);
        const [push, miss] = records as [RequestRecord, RequestRecord];
        assert.equal(push.method, 'POST');
        assert.equal(push.path, '/v2/rec/repo/blobs/uploads/');
        assert.equal(push.route, 'blob-upload');
        assert.equal(push.status, 201);
        assert.equal(push.bytesIn, blob.size);
        assert.equal(push.bytesOut, 0);
        assert.equal(push.errorCode, undefined);
        assert.ok(push.durationMs >= 0);
        assert.equal(miss.route, 'blob');
        assert.equal(miss.status, 404);
        assert.equal(miss.errorCode, 'BLOB_UNKNOWN');
        assert.ok(miss.bytesOut > 0);
      });
    });
  });
}

registrySuite('memory', async () => createStore(createMemoryDriver()));
registrySuite('filesystem', async () =>
  createStore(createFilesystemDriver({ root: await tempDir() })),
);

// The whole API again with the metadata in PostgreSQL (a real server, scripts/postgres.sh)
// and the blobs on the filesystem.
const pgPools: pg.Pool[] = [];
after(() => Promise.all(pgPools.map((p) => p.end())));
if (postgresMissing() === undefined) {
  registrySuite('filesystem + PostgreSQL', async () => {
    const pool = createPool({ url: await (await startPostgres()).newDatabase() });
    pgPools.push(pool);
    await migrate(pool);
    return createPostgresStore(createFilesystemDriver({ root: await tempDir() }), pool);
  });
}
