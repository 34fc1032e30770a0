import type pg from 'pg';
import type { Descriptor, Digest } from '../../oci/index.js';
import { isDigest, isTag, referrerDescriptor } from '../../oci/index.js';
import { exists } from '../storage/blobs.js';
import type { StorageDriver } from '../storage/driver.js';
import { checkManifestPush, isForeignLayer } from '../storage/manifest-validation.js';
import { blobDataPath } from '../storage/paths.js';
import type { ManifestStore, StoredManifest } from '../storage/store.js';
import { RegistryError } from '../storage/store.js';
import { ensureRepository, query, transaction } from './database.js';

/**
 * Manifests in the PostgreSQL metadata database (part of `createPostgresStore`): a push is
 * one transaction (its bytes' blob row, the references it names, the manifest, its tag);
 * reads ask the database which digest a reference names on every request, and take what the
 * digest's bytes say from a cache by digest.
 */

/** The manifest store over `pool`, the manifests' bytes also written to `driver` as blobs. */
export function createPostgresManifestStore(
  driver: StorageDriver,
  pool: pg.Pool,
  maxBytes: number,
): ManifestStore {
  /** A manifest row as StoredManifest. */
  function storedManifest(row: ManifestRow): StoredManifest {
    const descriptor: Descriptor = {
      mediaType: row.media_type,
      digest: row.digest as Digest,
      size: Number(row.size),
      ...(row.artifact_type !== null ? { artifactType: row.artifact_type } : {}),
      ...(row.annotations !== null ? { annotations: row.annotations } : {}),
    };
    return {
      descriptor,
      content: row.content ?? Buffer.alloc(0),
      ...(row.subject_descriptor !== null ? { subject: row.subject_descriptor } : {}),
    };
  }

  /**
   * Manifests by digest, as read: what a digest's bytes say never changes, so only which
   * digest a reference names is asked of the database on every request.
   */
  const manifestsByDigest = new Map<string, StoredManifest>();
  let cachedBytes = 0;

  async function loadManifest(
    repo: string,
    reference: string,
    withContent: boolean,
  ): Promise<StoredManifest | undefined> {
    let digest: string | undefined;
    if (isDigest(reference)) {
      const { rows } = await query<{ digest: string }>(
        pool,
        'SELECT digest FROM manifests WHERE repository = $1 AND digest = $2',
        [repo, reference],
        'nv2_manifest_by_digest',
      );
      digest = rows[0]?.digest;
    } else if (isTag(reference)) {
      // The tag's row references the manifest's (foreign key): the tag names a stored manifest.
      const { rows } = await query<{ digest: string }>(
        pool,
        'SELECT digest FROM tags WHERE repository = $1 AND name = $2',
        [repo, reference],
        'nv2_manifest_by_tag',
      );
      digest = rows[0]?.digest;
    }
    if (digest === undefined) return undefined;
    const known = manifestsByDigest.get(digest);
    if (known !== undefined) {
      // Most recently used last: the oldest entry is the first one evicted.
      manifestsByDigest.delete(digest);
      manifestsByDigest.set(digest, known);
      return known;
    }
    const columns = `digest, media_type, size, artifact_type, annotations, subject_descriptor${withContent ? ', content' : ''}`;
    const { rows } = await query<ManifestRow>(
      pool,
      `SELECT ${columns} FROM manifests WHERE repository = $1 AND digest = $2`,
      [repo, digest],
    );
    const row = rows[0];
    if (row === undefined) return undefined; // deleted meanwhile
    const stored = storedManifest(row);
    if (withContent) {
      manifestsByDigest.set(digest, stored);
      cachedBytes += stored.content.byteLength;
      for (const [oldest, entry] of manifestsByDigest) {
        if (cachedBytes <= MANIFEST_CACHE_BYTES) break;
        manifestsByDigest.delete(oldest);
        cachedBytes -= entry.content.byteLength;
      }
    }
    return stored;
  }

  return {
    async put(repo, reference, content, contentType) {
      const { manifest, digest, descriptor, referenceIsDigest } = checkManifestPush(
        reference,
        content,
        contentType,
        maxBytes,
      );
      const blobRefs = new Set<Digest>();
      for (const d of manifest.config ? [manifest.config, ...manifest.layers] : []) {
        if (!isForeignLayer(d)) blobRefs.add(d.digest);
      }
      const childRefs = new Set<Digest>(manifest.manifests.map((d) => d.digest));
      const entry =
        manifest.subject !== undefined ? referrerDescriptor(descriptor, manifest) : undefined;

      await transaction(pool, async (client) => {
        await ensureRepository(client, repo);
        // The manifest's own bytes are a blob: its row first (locked until commit), then
        // the bytes, so a collection of that blob either finished before or sees this row.
        await client.query(
          `INSERT INTO blobs (digest, size) VALUES ($1, $2)
           ON CONFLICT (digest) DO UPDATE SET size = $2, pushed_at = now()`,
          [digest, content.byteLength],
        );
        if (!(await exists(driver, blobDataPath(digest)))) {
          await driver.putContent(blobDataPath(digest), content);
        }
        await checkReferences(client, repo, blobRefs, childRefs);
        await client.query(
          `INSERT INTO manifests (repository, digest, media_type, size, artifact_type,
             referrer_type, annotations, content, subject, subject_descriptor)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (repository, digest) DO UPDATE SET pushed_at = now()`,
          [
            repo,
            digest,
            descriptor.mediaType,
            content.byteLength,
            descriptor.artifactType ?? null,
            entry?.artifactType ?? null,
            descriptor.annotations === undefined ? null : JSON.stringify(descriptor.annotations),
            content,
            manifest.subject?.digest ?? null,
            manifest.subject === undefined ? null : JSON.stringify(manifest.subject),
          ],
        );
        const children = [
          ...[...blobRefs].map((child) => ({ child, isManifest: false })),
          ...[...childRefs].map((child) => ({ child, isManifest: true })),
        ];
        if (children.length > 0) {
          await client.query(
            `INSERT INTO manifest_references (repository, manifest, child, is_manifest)
             SELECT $1, $2, c.child, c.is_manifest
             FROM unnest($3::text[], $4::boolean[]) AS c (child, is_manifest)
             ON CONFLICT DO NOTHING`,
            [repo, digest, children.map((c) => c.child), children.map((c) => c.isManifest)],
          );
        }
        if (!referenceIsDigest) {
          await client.query(
            `INSERT INTO tags (repository, name, digest) VALUES ($1, $2, $3)
             ON CONFLICT (repository, name) DO UPDATE SET digest = $3, updated_at = now()`,
            [repo, reference, digest],
          );
        }
      });
      return {
        descriptor,
        content,
        ...(manifest.subject !== undefined ? { subject: manifest.subject } : {}),
      };
    },

    get: (repo, reference) => loadManifest(repo, reference, true),

    async stat(repo, reference) {
      return (await loadManifest(repo, reference, false))?.descriptor;
    },

    async delete(repo, reference) {
      // By digest, the cascade removes its tags and references with it (one statement).
      const { rowCount } = isDigest(reference)
        ? await query(pool, 'DELETE FROM manifests WHERE repository = $1 AND digest = $2', [
            repo,
            reference,
          ])
        : isTag(reference)
          ? await query(pool, 'DELETE FROM tags WHERE repository = $1 AND name = $2', [
              repo,
              reference,
            ])
          : { rowCount: 0 };
      return (rowCount ?? 0) > 0;
    },
  };
}

/** Bytes of manifests kept by digest in each process. */
const MANIFEST_CACHE_BYTES = 32 * 1024 * 1024;

interface ManifestRow {
  readonly digest: string;
  readonly media_type: string;
  readonly size: string;
  readonly artifact_type: string | null;
  readonly annotations: Record<string, string> | null;
  readonly subject_descriptor: Descriptor | null;
  readonly content?: Buffer;
}

/**
 * Fails with MANIFEST_BLOB_UNKNOWN naming the first blob or child manifest a manifest
 * references that is not in `repo`, holding a share lock on each that is, so that garbage
 * collection cannot remove it before this transaction commits.
 */
async function checkReferences(
  client: pg.ClientBase,
  repo: string,
  blobs: ReadonlySet<Digest>,
  children: ReadonlySet<Digest>,
): Promise<void> {
  const present = new Set<string>();
  if (blobs.size > 0) {
    // The links first (garbage collection removes unreferenced links under a row lock), then
    // the blobs' rows; a blob may also be in the repository as a manifest's bytes.
    const links = await client.query<{ digest: string }>(
      `SELECT digest FROM blob_links WHERE repository = $1 AND digest = ANY($2::text[])
       ORDER BY digest FOR SHARE`,
      [repo, [...blobs]],
    );
    const linked = new Set(links.rows.map((r) => r.digest));
    const { rows } = await client.query<{ digest: string }>(
      `SELECT b.digest FROM blobs b WHERE b.digest = ANY($2::text[]) AND b.size IS NOT NULL AND (
         b.digest = ANY($3::text[]) OR
         EXISTS (SELECT 1 FROM manifests m WHERE m.repository = $1 AND m.digest = b.digest))
       ORDER BY b.digest FOR SHARE OF b`,
      [repo, [...blobs], [...linked]],
    );
    for (const r of rows) present.add(r.digest);
  }
  if (children.size > 0) {
    const { rows } = await client.query<{ digest: string }>(
      `SELECT digest FROM manifests WHERE repository = $1 AND digest = ANY($2::text[])
       ORDER BY digest FOR SHARE`,
      [repo, [...children]],
    );
    for (const r of rows) present.add(`manifest:${r.digest}`);
  }
  const missing =
    [...blobs].find((d) => !present.has(d)) ??
    [...children].find((d) => !present.has(`manifest:${d}`));
  if (missing !== undefined) {
    throw new RegistryError(
      'MANIFEST_BLOB_UNKNOWN',
      `manifest references ${missing}, which is not in the repository`,
      { digest: missing },
    );
  }
}
