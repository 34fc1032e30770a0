import type { StorageDriver } from './storage/driver.js';
import type { StoreOptions } from './storage/create-store.js';
import { createStore } from './storage/create-store.js';
import type { RegistryStore } from './storage/store.js';
import type { MetadataConfig } from './metadata-config.js';

/**
 * The registry's storage layer as configured: embedded (metadata beside the blobs, on the
 * driver; the default) or PostgreSQL (`storage.metadata`). The database module, and `pg`
 * with it, is loaded only when a database is configured.
 */

/** Upload sessions idle a week are abandoned, as in distribution. */
const UPLOAD_PURGE_AGE_MS = 7 * 24 * 3600 * 1000;

/** A store opened by `openRegistryStore`, with what runs beside it. */
export interface OpenedStore {
  readonly store: RegistryStore;
  /** Stops the background collection and closes the database connections. */
  close(): Promise<void>;
}

/** A line of the server's log. */
export type StoreLog = (msg: string, fields?: Record<string, unknown>) => void;

/**
 * Opens the store: with a database, checks its schema (never migrates: `nv2 registry
 * migrate` does) and starts online garbage collection every `gc.intervalSeconds`.
 *
 * @throws StorageError NV2_ERR_STORAGE_SCHEMA when the schema is behind,
 *   NV2_ERR_STORAGE_DATABASE when the database cannot be reached.
 */
export async function openRegistryStore(
  driver: StorageDriver,
  options: StoreOptions,
  metadata: MetadataConfig | undefined,
  log: StoreLog,
): Promise<OpenedStore> {
  if (metadata === undefined) {
    return { store: createStore(driver, options), close: () => Promise.resolve() };
  }
  const pg = await import('./postgres/index.js');
  const pool = pg.createPool(metadata.database);
  try {
    await pg.checkSchema(pool);
  } catch (err) {
    await pool.end();
    throw pg.databaseError(err);
  }
  const store = pg.createPostgresStore(driver, pool, options);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  if (metadata.gc.intervalSeconds > 0) {
    timer = setInterval(() => {
      if (running !== undefined) return;
      running = pg
        .collectGarbageOnline(pool, driver, { graceSeconds: metadata.gc.graceSeconds })
        .then(async (report) => {
          // Over S3 the server purges abandoned uploads itself, hourly; elsewhere it is here.
          if (!report.skipped && driver.name !== 's3') {
            await store.uploads.purge(new Date(Date.now() - UPLOAD_PURGE_AGE_MS));
          }
          return report;
        })
        .then(
          (report) => {
            if (!report.skipped && report.manifests + report.links + report.blobs > 0) {
              log('online garbage collection', { ...report });
            }
          },
          (err: unknown) =>
            log('online garbage collection failed', { level: 'error', cause: String(err) }),
        )
        .finally(() => {
          running = undefined;
        });
    }, metadata.gc.intervalSeconds * 1000);
    timer.unref();
  }
  return {
    store,
    async close() {
      if (timer !== undefined) clearInterval(timer);
      await running;
      await pool.end();
    },
  };
}

/**
 * Brings the database's schema up to date (`nv2 registry migrate`).
 *
 * @throws StorageError NV2_ERR_STORAGE_DATABASE, NV2_ERR_STORAGE_SCHEMA
 */
export async function migrateMetadata(
  metadata: MetadataConfig,
): Promise<{ applied: readonly { version: number; name: string }[]; version: number }> {
  const pg = await import('./postgres/index.js');
  const pool = pg.createPool(metadata.database);
  try {
    return await pg.migrate(pool);
  } catch (err) {
    throw pg.databaseError(err);
  } finally {
    await pool.end();
  }
}

/**
 * One online collection now (`nv2 registry gc --online`); `skipped` when a replica is
 * collecting. The schema must be current.
 */
export async function collectGarbageNow(
  driver: StorageDriver,
  metadata: MetadataConfig,
  graceSeconds = metadata.gc.graceSeconds,
): Promise<{ skipped: boolean; manifests: number; links: number; blobs: number; bytes: number }> {
  const pg = await import('./postgres/index.js');
  const pool = pg.createPool(metadata.database);
  try {
    await pg.checkSchema(pool);
    return await pg.collectGarbageOnline(pool, driver, { graceSeconds });
  } catch (err) {
    throw pg.databaseError(err);
  } finally {
    await pool.end();
  }
}
