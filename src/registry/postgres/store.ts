import type pg from 'pg';
import type { Digest } from '../../oci/index.js';
import { MAX_MANIFEST_BYTES } from '../../oci/index.js';
import { createBlobStore, exists } from '../storage/blobs.js';
import { createStoreCaches } from '../storage/caches.js';
import { checkPageSize } from '../storage/catalog.js';
import type { StorageDriver } from '../storage/driver.js';
import type { StoreOptions } from '../storage/create-store.js';
import { blobDataPath } from '../storage/paths.js';
import type { BlobInfo, RegistryStore } from '../storage/store.js';
import { RegistryError } from '../storage/store.js';
import { createUploadStore } from '../storage/uploads.js';
import { ensureRepository, query, transaction } from './database.js';
import { createPostgresManifestStore } from './manifests.js';

/**
 * The registry's storage layer with its metadata in PostgreSQL (schema.ts) and the bytes of
 * blobs in a storage driver (S3 or a filesystem). Every replica of a registry connects to
 * one database, so what one replica acknowledges every other reads on its next request:
 * nothing that can change is cached in the process.
 *
 * Writes that change several rows are one transaction: a manifest PUT (its bytes' blob row,
 * the manifest, what it references, its tag), a tag move, a delete. Online garbage collection
 * (gc.ts) locks a blob's row before it decides; a PUT that references the blob locks the
 * same rows (`FOR SHARE`), so one of the two waits for the other and sees what it did.
 */

/**
 * Creates the PostgreSQL-backed store over `pool` (schema checked by the caller) and
 * `driver` (the blobs' bytes).
 *
 * @example
 * const pool = createPool({ url: 'postgres://registry@db/registry' });
 * await checkSchema(pool);
 * const store = createPostgresStore(driver, pool);
 */
export function createPostgresStore(
  driver: StorageDriver,
  pool: pg.Pool,
  options: StoreOptions = {},
): RegistryStore {
  const maxBytes = options.manifests?.maxManifestBytes ?? MAX_MANIFEST_BYTES;

  async function linked(repo: string, digest: Digest): Promise<BlobInfo | undefined> {
    const { rows } = await query<{ size: string }>(
      pool,
      `SELECT b.size FROM blobs b WHERE b.digest = $2 AND b.size IS NOT NULL AND (
         EXISTS (SELECT 1 FROM blob_links l WHERE l.repository = $1 AND l.digest = $2) OR
         EXISTS (SELECT 1 FROM manifests m WHERE m.repository = $1 AND m.digest = $2))`,
      [repo, digest],
      'nv2_linked_blob',
    );
    return rows[0] === undefined ? undefined : { digest, size: Number(rows[0].size) };
  }

  /** Records a committed upload: the blob (with its size, pushed now) and its link. */
  function link(repo: string, digest: Digest, size: number): Promise<void> {
    return transaction(pool, async (client) => {
      await ensureRepository(client, repo);
      await client.query(
        `INSERT INTO blobs (digest, size) VALUES ($1, $2)
         ON CONFLICT (digest) DO UPDATE SET size = $2, pushed_at = now()`,
        [digest, size],
      );
      // The row is locked from here on. A collection that ran between the upload's start of
      // commit and here (only possible with a grace period shorter than that) took the bytes.
      if (!(await exists(driver, blobDataPath(digest)))) {
        throw new RegistryError(
          'BLOB_UPLOAD_INVALID',
          'the blob was garbage-collected while its upload finished: upload it again',
          { digest },
        );
      }
      await client.query(
        `INSERT INTO blob_links (repository, digest) VALUES ($1, $2)
         ON CONFLICT (repository, digest) DO UPDATE SET linked_at = now()`,
        [repo, digest],
      );
    });
  }

  /**
   * Marks `digest` as being pushed now, before its bytes are published: garbage collection
   * then leaves it alone for its grace period, or (holding its row) finishes first.
   */
  async function touchBlob(digest: Digest): Promise<void> {
    await query(
      pool,
      `INSERT INTO blobs (digest) VALUES ($1) ON CONFLICT (digest) DO UPDATE SET pushed_at = now()`,
      [digest],
    );
  }

  // Only the driver's content-addressed facts, upload hashes and locks are used here: links
  // and tags live in the database, and nothing that can change is cached (caches.ts).
  const caches = options.caches ?? createStoreCaches(driver);
  const driverBlobs = createBlobStore(driver, caches, { ...options.blobs, linked });
  const driverUploads = createUploadStore(driver, caches, { ...options.uploads, link });

  return {
    blobs: {
      ...driverBlobs,
      async mount(repo, digest, from) {
        return transaction(pool, async (client) => {
          // Locks the blob's row: a collection deciding about it finishes first, or waits.
          const { rows } = await client.query<{ size: string }>(
            `SELECT b.size FROM blobs b WHERE b.digest = $2 AND b.size IS NOT NULL AND (
               EXISTS (SELECT 1 FROM blob_links l WHERE l.repository = $1 AND l.digest = $2) OR
               EXISTS (SELECT 1 FROM manifests m WHERE m.repository = $1 AND m.digest = $2))
             FOR SHARE OF b`,
            [from, digest],
          );
          if (rows[0] === undefined) return undefined;
          if (from !== repo) {
            await ensureRepository(client, repo);
            await client.query(
              `INSERT INTO blob_links (repository, digest) VALUES ($1, $2)
               ON CONFLICT (repository, digest) DO UPDATE SET linked_at = now()`,
              [repo, digest],
            );
          }
          return { digest, size: Number(rows[0].size) };
        });
      },
      async delete(repo, digest) {
        const { rowCount } = await query(
          pool,
          'DELETE FROM blob_links WHERE repository = $1 AND digest = $2',
          [repo, digest],
        );
        return (rowCount ?? 0) > 0;
      },
    },

    uploads: {
      async start(repo) {
        const session = await driverUploads.start(repo);
        await transaction(pool, async (client) => {
          await ensureRepository(client, repo);
          await client.query(
            'INSERT INTO uploads (id, repository, started_at) VALUES ($1, $2, $3)',
            [session.id, repo, session.startedAt],
          );
        });
        return session;
      },
      get: (repo, id) => driverUploads.get(repo, id),
      append: (repo, id, body, appendOptions) =>
        driverUploads.append(repo, id, body, appendOptions),
      async commit(repo, id, digest, finalChunk, commitOptions) {
        await touchBlob(digest);
        const info = await driverUploads.commit(repo, id, digest, finalChunk, commitOptions);
        await forgetUpload(id);
        return info;
      },
      async cancel(repo, id) {
        const cancelled = await driverUploads.cancel(repo, id);
        await forgetUpload(id);
        return cancelled;
      },
      async putBlob(repo, digest, body, putOptions) {
        await touchBlob(digest);
        return driverUploads.putBlob(repo, digest, body, putOptions);
      },
      async purge(before) {
        const removed = await driverUploads.purge(before);
        await query(pool, 'DELETE FROM uploads WHERE started_at < $1', [before]);
        return removed;
      },
    },

    manifests: createPostgresManifestStore(driver, pool, maxBytes),

    tags: {
      async list(repo, pageOptions = {}) {
        checkPageSize(pageOptions.n);
        const { n, last } = pageOptions;
        const { rows } =
          n === 0
            ? { rows: [] }
            : await query<{ name: string }>(
                pool,
                `SELECT name FROM tags WHERE repository = $1 AND ($2::text IS NULL OR name > $2)
                 ORDER BY name LIMIT $3`,
                [repo, last ?? null, n === undefined ? null : n + 1],
              );
        if (rows.length === 0) {
          const known = await query(pool, 'SELECT 1 FROM repositories WHERE name = $1', [repo]);
          if (known.rows.length === 0) {
            throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', {
              name: repo,
            });
          }
        }
        const more = n !== undefined && rows.length > n;
        return { tags: rows.slice(0, n).map((r) => r.name), more };
      },
      async resolve(repo, tag) {
        const { rows } = await query<{ digest: Digest }>(
          pool,
          'SELECT digest FROM tags WHERE repository = $1 AND name = $2',
          [repo, tag],
        );
        return rows[0]?.digest;
      },
    },

    referrers: {
      async list(repo, subject, listOptions = {}) {
        const { rows } = await query<ReferrerRow>(
          pool,
          `SELECT digest, media_type, size, referrer_type, annotations FROM manifests
           WHERE repository = $1 AND subject = $2 AND ($3::text IS NULL OR referrer_type = $3)
           ORDER BY digest`,
          [repo, subject, listOptions.artifactType ?? null],
          'nv2_referrers',
        );
        return rows.map((r) => ({
          mediaType: r.media_type,
          digest: r.digest as Digest,
          size: Number(r.size),
          ...(r.referrer_type !== null ? { artifactType: r.referrer_type } : {}),
          ...(r.annotations !== null ? { annotations: r.annotations } : {}),
        }));
      },
    },

    catalog: {
      async list(pageOptions = {}) {
        checkPageSize(pageOptions.n);
        const { n, last } = pageOptions;
        if (n === 0) return { repositories: [], more: false };
        const { rows } = await query<{ name: string }>(
          pool,
          `SELECT name FROM repositories WHERE ($1::text IS NULL OR name > $1)
           ORDER BY name LIMIT $2`,
          [last ?? null, n === undefined ? null : n + 1],
        );
        const more = n !== undefined && rows.length > n;
        return { repositories: rows.slice(0, n).map((r) => r.name), more };
      },
    },
  };

  async function forgetUpload(id: string): Promise<void> {
    await query(pool, 'DELETE FROM uploads WHERE id = $1', [id]);
  }
}

interface ReferrerRow {
  readonly digest: string;
  readonly media_type: string;
  readonly size: string;
  readonly referrer_type: string | null;
  readonly annotations: Record<string, string> | null;
}
