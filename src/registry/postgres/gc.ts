import type pg from 'pg';
import type { Digest } from '../../oci/index.js';
import type { StorageDriver } from '../storage/driver.js';
import { isNotFound } from '../storage/blobs.js';
import { blobDataPath } from '../storage/paths.js';
import { databaseError, transaction } from './database.js';

/**
 * Online garbage collection over the PostgreSQL metadata database, while the registry serves
 * (docs/scaling.md, "Online garbage collection"). Three kinds of garbage, in this order, until
 * a pass finds none:
 *
 * 1. untagged manifests: no tag points at one, no index of its repository lists it, and it
 *    has no subject that is still in the repository (a signature is kept while what it signs
 *    is there; the signature itself keeps nothing alive);
 * 2. blob links no manifest of the repository references any more;
 * 3. blobs with no link, no manifest row of their digest and no manifest referencing them:
 *    the row and the bytes in the storage driver.
 *
 * Nothing younger than the grace period is touched (manifests by when they were last pushed,
 * links by when they were last made, blobs by when they were last uploaded, mounted or pushed
 * as a manifest), so a push in progress never loses what it has just uploaded. Every
 * candidate is decided in its own transaction that locks its row and checks again: a
 * concurrent manifest PUT that references it holds a share lock on the same row, so either
 * the PUT commits first (and the candidate is kept) or the candidate goes first (and the PUT
 * answers MANIFEST_BLOB_UNKNOWN). A blob's bytes are deleted inside its transaction, before
 * the row's deletion commits: an upload of the same digest waits on the row, then writes the
 * bytes again.
 */

/** Options of `collectGarbageOnline`. */
export interface OnlineGcOptions {
  /** Nothing younger than this is collected, in seconds (default 24 h). */
  readonly graceSeconds?: number;
  /** Candidates looked up per query (default 500). */
  readonly batchSize?: number;
}

/** What one run removed; `skipped` when another replica was collecting. */
export interface OnlineGcReport {
  readonly skipped: boolean;
  readonly manifests: number;
  readonly links: number;
  readonly blobs: number;
  readonly bytes: number;
}

/** Twenty-four hours, as GitLab's registry waits before it reviews a blob. */
export const DEFAULT_GC_GRACE_SECONDS = 24 * 3600;

/** The advisory lock key of a collection run: one replica collects at a time. */
const GC_LOCK = '474429417315';

/** Passes at most per run: deleting a subject frees its referrers for the next pass. */
const MAX_PASSES = 16;

const UNTAGGED_MANIFEST = `
  m.pushed_at < now() - make_interval(secs => $GRACE)
  AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository = m.repository AND t.digest = m.digest)
  AND NOT EXISTS (SELECT 1 FROM manifest_references r
                  WHERE r.repository = m.repository AND r.child = m.digest AND r.is_manifest)
  AND NOT (m.subject IS NOT NULL AND EXISTS (SELECT 1 FROM manifests s
                  WHERE s.repository = m.repository AND s.digest = m.subject))`;

const UNREFERENCED_LINK = `
  l.linked_at < now() - make_interval(secs => $GRACE)
  AND NOT EXISTS (SELECT 1 FROM manifest_references r
                  WHERE r.repository = l.repository AND r.child = l.digest AND NOT r.is_manifest)`;

const UNREFERENCED_BLOB = `
  b.pushed_at < now() - make_interval(secs => $GRACE)
  AND NOT EXISTS (SELECT 1 FROM blob_links l WHERE l.digest = b.digest)
  AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest)
  AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.child = b.digest)`;

/** A statement with the grace period as its first parameter (`$GRACE` in the conditions). */
function sql(text: string): string {
  return text.replaceAll('$GRACE', '$1::double precision');
}

/**
 * Runs one collection unless another replica is running one (then `skipped`).
 *
 * @example
 * const report = await collectGarbageOnline(pool, driver, { graceSeconds: 3600 });
 */
export async function collectGarbageOnline(
  pool: pg.Pool,
  driver: StorageDriver,
  options: OnlineGcOptions = {},
): Promise<OnlineGcReport> {
  const grace = options.graceSeconds ?? DEFAULT_GC_GRACE_SECONDS;
  const batch = options.batchSize ?? 500;
  const report = { skipped: false, manifests: 0, links: 0, blobs: 0, bytes: 0 };

  let lockHolder: pg.PoolClient;
  try {
    lockHolder = await pool.connect();
  } catch (err) {
    throw databaseError(err);
  }
  try {
    const { rows } = await lockHolder.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_lock(${GC_LOCK}) AS locked`,
    );
    if (rows[0]?.locked !== true) return { ...report, skipped: true };
    try {
      for (let pass = 0; pass < MAX_PASSES; pass++) {
        const before = report.manifests + report.links + report.blobs;
        // 1. Untagged manifests (their tags, references cascade).
        report.manifests += await collectRows(pool, 'manifests', UNTAGGED_MANIFEST, grace, batch);
        // 2. Links no manifest of the repository references.
        report.links += await collectRows(pool, 'blob_links', UNREFERENCED_LINK, grace, batch);
        // 3. Blobs nothing refers to: row and bytes.
        const blobs = await pool.query<{ digest: Digest }>(
          sql(`SELECT b.digest FROM blobs b WHERE ${UNREFERENCED_BLOB} LIMIT $2`),
          [grace, batch],
        );
        for (const c of blobs.rows) {
          const size = await transaction(pool, async (client) => {
            await client.query('SELECT 1 FROM blobs WHERE digest = $1 FOR UPDATE', [c.digest]);
            const { rows: gone } = await client.query<{ size: string | null }>(
              sql(`DELETE FROM blobs b WHERE b.digest = $2 AND ${UNREFERENCED_BLOB}
                   RETURNING b.size`),
              [grace, c.digest],
            );
            if (gone[0] === undefined) return undefined;
            // Inside the transaction: the row stays locked until the bytes are gone.
            try {
              await driver.delete(blobDataPath(c.digest));
            } catch (err) {
              if (!isNotFound(err)) throw err;
            }
            return Number(gone[0].size ?? 0);
          });
          if (size !== undefined) {
            report.blobs += 1;
            report.bytes += size;
          }
        }
        if (report.manifests + report.links + report.blobs === before) break;
      }
      return report;
    } finally {
      await lockHolder.query(`SELECT pg_advisory_unlock(${GC_LOCK})`);
    }
  } catch (err) {
    throw databaseError(err);
  } finally {
    lockHolder.release();
  }
}

/**
 * Deletes up to `batch` rows of `table` (keyed by repository and digest) that `condition`
 * selects, each in its own transaction: the row is locked, then deleted only if the condition
 * still holds, so a push that made it live meanwhile wins. Returns how many went.
 */
async function collectRows(
  pool: pg.Pool,
  table: 'manifests' | 'blob_links',
  condition: string,
  grace: number,
  batch: number,
): Promise<number> {
  const alias = table === 'manifests' ? 'm' : 'l';
  const candidates = await pool.query<{ repository: string; digest: string }>(
    sql(
      `SELECT ${alias}.repository, ${alias}.digest FROM ${table} ${alias} WHERE ${condition} LIMIT $2`,
    ),
    [grace, batch],
  );
  let collected = 0;
  for (const c of candidates.rows) {
    const deleted = await transaction(pool, async (client) => {
      await client.query(
        `SELECT 1 FROM ${table} WHERE repository = $1 AND digest = $2 FOR UPDATE`,
        [c.repository, c.digest],
      );
      const { rowCount } = await client.query(
        sql(`DELETE FROM ${table} ${alias} WHERE ${alias}.repository = $2 AND ${alias}.digest = $3
             AND ${condition}`),
        [grace, c.repository, c.digest],
      );
      return (rowCount ?? 0) > 0;
    });
    if (deleted) collected += 1;
  }
  return collected;
}
