/**
 * A real PostgreSQL for the tests: a cluster made by `scripts/postgres.sh` (initdb, pg_ctl)
 * in a temporary directory, on a free loopback port, run as the `postgres` system user when
 * the tests run as root. One cluster per test process (started on first use, about 1 s),
 * stopped and removed when the process exits; each test gets a fresh database.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';

const SCRIPT = fileURLToPath(new URL('../../../scripts/postgres.sh', import.meta.url));

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresMissing(): string | undefined {
  let versions: string[] = [];
  try {
    versions = readdirSync('/usr/lib/postgresql');
  } catch {
    // not installed
  }
  return versions.some((v) => existsSync(join('/usr/lib/postgresql', v, 'bin', 'initdb')))
    ? undefined
    : 'initdb not found: install the Debian package postgresql';
}

/** A running PostgreSQL server. */
export interface Postgres {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Creates a new, empty database with a random name; returns its connection URL. */
  newDatabase(): Promise<string>;
}

let started: Promise<Postgres> | undefined;

/** The process's server, started on first call. */
export function startPostgres(): Promise<Postgres> {
  started ??= start();
  return started;
}

async function start(): Promise<Postgres> {
  const dir = await mkdtemp(join(tmpdir(), 'nv2-pg-'));
  // The server may run as another user (postgres): it must be able to reach the directory.
  chmodSync(dir, 0o711);
  process.on('exit', () => {
    spawnSync(SCRIPT, ['stop', join(dir, 'cluster')], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(SCRIPT, ['start', join(dir, 'cluster')], {
      timeout: 120_000,
    }));
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`scripts/postgres.sh start failed:\n${stderr}`);
  }
  const env = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const host = env['PGHOST']!;
  const port = Number(env['PGPORT']);
  const user = env['PGUSER']!;
  return {
    host,
    port,
    user,
    async newDatabase() {
      const name = `nv2_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ host, port, user, database: 'postgres' });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return `postgres://${user}@${host}:${port}/${name}`;
    },
  };
}
