/**
 * Three `nv2 registry serve` replicas on one S3 bucket (Ceph RGW, scripts/ceph-s3.sh) behind
 * nginx doing round robin, with token auth whose signing key the replicas share by config:
 * skopeo pushes through the balancer (each request of an upload lands on another replica),
 * nv2 signs, another client pulls and verifies; a tag moved on one replica is read back at
 * once from the others; a replica killed with SIGKILL in the middle of a chunked upload does
 * not stop the upload from finishing through the others. Run twice: with the metadata on the
 * bucket (embedded), and in PostgreSQL (scripts/postgres.sh) with online garbage collection
 * running in the replicas' background and during pushes.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadTokenSigningKey } from '../../src/registry/index.js';
import type { CephS3 } from '../helpers/ceph.js';
import { cephMissing, startCephS3 } from '../helpers/ceph.js';
import { nv2, ok, skopeo } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import type { Balancer } from '../helpers/nginx.js';
import { nginxMissing, startBalancer } from '../helpers/nginx.js';
import { writeImageLayout } from '../helpers/oci-layout.js';
import { postgresMissing, startPostgres } from '../helpers/postgres.js';
import { type ServeProcess, serve } from '../helpers/serve.js';
import { onlineGcDuringPushes } from './registry-replicas-gc.js';

const PASSWORD = 'wes-Secret-1';
const CREDS = `wes:${PASSWORD}`;
const skip = cephMissing() ?? nginxMissing();

/** A bearer token for `scope` from the registry at `base` (any replica: the key is shared). */
async function token(base: string, scope: string): Promise<string> {
  const challenge = await fetch(`${base}/v2/`);
  await challenge.arrayBuffer();
  const header = challenge.headers.get('www-authenticate') ?? '';
  const realm = /realm="([^"]+)"/.exec(header)![1]!;
  const service = /service="([^"]+)"/.exec(header)![1]!;
  const url = `${realm}?service=${encodeURIComponent(service)}&scope=${encodeURIComponent(scope)}`;
  const res = await fetch(url, {
    headers: { Authorization: `Basic ${Buffer.from(CREDS).toString('base64')}` },
  });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { token: string }).token;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The replicas share the bucket only (embedded metadata), or the bucket and a database. */
type Mode = 'bucket' | 'database';

/** Online collection in the replicas' background: often, but never younger than this. */
const GRACE_SECONDS = 8;

function replicaSuite(mode: Mode): void {
  describe(
    `registry replicas on one bucket${mode === 'database' ? ' and one PostgreSQL database' : ''} behind nginx`,
    { skip: mode === 'database' ? (skip ?? postgresMissing()) : skip },
    () => {
      let ceph: CephS3;
      let dir: string;
      let replicas: ServeProcess[] = [];
      let balancer: Balancer;
      let cert: string;
      let key: string;

      before(async () => {
        ceph = await startCephS3();
        const bucket = await ceph.newBucket();
        dir = await tempDir();
        process.env['DOCKER_CONFIG'] = await tempDir();
        await loadTokenSigningKey(join(dir, 'token-key.pem'), { create: true });
        const database =
          mode === 'database' ? await (await startPostgres()).newDatabase() : undefined;
        const config = (redirect: boolean) =>
          [
            'storage:',
            '  s3:',
            `    bucket: ${bucket}`,
            `    endpoint: ${ceph.endpoint}`,
            `    region: ${ceph.region}`,
            '    forcePathStyle: true',
            `    accessKey: ${ceph.credentials.accessKeyId}`,
            `    secretKey: ${ceph.credentials.secretAccessKey}`,
            '    rootDirectory: registry',
            `    redirect: ${redirect}`,
            ...(database !== undefined
              ? [
                  '  metadata:',
                  '    database:',
                  `      url: ${database}`,
                  '      poolSize: 4',
                  '    gc:',
                  '      intervalSeconds: 1',
                  `      graceSeconds: ${GRACE_SECONDS}`,
                ]
              : []),
            'auth:',
            '  mode: token',
            `  htpasswd: ${join(dir, 'htpasswd')}`,
            '  token:',
            `    key: ${join(dir, 'token-key.pem')}`,
            '  rules:',
            '    - repositories: ["acme/*"]',
            '      users: [wes]',
            '      roles: [admin]',
            '',
          ].join('\n');
        // Two replicas redirect blob downloads to the store, one streams them.
        await writeFile(join(dir, 'redirect.yaml'), config(true));
        await writeFile(join(dir, 'stream.yaml'), config(false));
        ok(
          await nv2(['registry', 'user', 'add', 'wes', '--config', join(dir, 'stream.yaml')], {
            stdin: `${PASSWORD}\n`,
          }),
          'user add',
        );
        if (database !== undefined) {
          // Two at once: the advisory lock makes one wait and then find nothing to do.
          await Promise.all(
            ['redirect.yaml', 'stream.yaml'].map(async (file) =>
              ok(await nv2(['registry', 'migrate', '--config', join(dir, file)]), 'migrate'),
            ),
          );
        }
        replicas = await Promise.all(
          ['redirect.yaml', 'redirect.yaml', 'stream.yaml'].map((file) =>
            serve(undefined, ['--config', join(dir, file)]),
          ),
        );
        balancer = await startBalancer(replicas.map((replica) => replica.host));
        ok(await nv2(['cert', 'generate', '--cn', '127.0.0.1', '--out-dir', dir]), 'cert');
        key = join(dir, '127.0.0.1.key');
        cert = join(dir, '127.0.0.1.crt');
      });

      after(async () => {
        await balancer?.stop();
        await Promise.all(replicas.map((replica) => replica.stop()));
        ceph?.client.destroy();
      });

      it('skopeo pushes through the balancer, nv2 signs, another client pulls and verifies', async () => {
        const image = await tempDir();
        await writeImageLayout(image, { tag: 'v1', layers: 4, layerSize: 3 * 1024 * 1024 });
        const ref = `${balancer.host}/acme/app:v1`;
        ok(
          await skopeo(
            'copy',
            '--dest-tls-verify=false',
            '--dest-creds',
            CREDS,
            `oci:${image}:v1`,
            `docker://${ref}`,
          ),
          'skopeo push',
        );
        // The requests of each upload were spread over the replicas.
        const uploads = (await balancer.accessLog()).filter((line) =>
          / \/v2\/acme\/app\/blobs\/uploads\//.test(line),
        );
        const upstreams = new Set(uploads.map((line) => line.split(' ')[2]));
        assert.equal(upstreams.size, 3, uploads.join('\n'));

        ok(
          await nv2(['login', balancer.host, '-u', 'wes', '--password-stdin'], {
            stdin: `${PASSWORD}\n`,
          }),
          'login',
        );
        ok(await nv2(['sign', '-k', key, '-c', cert, '-r', ref, ref]), 'sign');
        // Another client: skopeo pulls (blobs redirected to the store or streamed by a replica)...
        const pulled = await tempDir();
        ok(
          await skopeo(
            'copy',
            '--src-tls-verify=false',
            '--src-creds',
            CREDS,
            `docker://${ref}`,
            `oci:${pulled}:v1`,
          ),
          'skopeo pull',
        );
        // ... and nv2 verifies, each of its requests answered by the next replica.
        for (let i = 0; i < 3; i++) ok(await nv2(['verify', '-c', cert, ref]), `verify ${i}`);
      });

      it('a blob GET is redirected to a presigned URL of the store, or streamed, per replica config', async () => {
        const data = randomBytes(200_000);
        const digest = sha256(data);
        const bearer = await token(replicas[0]!.url, 'repository:acme/blob:pull,push');
        const auth = { Authorization: `Bearer ${bearer}` };
        const put = await fetch(
          `${replicas[0]!.url}/v2/acme/blob/blobs/uploads/?digest=${encodeURIComponent(digest)}`,
          {
            method: 'POST',
            headers: { ...auth, 'Content-Type': 'application/octet-stream' },
            body: data,
          },
        );
        assert.equal(put.status, 201, await put.text());
        const redirected = await fetch(`${replicas[1]!.url}/v2/acme/blob/blobs/${digest}`, {
          headers: auth,
          redirect: 'manual',
        });
        assert.equal(redirected.status, 307);
        const location = redirected.headers.get('location')!;
        assert.ok(location.startsWith(`${ceph.endpoint}/`), location);
        const direct = await fetch(location);
        assert.equal(direct.status, 200);
        assert.equal(sha256(Buffer.from(await direct.arrayBuffer())), digest);
        const streamed = await fetch(`${replicas[2]!.url}/v2/acme/blob/blobs/${digest}`, {
          headers: auth,
          redirect: 'manual',
        });
        assert.equal(streamed.status, 200);
        assert.equal(sha256(Buffer.from(await streamed.arrayBuffer())), digest);
      });

      it('a tag moved on one replica is read back at once from the others', async () => {
        const bearer = await token(replicas[0]!.url, 'repository:acme/moving:pull,push,delete');
        const auth = { Authorization: `Bearer ${bearer}` };
        const config = Buffer.from('{}');
        const configDigest = sha256(config);
        const blob = await fetch(
          `${replicas[0]!.url}/v2/acme/moving/blobs/uploads/?digest=${encodeURIComponent(configDigest)}`,
          { method: 'POST', headers: auth, body: config },
        );
        assert.equal(blob.status, 201);
        const manifests = [1, 2, 3, 4].map((n) =>
          Buffer.from(
            JSON.stringify({
              schemaVersion: 2,
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              config: {
                mediaType: 'application/vnd.oci.empty.v1+json',
                digest: configDigest,
                size: config.length,
              },
              layers: [],
              annotations: { n: String(n) },
            }),
          ),
        );
        for (const [i, manifest] of manifests.entries()) {
          const writer = replicas[i % 3]!;
          const res = await fetch(`${writer.url}/v2/acme/moving/manifests/latest`, {
            method: 'PUT',
            headers: { ...auth, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
            body: manifest,
          });
          assert.equal(res.status, 201, await res.text());
          for (const reader of replicas) {
            const got = await fetch(`${reader.url}/v2/acme/moving/manifests/latest`, {
              headers: { ...auth, Accept: 'application/vnd.oci.image.manifest.v1+json' },
            });
            assert.equal(got.status, 200);
            assert.equal(got.headers.get('docker-content-digest'), sha256(manifest));
            await got.arrayBuffer();
            const tags = await fetch(`${reader.url}/v2/acme/moving/tags/list`, { headers: auth });
            assert.deepEqual(((await tags.json()) as { tags: string[] }).tags, ['latest']);
          }
        }
        const deleted = await fetch(`${replicas[1]!.url}/v2/acme/moving/manifests/latest`, {
          method: 'DELETE',
          headers: auth,
        });
        assert.equal(deleted.status, 202);
        for (const reader of replicas) {
          const got = await fetch(`${reader.url}/v2/acme/moving/manifests/latest`, {
            headers: auth,
          });
          assert.equal(got.status, 404);
          await got.arrayBuffer();
        }
      });

      it('a chunked upload survives a replica killed with SIGKILL in the middle', async () => {
        const base = `http://${balancer.host}`;
        const bearer = await token(base, 'repository:acme/chunked:pull,push');
        const auth = { Authorization: `Bearer ${bearer}` };
        const chunks = Array.from({ length: 6 }, () => randomBytes(6 * 1024 * 1024 + 12345));
        const whole = Buffer.concat(chunks);
        const digest = sha256(whole);
        const start = await fetch(`${base}/v2/acme/chunked/blobs/uploads/`, {
          method: 'POST',
          headers: auth,
        });
        assert.equal(start.status, 202);
        let location = new URL(start.headers.get('location')!, base).toString();
        let offset = 0;
        for (const [i, chunk] of chunks.entries()) {
          if (i === 3) await replicas[2]!.kill(); // half-way: one replica dies
          const res = await fetch(location, {
            method: 'PATCH',
            headers: {
              ...auth,
              'Content-Type': 'application/octet-stream',
              'Content-Range': `${offset}-${offset + chunk.length - 1}`,
            },
            body: chunk,
          });
          assert.equal(res.status, 202, `chunk ${i}: ${await res.text()}`);
          offset += chunk.length;
          assert.equal(res.headers.get('range'), `0-${offset - 1}`);
          location = new URL(res.headers.get('location')!, base).toString();
        }
        const separator = location.includes('?') ? '&' : '?';
        const done = await fetch(`${location}${separator}digest=${encodeURIComponent(digest)}`, {
          method: 'PUT',
          headers: auth,
        });
        assert.equal(done.status, 201, await done.text());
        for (const replica of replicas.slice(0, 2)) {
          const got = await fetch(`${replica.url}/v2/acme/chunked/blobs/${digest}`, {
            method: 'HEAD',
            headers: auth,
          });
          assert.equal(got.status, 200);
          assert.equal(got.headers.get('content-length'), String(whole.length));
        }
        const pulled = await fetch(`${base}/v2/acme/chunked/blobs/${digest}`, { headers: auth });
        assert.equal(pulled.status, 200);
        assert.equal(sha256(Buffer.from(await pulled.arrayBuffer())), digest);
      });

      it(
        'online gc runs during pushes and loses nothing referenced',
        { skip: mode !== 'database' },
        async () => {
          await onlineGcDuringPushes({
            // Without the one killed above.
            replicas: replicas.filter(
              (r) => r.child.exitCode === null && r.child.signalCode === null,
            ),
            base: `http://${balancer.host}`,
            config: join(dir, 'stream.yaml'),
            graceSeconds: GRACE_SECONDS,
            token,
          });
        },
      );

      it(
        'offline gc over the bucket, replicas stopped, keeps the signed image and frees the rest',
        { skip: mode !== 'bucket' },
        async () => {
          await balancer.stop();
          await Promise.all(replicas.map((replica) => replica.stop()));
          const config = join(dir, 'stream.yaml');
          const gc = ok(
            await nv2([
              'registry',
              'gc',
              '--config',
              config,
              '--delete-untagged',
              '--output',
              'json',
            ]),
            'gc',
          );
          const report = JSON.parse(gc.stdout) as Record<string, number>;
          // The four manifests of acme/moving lost their tag; the chunked and single blobs are named
          // by no manifest.
          assert.equal(report['manifestsDeleted'], 4);
          assert.ok(report['blobsDeleted']! >= 2, gc.stdout);
          const again = JSON.parse(
            ok(await nv2(['registry', 'gc', '--config', config, '--output', 'json']), 'gc again')
              .stdout,
          ) as Record<string, number>;
          assert.equal(again['blobsDeleted'], 0);
          const replica = await serve(undefined, ['--config', config]);
          replicas = [replica];
          // The signed image is whole: manifest, config, layers, and its signature as a referrer.
          const auth = {
            Authorization: `Bearer ${await token(replica.url, 'repository:acme/app:pull')}`,
          };
          const got = await fetch(`${replica.url}/v2/acme/app/manifests/v1`, {
            headers: { ...auth, Accept: 'application/vnd.oci.image.manifest.v1+json' },
          });
          assert.equal(got.status, 200);
          const digest = got.headers.get('docker-content-digest')!;
          const manifest = (await got.json()) as {
            config: { digest: string };
            layers: { digest: string }[];
          };
          assert.equal(manifest.layers.length, 4);
          for (const blob of [manifest.config, ...manifest.layers]) {
            const head = await fetch(`${replica.url}/v2/acme/app/blobs/${blob.digest}`, {
              method: 'HEAD',
              headers: auth,
            });
            assert.equal(head.status, 200, blob.digest);
          }
          const referrers = await fetch(`${replica.url}/v2/acme/app/referrers/${digest}`, {
            headers: auth,
          });
          const index = (await referrers.json()) as { manifests: { digest: string }[] };
          assert.equal(index.manifests.length, 1);
          const signature = await fetch(
            `${replica.url}/v2/acme/app/manifests/${index.manifests[0]!.digest}`,
            {
              method: 'HEAD',
              headers: { ...auth, Accept: 'application/vnd.oci.image.manifest.v1+json' },
            },
          );
          assert.equal(signature.status, 200);
        },
      );
    },
  );
}

replicaSuite('bucket');
replicaSuite('database');
