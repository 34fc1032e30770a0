/**
 * The metadata contract (test/suites/metadata-store.ts) against both implementations: the
 * embedded store over the memory driver, and PostgreSQL (a real server, scripts/postgres.sh)
 * with blobs on the filesystem driver.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { Digest } from '../../src/oci/index.js';
import { MediaTypes, digestOf } from '../../src/oci/index.js';
import type { StorageDriver } from '../../src/registry/storage/index.js';
import type { RegistryStore } from '../../src/registry/storage/store.js';
import { blobDataPath } from '../../src/registry/storage/paths.js';
import { createFilesystemDriver, createMemoryDriver } from '../../src/registry/storage/index.js';
import { createStore } from '../../src/registry/storage/create-store.js';
import {
  SCHEMA_VERSION,
  checkSchema,
  collectGarbageOnline,
  createPool,
  createPostgresStore,
  migrate,
} from '../../src/registry/postgres/index.js';
import type pg from 'pg';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nv2, ok } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { serve } from '../helpers/serve.js';
import { postgresMissing, startPostgres } from '../helpers/postgres.js';
import { describeMetadataStore } from '../suites/metadata-store.js';

describeMetadataStore('embedded', async () => createStore(createMemoryDriver()));

/** The config blob of every test image. */
const CONFIG = Buffer.from('{}');

/** Uploads `bytes` as a blob of `repo` in one request; returns its digest. */
async function putBytes(store: RegistryStore, repo: string, bytes: Buffer): Promise<Digest> {
  await store.uploads.putBlob(
    repo,
    digestOf(bytes),
    (async function* () {
      yield bytes;
    })(),
  );
  return digestOf(bytes);
}

/** An image manifest of CONFIG and `layer`, optionally with the manifest `subject` as subject. */
function imageOf(layer: Buffer, subject?: Buffer): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociEmpty, digest: digestOf(CONFIG), size: CONFIG.length },
      layers: [
        { mediaType: 'application/octet-stream', digest: digestOf(layer), size: layer.length },
      ],
      ...(subject !== undefined
        ? {
            subject: {
              mediaType: MediaTypes.ociManifest,
              digest: digestOf(subject),
              size: subject.length,
            },
          }
        : {}),
    }),
  );
}

/** The blobs an image of `imageOf` names. */
function blobsOf(manifest: Buffer): Digest[] {
  const facts = JSON.parse(manifest.toString()) as {
    config: { digest: Digest };
    layers: { digest: Digest }[];
  };
  return [facts.config.digest, ...facts.layers.map((l) => l.digest)];
}

const pools: pg.Pool[] = [];
after(() => Promise.all(pools.map((p) => p.end())));

describe('PostgreSQL metadata', { skip: postgresMissing() }, () => {
  describeMetadataStore('postgres', async () => {
    const server = await startPostgres();
    const pool = createPool({ url: await server.newDatabase(), poolSize: 8 });
    pools.push(pool);
    await migrate(pool);
    return createPostgresStore(createFilesystemDriver({ root: await tempDir() }), pool);
  });
});

describe(
  'PostgreSQL metadata: schema and online garbage collection',
  { skip: postgresMissing() },
  () => {
    async function fresh(): Promise<{ pool: pg.Pool; driver: StorageDriver; url: string }> {
      const url = await (await startPostgres()).newDatabase();
      const pool = createPool({ url, poolSize: 8 });
      pools.push(pool);
      return { pool, driver: createFilesystemDriver({ root: await tempDir() }), url };
    }

    it('migrate: a new database is refused until migrated; two at once apply each step once', async () => {
      const { pool } = await fresh();
      await assert.rejects(checkSchema(pool), {
        code: 'NV2_ERR_STORAGE_SCHEMA',
        message: /behind .*nv2 registry migrate/,
      });
      const results = await Promise.all([migrate(pool), migrate(pool), migrate(pool)]);
      assert.deepEqual(results.map((r) => r.applied.length).sort(), [0, 0, SCHEMA_VERSION]);
      await checkSchema(pool);
      const { rows } = await pool.query('SELECT version FROM schema_migrations');
      assert.equal(rows.length, SCHEMA_VERSION);
      // A schema newer than this nv2 is refused too.
      await pool.query("INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')");
      await assert.rejects(checkSchema(pool), { code: 'NV2_ERR_STORAGE_SCHEMA', message: /newer/ });
    });

    it('nv2 registry serve refuses a schema that is behind in one line; migrate, then it serves', async () => {
      const { url } = await fresh();
      const dir = await tempDir();
      const config = join(dir, 'registry.yaml');
      await writeFile(
        config,
        `storage:\n  filesystem:\n    root: ${join(dir, 'root')}\n  metadata:\n    database:\n      url: ${url}\n`,
      );
      const refused = await nv2(['registry', 'serve', '--addr', '127.0.0.1:0', '--config', config]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /NV2_ERR_STORAGE_SCHEMA: .*nv2 registry migrate/);
      assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
      const migrated = ok(await nv2(['registry', 'migrate', '--config', config]), 'migrate');
      assert.match(migrated.stdout, /^applied 1: /m);
      const again = ok(
        await nv2(['registry', 'migrate', '--config', config, '--output', 'json']),
        'migrate again',
      );
      assert.deepEqual(JSON.parse(again.stdout), { applied: [], version: SCHEMA_VERSION });
      const server = await serve(undefined, ['--config', config]);
      try {
        assert.equal(server.logs[0]?.['metadata'], 'postgres');
        const res = await fetch(`${server.url}/v2/_catalog`);
        assert.deepEqual(await res.json(), { repositories: [] });
      } finally {
        await server.stop();
      }
      const unreachable = join(dir, 'unreachable.yaml');
      await writeFile(
        unreachable,
        'storage:\n  filesystem:\n    root: /nonexistent\n  metadata:\n    database:\n      url: postgres://nobody@127.0.0.1:9/x\n',
      );
      const down = await nv2(['registry', 'migrate', '--config', unreachable]);
      assert.notEqual(down.code, 0);
      assert.match(down.stderr, /NV2_ERR_STORAGE_DATABASE/);
      assert.equal(down.stderr.trim().split('\n').length, 1, down.stderr);
    });

    it('online gc: untagged manifests, their signatures, unused links and blobs go; referenced stay', async () => {
      const { pool, driver } = await fresh();
      await migrate(pool);
      const store = createPostgresStore(driver, pool);
      const push = (bytes: Buffer): Promise<Digest> => putBytes(store, 'gc/repo', bytes);
      const manifest = async (layer: Buffer, subject?: Buffer): Promise<Buffer> => {
        await push(CONFIG);
        await push(layer);
        return imageOf(layer, subject);
      };
      const kept = await manifest(randomBytes(100));
      await store.manifests.put('gc/repo', 'v1', kept, MediaTypes.ociManifest);
      const keptSignature = await manifest(randomBytes(100), kept);
      await store.manifests.put(
        'gc/repo',
        digestOf(keptSignature),
        keptSignature,
        MediaTypes.ociManifest,
      );
      const goneLayer = randomBytes(100);
      const gone = await manifest(goneLayer);
      await store.manifests.put('gc/repo', digestOf(gone), gone, MediaTypes.ociManifest);
      const goneSignature = await manifest(randomBytes(100), gone);
      await store.manifests.put(
        'gc/repo',
        digestOf(goneSignature),
        goneSignature,
        MediaTypes.ociManifest,
      );
      const orphan = await push(randomBytes(100));

      // Everything is younger than an hour: nothing goes.
      const early = await collectGarbageOnline(pool, driver, { graceSeconds: 3600 });
      assert.deepEqual(early, { skipped: false, manifests: 0, links: 0, blobs: 0, bytes: 0 });

      const report = await collectGarbageOnline(pool, driver, { graceSeconds: 0 });
      assert.equal(report.manifests, 2);
      assert.ok(report.blobs >= 4, JSON.stringify(report)); // goneLayer, orphan, two manifests' bytes
      assert.equal(await store.manifests.get('gc/repo', digestOf(gone)), undefined);
      assert.equal(await store.manifests.get('gc/repo', digestOf(goneSignature)), undefined);
      assert.equal(await store.blobs.stat('gc/repo', orphan), undefined);
      assert.equal(await store.blobs.stat('gc/repo', digestOf(goneLayer)), undefined);
      await assert.rejects(driver.stat(blobDataPath(orphan)), {
        code: 'NV2_ERR_STORAGE_NOT_FOUND',
      });
      // The tagged image, its blobs and its signature stay.
      assert.ok(await store.manifests.get('gc/repo', 'v1'));
      assert.ok(await store.manifests.get('gc/repo', digestOf(keptSignature)));
      for (const d of blobsOf(kept)) {
        assert.ok(await store.blobs.stat('gc/repo', d), d);
        await driver.stat(blobDataPath(d));
      }
      // A manifest naming a collected blob is refused; re-uploading the blob makes it whole.
      await assert.rejects(store.manifests.put('gc/repo', 'again', gone, MediaTypes.ociManifest), {
        code: 'MANIFEST_BLOB_UNKNOWN',
      });
      await push(goneLayer);
      await store.manifests.put('gc/repo', 'again', gone, MediaTypes.ociManifest);
      assert.deepEqual((await store.manifests.get('gc/repo', 'again'))?.content, gone);

      // Another collector holding the lock: this one skips.
      const holder = await pool.connect();
      try {
        await holder.query('SELECT pg_advisory_lock(474429417315)');
        assert.equal((await collectGarbageOnline(pool, driver, { graceSeconds: 0 })).skipped, true);
      } finally {
        holder.release(true);
      }
    });

    it('online gc racing manifest pushes: every acknowledged push stays whole', async () => {
      const { pool, driver } = await fresh();
      await migrate(pool);
      const store = createPostgresStore(driver, pool);
      const pushed: Buffer[] = [];
      let refused = 0;
      const pushes = (async () => {
        for (let i = 0; i < 30; i++) {
          const layer = randomBytes(64);
          const m = imageOf(layer);
          try {
            for (const b of [CONFIG, layer]) await putBytes(store, 'race/repo', b);
            await store.manifests.put('race/repo', `t${i}`, m, MediaTypes.ociManifest);
            pushed.push(m);
          } catch (err) {
            // With no grace at all the collector may win: the upload or the manifest is
            // refused (the client pushes again), never half-kept.
            assert.ok(
              ['MANIFEST_BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID'].includes(
                (err as { code?: string }).code ?? '',
              ),
              String(err),
            );
            refused += 1;
          }
        }
      })();
      const collections = (async () => {
        for (let i = 0; i < 30; i++) await collectGarbageOnline(pool, driver, { graceSeconds: 0 });
      })();
      await Promise.all([pushes, collections]);
      await collectGarbageOnline(pool, driver, { graceSeconds: 0 });
      assert.equal(pushed.length + refused, 30);
      for (const m of pushed) {
        for (const d of blobsOf(m)) {
          assert.ok(await store.blobs.stat('race/repo', d), d);
          await driver.stat(blobDataPath(d));
        }
      }
    });
  },
);
