/**
 * Starts CNCF distribution 2.8 (`docker-registry serve`, Debian package docker-registry) on a
 * free loopback port over a temporary filesystem root: a real registry without the referrers
 * API, so that clients' referrers tag schema fallback runs against the real thing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { tempDir } from './fixtures.js';
import { freePort } from './ports.js';

/** Where the Debian package installs the binary. */
export const DISTRIBUTION_BINARY = '/usr/bin/docker-registry';

/** Why distribution tests cannot run here, or undefined when they can. */
export function distributionMissing(): string | undefined {
  return existsSync(DISTRIBUTION_BINARY)
    ? undefined
    : `${DISTRIBUTION_BINARY} not found: install the Debian package docker-registry`;
}

/** A running distribution registry. */
export interface RunningDistribution {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `127.0.0.1:PORT` */
  readonly host: string;
  /** The storage root. */
  readonly root: string;
  /** Stops the process (SIGTERM, then waits for it to exit). */
  close(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * A distribution configuration: filesystem storage under `dataDir`, deletes enabled, logs at
 * error level without an access log, listening on `addr`; `descriptorCache` adds the in-memory
 * blob descriptor cache (what a tuned deployment runs, for benchmarks).
 */
export function distributionConfig(
  dataDir: string,
  addr: string,
  options: { descriptorCache?: boolean } = {},
): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    ...(options.descriptorCache === true ? ['  cache:', '    blobdescriptor: inmemory'] : []),
    '  filesystem:',
    `    rootdirectory: ${dataDir}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${addr}`,
    '',
  ].join('\n');
}

/** How long the registry may take to answer /v2/ after starting. */
const READY_TIMEOUT_MS = 20_000;

/**
 * Starts distribution with filesystem storage in a new temporary directory, deletes enabled,
 * logs at error level; resolves once `GET /v2/` answers.
 *
 * @example
 * const registry = await startDistribution();
 * after(() => registry.close());
 */
export async function startDistribution(): Promise<RunningDistribution> {
  const root = await tempDir();
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(root, 'config.yml');
  await writeFile(config, distributionConfig(join(root, 'data'), host));
  const child = spawn(DISTRIBUTION_BINARY, ['serve', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
  });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      running.delete(child);
      resolve();
    }),
  );
  const url = `http://${host}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  // Readiness: poll /v2/ until it answers (the process prints nothing at level error).
  for (;;) {
    if (exited) throw new Error(`docker-registry exited before answering: ${stderr}`);
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not answer within ${READY_TIMEOUT_MS} ms: ${stderr}`);
    }
    await wait(20);
  }
  return {
    url,
    host,
    root,
    async close() {
      if (!exited) child.kill('SIGTERM');
      await exit;
    },
  };
}
