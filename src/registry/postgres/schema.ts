import type pg from 'pg';
import { StorageError } from '../../errors.js';

/**
 * The schema of the registry's PostgreSQL metadata database, as numbered migrations. A
 * migration is never edited once released: a change is a new migration. `migrate` applies
 * the missing ones, each in its own transaction, under an advisory lock so that replicas
 * started together cannot apply one twice; `serve` only checks (`checkSchema`) and refuses
 * to start on a schema that is behind, so a schema never changes behind an operator's back.
 *
 * Tables (repository names, digests and tags are the validated strings of the HTTP layer):
 *
 * - `blobs`: every digest whose bytes are in the storage driver (layers, configs and
 *   manifests' own bytes), with when it was last pushed: garbage collection's grace period.
 * - `blob_links`: a blob is part of a repository (uploaded, mounted).
 * - `manifests`: a manifest of a repository with its exact bytes and what the referrers API
 *   lists about it (`referrer_type`: its artifactType, else its config's media type).
 * - `manifest_references`: the blobs (config, layers) and child manifests a manifest names.
 * - `tags`: a tag of a repository and the manifest it points at.
 * - `uploads`: upload sessions in progress (their bytes are in the driver).
 */

/** One step of the schema. */
interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'registry metadata',
    sql: `
CREATE TABLE repositories (
  name text PRIMARY KEY COLLATE "C",
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE blobs (
  digest text PRIMARY KEY,
  size bigint,
  pushed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE blob_links (
  repository text NOT NULL COLLATE "C" REFERENCES repositories (name) ON DELETE CASCADE,
  digest text NOT NULL REFERENCES blobs (digest),
  linked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository, digest)
);
CREATE INDEX blob_links_digest ON blob_links (digest);
CREATE TABLE manifests (
  repository text NOT NULL COLLATE "C" REFERENCES repositories (name) ON DELETE CASCADE,
  digest text NOT NULL COLLATE "C" REFERENCES blobs (digest),
  media_type text NOT NULL,
  size bigint NOT NULL,
  artifact_type text,
  referrer_type text,
  annotations jsonb,
  content bytea NOT NULL,
  subject text COLLATE "C",
  subject_descriptor jsonb,
  pushed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository, digest)
);
CREATE INDEX manifests_referrers ON manifests (repository, subject, digest) WHERE subject IS NOT NULL;
CREATE INDEX manifests_digest ON manifests (digest);
CREATE TABLE manifest_references (
  repository text NOT NULL COLLATE "C",
  manifest text NOT NULL COLLATE "C",
  child text NOT NULL,
  is_manifest boolean NOT NULL,
  PRIMARY KEY (repository, manifest, child),
  FOREIGN KEY (repository, manifest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_references_child ON manifest_references (child, repository);
CREATE TABLE tags (
  repository text NOT NULL COLLATE "C",
  name text NOT NULL COLLATE "C",
  digest text NOT NULL COLLATE "C",
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository, name),
  FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
);
CREATE INDEX tags_digest ON tags (repository, digest);
CREATE TABLE uploads (
  id uuid PRIMARY KEY,
  repository text NOT NULL COLLATE "C" REFERENCES repositories (name) ON DELETE CASCADE,
  started_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
];

/** The schema version this nv2 works with: the newest migration. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The advisory lock key of `migrate`: a fixed number of nv2's, shared by every replica. */
const MIGRATE_LOCK = '121556263936872';

const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** The versions applied to the database (empty for a new database). */
async function appliedVersions(client: pg.ClientBase): Promise<Set<number>> {
  const table = await client.query<{ exists: boolean }>(
    `SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`,
  );
  if (table.rows[0]?.exists !== true) return new Set();
  const rows = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
  return new Set(rows.rows.map((r) => r.version));
}

/** What `migrate` did. */
export interface MigrationResult {
  /** Versions applied now, in order (empty when the schema was current). */
  readonly applied: readonly { version: number; name: string }[];
  readonly version: number;
}

/**
 * Applies every missing migration, each in one transaction, holding a session advisory lock
 * for the whole run (a second `migrate` waits, then finds nothing to do).
 *
 * @throws StorageError NV2_ERR_STORAGE_SCHEMA when the database is newer than this nv2.
 */
export async function migrate(pool: pg.Pool): Promise<MigrationResult> {
  const client = await pool.connect();
  try {
    await client.query(`SELECT pg_advisory_lock(${MIGRATE_LOCK})`);
    try {
      await client.query(CREATE_MIGRATIONS_TABLE);
      const done = await appliedVersions(client);
      checkNotNewer(done);
      const applied: { version: number; name: string }[] = [];
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new StorageError(
            'NV2_ERR_STORAGE_SCHEMA',
            `migration ${m.version} (${m.name}) failed: ${(err as Error).message}`,
            { cause: err },
          );
        }
        applied.push({ version: m.version, name: m.name });
      }
      return { applied, version: SCHEMA_VERSION };
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${MIGRATE_LOCK})`);
    }
  } finally {
    client.release();
  }
}

/**
 * Checks that the schema is exactly the one this nv2 expects.
 *
 * @throws StorageError NV2_ERR_STORAGE_SCHEMA naming what to run when it is not.
 */
export async function checkSchema(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    const done = await appliedVersions(client);
    checkNotNewer(done);
    const missing = MIGRATIONS.filter((m) => !done.has(m.version));
    if (missing.length > 0) {
      throw new StorageError(
        'NV2_ERR_STORAGE_SCHEMA',
        `the metadata database's schema is behind (${missing.length} migration${missing.length === 1 ? '' : 's'} to apply): run nv2 registry migrate --config FILE`,
      );
    }
  } finally {
    client.release();
  }
}

function checkNotNewer(done: ReadonlySet<number>): void {
  const newest = Math.max(0, ...done);
  if (newest > SCHEMA_VERSION) {
    throw new StorageError(
      'NV2_ERR_STORAGE_SCHEMA',
      `the metadata database's schema (version ${newest}) is newer than this nv2 knows (${SCHEMA_VERSION}): upgrade nv2`,
    );
  }
}
