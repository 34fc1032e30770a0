/**
 * What the registry benchmarks share: `nv2 registry serve` started from the built CLI with a
 * config file, and every child process killed when the benchmark exits (also on a failure).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { freePort } from '../test/helpers/ports.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const processes = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of processes) child.kill('SIGKILL');
});

/** Kills `child` when this process exits. */
export function killAtExit(child: ChildProcess): void {
  processes.add(child);
}

/** Starts `nv2 registry serve` with `config` (YAML) and waits for `/v2/`; returns its origin. */
export async function startNv2(dir: string, name: string, config: string): Promise<string> {
  const port = await freePort();
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, config);
  const child = spawn(
    process.execPath,
    [CLI, 'registry', 'serve', '--addr', `127.0.0.1:${port}`, '--config', file],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  killAtExit(child);
  const origin = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const res = await request(`${origin}/v2/`);
      await res.body.dump();
      if (res.statusCode === 200) return origin;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || i > 300) throw new Error(`nv2 (${name}) did not start`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Asks every child started here to stop (SIGTERM: servers shut down cleanly). */
export function stopChildren(): void {
  for (const child of processes) child.kill('SIGTERM');
}
