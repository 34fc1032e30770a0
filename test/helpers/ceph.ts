/**
 * A real S3 server for the tests: Ceph's RADOS Gateway on a single-node cluster started by
 * `scripts/ceph-s3.sh` in a temporary directory, on free loopback ports. One cluster per
 * test process (started on first use, about 10 s), stopped when the process exits; tests
 * share it through separate buckets or key prefixes.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const SCRIPT = fileURLToPath(new URL('../../../scripts/ceph-s3.sh', import.meta.url));

/** The programs the cluster needs (Debian ceph-mon, ceph-osd, radosgw, ceph-common). */
const PROGRAMS = ['/usr/bin/ceph-mon', '/usr/bin/ceph-osd', '/usr/bin/radosgw', '/usr/bin/ceph'];

/** Why Ceph tests cannot run here, or undefined when they can. */
export function cephMissing(): string | undefined {
  const missing = PROGRAMS.find((program) => !existsSync(program));
  return missing === undefined
    ? undefined
    : `${missing} not found: install the Debian packages ceph-mon ceph-osd radosgw ceph-common`;
}

/** A running RADOS Gateway. */
export interface CephS3 {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** A client set up for this gateway (path-style, checksums only when required). */
  readonly client: S3Client;
  /** Creates a new, empty bucket with a random name and returns the name. */
  newBucket(): Promise<string>;
}

let started: Promise<CephS3> | undefined;

/** The process's cluster, started on first call. */
export function startCephS3(): Promise<CephS3> {
  started ??= start();
  return started;
}

async function start(): Promise<CephS3> {
  // Not `tempDir()`: its removal at exit could run before the stop below, which needs the
  // pid files; this directory is stopped first, then removed.
  const dir = await mkdtemp(join(tmpdir(), 'nv2-ceph-'));
  // Registered before the start: a half-started cluster is stopped too.
  process.on('exit', () => {
    spawnSync(SCRIPT, ['stop', dir], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(SCRIPT, ['start', dir], { timeout: 180_000 }));
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`scripts/ceph-s3.sh start failed:\n${stderr}`);
  }
  const env = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const endpoint = env['S3_ENDPOINT']!;
  const region = env['S3_REGION']!;
  const credentials = {
    accessKeyId: env['S3_ACCESS_KEY']!,
    secretAccessKey: env['S3_SECRET_KEY']!,
  };
  const client = new S3Client({
    endpoint,
    region,
    credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    region,
    credentials,
    client,
    async newBucket() {
      const bucket = `nv2-${randomBytes(6).toString('hex')}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
  };
}
