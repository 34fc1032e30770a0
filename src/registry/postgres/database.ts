import { readFileSync } from 'node:fs';
import pg from 'pg';
import { Nv2Error, StorageError } from '../../errors.js';
import type { DatabaseConfig } from '../metadata-config.js';
import { RegistryError } from '../storage/store.js';

/**
 * Connections to the registry's PostgreSQL metadata database: the settings of
 * `storage.metadata.database`, the pool, and transactions that are retried when PostgreSQL
 * aborts one to resolve a deadlock or a serialization conflict.
 */

/** The connection settings (`storage.metadata.database`). */
export type DatabaseOptions = DatabaseConfig;

/** A pool whose errors say where they come from. */
export function createPool(options: DatabaseOptions): pg.Pool {
  const ssl =
    options.ssl === undefined
      ? undefined
      : {
          rejectUnauthorized: options.ssl.rejectUnauthorized ?? true,
          ...(options.ssl.caFile !== undefined ? { ca: readFileSync(options.ssl.caFile) } : {}),
        };
  const pool = new pg.Pool({
    ...(options.url !== undefined ? { connectionString: options.url } : {}),
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.user !== undefined ? { user: options.user } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(options.database !== undefined ? { database: options.database } : {}),
    ...(ssl !== undefined ? { ssl } : {}),
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 10_000,
    application_name: 'nv2-registry',
  });
  // An idle connection that breaks (server restart) is dropped by the pool; without a
  // listener the error would end the process.
  pool.on('error', () => undefined);
  return pool;
}

/** SQLSTATEs after which a transaction is simply run again. */
const RETRYABLE = new Set(['40001', '40P01']);

/** How often a transaction is tried before its conflict is reported. */
const ATTEMPTS = 5;

/**
 * Runs `fn` in one transaction (READ COMMITTED: row locks, not snapshots, order the writers),
 * retrying on deadlock and serialization failures. Errors that are not nv2's are wrapped in a
 * StorageError NV2_ERR_STORAGE_DATABASE.
 */
export async function transaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await connect(pool);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && RETRYABLE.has(code) && attempt < ATTEMPTS) continue;
      throw databaseError(err);
    } finally {
      client.release();
    }
  }
}

/**
 * One statement outside a transaction. With `name`, a prepared statement (parsed and planned
 * once per connection): for the statements of the read path.
 */
export async function query<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  text: string,
  values: unknown[] = [],
  name?: string,
): Promise<pg.QueryResult<R>> {
  try {
    return await pool.query<R>(name === undefined ? { text, values } : { name, text, values });
  } catch (err) {
    throw databaseError(err);
  }
}

async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    throw databaseError(err);
  }
}

/** nv2's own errors (and the registry's) pass; anything else is the database failing. */
export function databaseError(err: unknown): unknown {
  if (err instanceof Nv2Error || err instanceof RegistryError) return err;
  return new StorageError(
    'NV2_ERR_STORAGE_DATABASE',
    `metadata database: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

/** Records a repository (once: repositories are listed by the catalog). */
export async function ensureRepository(client: pg.ClientBase, repo: string): Promise<void> {
  await client.query('INSERT INTO repositories (name) VALUES ($1) ON CONFLICT DO NOTHING', [repo]);
}
