import { InvalidInputError } from '../errors.js';

/**
 * `storage.metadata` of the registry config: where repositories, manifests, tags, referrers,
 * blob links and upload sessions live when they are not beside the blobs (the embedded
 * default). Only PostgreSQL for now: `storage.metadata.database` (docs/scaling.md).
 */

/** `storage.metadata.database`; unset fields come from the PG* environment (PGPASSWORD, …). */
export interface DatabaseConfig {
  /** `postgres://user@host:port/database`; the fields below override its parts. */
  readonly url?: string;
  readonly host?: string;
  readonly port?: number;
  readonly user?: string;
  /** Better left to the environment (`PGPASSWORD`) than written in the file. */
  readonly password?: string;
  readonly database?: string;
  /** TLS to the server: `caFile` pins the CA; `rejectUnauthorized: false` only for tests. */
  readonly ssl?: { readonly caFile?: string; readonly rejectUnauthorized?: boolean };
  /** Connections each replica keeps at most (default 10). */
  readonly poolSize?: number;
}

/** `storage.metadata.gc`: online garbage collection in `serve`. */
export interface OnlineGcConfig {
  /** How often a replica tries to collect (one at a time); 0 turns it off. Default 3600. */
  readonly intervalSeconds: number;
  /** Nothing younger than this is collected (default 24 h). */
  readonly graceSeconds: number;
}

/** The checked `storage.metadata` section. */
export interface MetadataConfig {
  readonly database: DatabaseConfig;
  readonly gc: OnlineGcConfig;
}

const DEFAULT_GC_INTERVAL_SECONDS = 3600;
const DEFAULT_GC_GRACE_SECONDS = 24 * 3600;

const KEYS: Readonly<Record<string, readonly string[]>> = {
  'storage.metadata': ['database', 'gc'],
  'storage.metadata.database': [
    'url',
    'host',
    'port',
    'user',
    'password',
    'database',
    'ssl',
    'poolSize',
  ],
  'storage.metadata.database.ssl': ['caFile', 'rejectUnauthorized'],
  'storage.metadata.gc': ['intervalSeconds', 'graceSeconds'],
};

function bad(message: string): InvalidInputError {
  return new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `config: ${message}`);
}

function mapping(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad(`${path} must be a mapping`);
  }
  const known = KEYS[path] ?? [];
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw bad(`unknown setting ${path}.${key}`);
  }
  return value as Record<string, unknown>;
}

function text(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw bad(`${path} must be a non-empty string`);
  return value;
}

function whole(value: unknown, path: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < min) {
    throw bad(`${path} must be a whole number of at least ${min}`);
  }
  return value as number;
}

/**
 * Checks `storage.metadata` field by field.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT naming the field.
 */
export function checkMetadataConfig(value: unknown): MetadataConfig {
  const section = mapping(value, 'storage.metadata');
  if (section['database'] === undefined) throw bad('storage.metadata.database is required');
  const db = mapping(section['database'], 'storage.metadata.database');
  const where = (key: string): string => `storage.metadata.database.${key}`;
  const url = text(db['url'], where('url'));
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) {
    throw bad(`${where('url')} must be a postgres:// URL`);
  }
  const host = text(db['host'], where('host'));
  const port = whole(db['port'], where('port'), 1);
  const user = text(db['user'], where('user'));
  const password = text(db['password'], where('password'));
  const database = text(db['database'], where('database'));
  const poolSize = whole(db['poolSize'], where('poolSize'), 1);
  let ssl: DatabaseConfig['ssl'];
  if (db['ssl'] !== undefined) {
    const s = mapping(db['ssl'], where('ssl'));
    const caFile = text(s['caFile'], where('ssl.caFile'));
    const reject = s['rejectUnauthorized'];
    if (reject !== undefined && typeof reject !== 'boolean') {
      throw bad(`${where('ssl.rejectUnauthorized')} must be true or false`);
    }
    ssl = {
      ...(caFile !== undefined ? { caFile } : {}),
      ...(reject !== undefined ? { rejectUnauthorized: reject } : {}),
    };
  }
  const gc = section['gc'] === undefined ? {} : mapping(section['gc'], 'storage.metadata.gc');
  return {
    database: {
      ...(url !== undefined ? { url } : {}),
      ...(host !== undefined ? { host } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(user !== undefined ? { user } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(database !== undefined ? { database } : {}),
      ...(ssl !== undefined ? { ssl } : {}),
      ...(poolSize !== undefined ? { poolSize } : {}),
    },
    gc: {
      intervalSeconds:
        whole(gc['intervalSeconds'], 'storage.metadata.gc.intervalSeconds', 0) ??
        DEFAULT_GC_INTERVAL_SECONDS,
      graceSeconds:
        whole(gc['graceSeconds'], 'storage.metadata.gc.graceSeconds', 0) ??
        DEFAULT_GC_GRACE_SECONDS,
    },
  };
}
