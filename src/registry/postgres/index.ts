/**
 * The registry's PostgreSQL metadata database: schema and migrations (schema.ts), the store
 * (store.ts), online garbage collection (gc.ts). Loaded on demand (`loadPostgres` in
 * `../index.ts`), so a registry without a database never loads `pg`.
 */
export { createPool, databaseError, transaction } from './database.js';
export type { DatabaseOptions } from './database.js';
export { SCHEMA_VERSION, checkSchema, migrate } from './schema.js';
export type { MigrationResult } from './schema.js';
export { createPostgresStore } from './store.js';
export { DEFAULT_GC_GRACE_SECONDS, collectGarbageOnline } from './gc.js';
export type { OnlineGcOptions, OnlineGcReport } from './gc.js';
