/**
 * `nv2 registry serve` as users run it: a real process on a random loopback port, driven by
 * skopeo (an independent client) and by raw HTTP for the crash-safety and concurrency claims.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeTlsCertificate, nv2, skopeo } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeImageLayout, writeIndexLayout } from '../helpers/oci-layout.js';
import { serve } from '../helpers/serve.js';

const sha256 = (data: Uint8Array): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** The manifest digest an OCI layout's index.json names for `tag`. */
async function layoutDigest(layout: string): Promise<string> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  return index.manifests[0]!.digest;
}

/** Pushes a blob monolithically. */
async function pushBlob(url: string, repo: string, data: Uint8Array): Promise<Response> {
  return fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(data.byteLength),
    },
    body: data,
  });
}

describe('nv2 registry serve', () => {
  it('answers /v2/, /healthz and /metrics, logs one JSON line per request, and stops cleanly on SIGTERM', async () => {
    const server = await serve(await tempDir());
    const base = await fetch(`${server.url}/v2/`);
    assert.equal(base.status, 200);
    assert.equal(base.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /nv2_http_requests_total\{method="GET",route="[^"]+",status="200"\} \d+/);
    assert.match(metrics, /nv2_http_request_duration_seconds_bucket/);
    const [requestLog] = await server.waitForLogs(
      (l) => l['msg'] === 'request' && l['path'] === '/v2/',
    );
    assert.ok(requestLog, 'a request line for /v2/');
    for (const field of ['method', 'path', 'status', 'bytesOut', 'durationMs'])
      assert.ok(field in requestLog, field);
    assert.equal(await server.stop(), 0);
  });

  it('copies a multi-layer image and a multi-arch index in and back out with skopeo, digests identical', async () => {
    const server = await serve(await tempDir());
    try {
      const work = await tempDir();
      const image = join(work, 'image');
      await writeImageLayout(image, { tag: 'v1', layers: 3 });
      const pushed = await skopeo(
        'copy',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${image}:v1`,
        `docker://${server.host}/acme/app:v1`,
      );
      assert.equal(pushed.code, 0, pushed.stderr);
      const inspect = await skopeo(
        'inspect',
        '--tls-verify=false',
        '--raw',
        `docker://${server.host}/acme/app:v1`,
      );
      assert.equal(inspect.code, 0, inspect.stderr);
      assert.equal(sha256(Buffer.from(inspect.stdout)), await layoutDigest(image));
      const back = join(work, 'back');
      const pulled = await skopeo(
        'copy',
        '--preserve-digests',
        '--src-tls-verify=false',
        `docker://${server.host}/acme/app:v1`,
        `oci:${back}:v1`,
      );
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.equal(await layoutDigest(back), await layoutDigest(image));

      const multi = join(work, 'multi');
      await writeIndexLayout(multi, { tag: 'v2' });
      const pushedAll = await skopeo(
        'copy',
        '--all',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${multi}:v2`,
        `docker://${server.host}/acme/app:v2`,
      );
      assert.equal(pushedAll.code, 0, pushedAll.stderr);
      const multiBack = join(work, 'multi-back');
      const pulledAll = await skopeo(
        'copy',
        '--all',
        '--preserve-digests',
        '--src-tls-verify=false',
        `docker://${server.host}/acme/app:v2`,
        `oci:${multiBack}:v2`,
      );
      assert.equal(pulledAll.code, 0, pulledAll.stderr);
      assert.equal(await layoutDigest(multiBack), await layoutDigest(multi));

      // Between repositories on one registry: blobs are mounted, not copied.
      const copied = await skopeo(
        'copy',
        '--preserve-digests',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        `docker://${server.host}/acme/app:v1`,
        `docker://${server.host}/other/app:v1`,
      );
      assert.equal(copied.code, 0, copied.stderr);
      const tags = await skopeo(
        'list-tags',
        '--tls-verify=false',
        `docker://${server.host}/other/app`,
      );
      assert.deepEqual((JSON.parse(tags.stdout) as { Tags: string[] }).Tags, ['v1']);

      const deleted = await skopeo(
        'delete',
        '--tls-verify=false',
        `docker://${server.host}/other/app:v1`,
      );
      assert.equal(deleted.code, 0, deleted.stderr);
      const gone = await skopeo(
        'inspect',
        '--tls-verify=false',
        '--raw',
        `docker://${server.host}/other/app:v1`,
      );
      assert.notEqual(gone.code, 0);
    } finally {
      await server.stop();
    }
  });

  it('survives SIGKILL during an upload: acknowledged content is served after restart, the partial upload is not visible', async () => {
    const root = await tempDir();
    let server = await serve(root);
    const acknowledged = randomBytes(1024 * 1024);
    assert.equal((await pushBlob(server.url, 'crash/test', acknowledged)).status, 201);

    // Stream a large blob slowly, and kill the server in the middle of it.
    const large = randomBytes(32 * 1024 * 1024);
    const start = await fetch(`${server.url}/v2/crash/test/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    const location = new URL(start.headers.get('location')!, server.url);
    location.searchParams.set('digest', sha256(large));
    const upload = new Promise<void>((resolve) => {
      const req = request(location, {
        method: 'PUT',
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(large.byteLength),
        },
      });
      req.on('error', () => resolve());
      req.on('response', () => resolve());
      req.write(large.subarray(0, 8 * 1024 * 1024), () => {
        void server.kill();
      });
    });
    await upload;
    server = await serve(root);
    try {
      const head = await fetch(`${server.url}/v2/crash/test/blobs/${sha256(large)}`, {
        method: 'HEAD',
      });
      assert.equal(head.status, 404);
      const get = await fetch(`${server.url}/v2/crash/test/blobs/${sha256(acknowledged)}`);
      assert.equal(get.status, 200);
      assert.equal(sha256(Buffer.from(await get.arrayBuffer())), sha256(acknowledged));
      // No blob data file exists for the interrupted upload.
      const blobs = await readdir(join(root, 'v2', 'blobs', 'sha256'), { recursive: true });
      assert.ok(!blobs.some((p) => String(p).includes(sha256(large).slice(7))));
    } finally {
      await server.stop();
    }
  });

  it('takes concurrent pushes of the same blob and manifest from many clients', async () => {
    const server = await serve(await tempDir());
    try {
      const blob = randomBytes(256 * 1024);
      const config = Buffer.from('{}');
      const results = await Promise.all(
        Array.from({ length: 20 }, () => pushBlob(server.url, 'race/app', blob)).concat(
          Array.from({ length: 5 }, () => pushBlob(server.url, 'race/app', config)),
        ),
      );
      assert.deepEqual(new Set(results.map((r) => r.status)), new Set([201]));
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: {
            mediaType: 'application/vnd.oci.empty.v1+json',
            digest: sha256(config),
            size: 2,
          },
          layers: [
            {
              mediaType: 'application/vnd.oci.image.layer.v1.tar',
              digest: sha256(blob),
              size: blob.byteLength,
            },
          ],
        }),
      );
      const puts = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          fetch(
            `${server.url}/v2/race/app/manifests/${i % 2 === 0 ? 'latest' : sha256(manifest)}`,
            {
              method: 'PUT',
              headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
              body: manifest,
            },
          ),
        ),
      );
      assert.deepEqual(new Set(puts.map((r) => r.status)), new Set([201]));
      const got = await fetch(`${server.url}/v2/race/app/manifests/latest`, {
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      assert.equal(got.status, 200);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), manifest);
      const layer = await fetch(`${server.url}/v2/race/app/blobs/${sha256(blob)}`);
      assert.equal(sha256(Buffer.from(await layer.arrayBuffer())), sha256(blob));
    } finally {
      await server.stop();
    }
  });

  it('lets in-flight requests finish on SIGTERM', async () => {
    const server = await serve(await tempDir());
    const data = randomBytes(4 * 1024 * 1024);
    const finished = new Promise<number>((resolve, reject) => {
      const url = new URL(`${server.url}/v2/drain/app/blobs/uploads/?digest=${sha256(data)}`);
      const req = request(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(data.byteLength),
        },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.write(data.subarray(0, 1024 * 1024), () => {
        // The server is told to stop while the upload is half sent; the rest still arrives.
        server.child.kill('SIGTERM');
        req.end(data.subarray(1024 * 1024));
      });
    });
    assert.equal(await finished, 201);
    assert.equal(await server.exited, 0);
  });

  it('serves HTTPS with --tls-cert/--tls-key from a config file, and logs pretty lines', async () => {
    const work = await tempDir();
    await makeTlsCertificate(work);
    const config = join(work, 'config.yaml');
    await writeFile(
      config,
      `tls:\n  cert: ${join(work, 'tls.crt')}\n  key: ${join(work, 'tls.key')}\n`,
    );
    const server = await serve(join(work, 'data'), ['--config', config]);
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = await readFile(join(work, 'tls.crt'));
      const status = await new Promise<number>((resolve, reject) => {
        httpsGet(`${server.url}/v2/`, { ca }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
      assert.equal(status, 200);
    } finally {
      await server.stop();
    }
    const pretty = await serve(join(work, 'data2'), ['--log-format', 'pretty']);
    await fetch(`${pretty.url}/v2/`);
    assert.equal(await pretty.stop(), 0);
    assert.ok(
      pretty.lines.some((line) => /^\S+ GET \/v2\/ 200 /.test(line)),
      pretty.lines.join('\n'),
    );
  });

  it('refuses a bad config with exit 2 and one line', async () => {
    const work = await tempDir();
    const config = join(work, 'bad.yaml');
    await writeFile(config, 'adr: 127.0.0.1:5000\n');
    const r = await nv2(['registry', 'serve', '--config', config]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^nv2: NV2_ERR_INVALID_ARGUMENT: config: unknown setting adr\n$/);
  });

  it('gc removes blobs no manifest references, keeps referenced ones, and --dry-run deletes nothing', async () => {
    const root = await tempDir();
    const server = await serve(root);
    const used = Buffer.from('{}');
    const orphan = randomBytes(4096);
    try {
      assert.equal((await pushBlob(server.url, 'gc/app', used)).status, 201);
      assert.equal((await pushBlob(server.url, 'gc/app', orphan)).status, 201);
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(used), size: 2 },
        layers: [],
      });
      const put = await fetch(`${server.url}/v2/gc/app/manifests/v1`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
        body: manifest,
      });
      assert.equal(put.status, 201);
    } finally {
      await server.stop();
    }
    const dry = await nv2(['registry', 'gc', '--root', root, '--dry-run', '--output', 'json']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal((JSON.parse(dry.stdout) as { blobsDeleted: number }).blobsDeleted, 1);
    const real = await nv2(['registry', 'gc', '--root', root, '--output', 'json']);
    assert.equal(real.code, 0, real.stderr);
    assert.equal((JSON.parse(real.stdout) as { blobsDeleted: number }).blobsDeleted, 1);
    const after = await serve(root);
    try {
      assert.equal(
        (await fetch(`${after.url}/v2/gc/app/blobs/${sha256(orphan)}`, { method: 'HEAD' })).status,
        404,
      );
      assert.equal(
        (await fetch(`${after.url}/v2/gc/app/blobs/${sha256(used)}`, { method: 'HEAD' })).status,
        200,
      );
      assert.equal(
        (await fetch(`${after.url}/v2/gc/app/manifests/v1`, { method: 'HEAD' })).status,
        200,
      );
    } finally {
      await after.stop();
    }
  });
});
