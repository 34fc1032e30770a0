import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageChecks } from './checks.js';
import type { LogEntry } from './handler.js';
import type { RegistryAccess } from './registry-access.js';
import { createImageVerifier } from './verifier.js';

/** How often the configuration directory is checked for changes by default. */
export const DEFAULT_CONFIG_POLL_MS = 10_000;

/**
 * A fingerprint of every file under `dir` (path, inode, size, modification time), following
 * symbolic links as Kubernetes' projected volumes use them, so that an atomic swap of a
 * mounted ConfigMap changes it. Hidden entries (`..data`) are reached through the links.
 */
export async function directoryFingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  const walk = async (path: string, depth: number): Promise<void> => {
    if (depth > 8) return;
    let entries: string[];
    try {
      entries = (await readdir(path)).filter((name) => !name.startsWith('.')).sort();
    } catch {
      parts.push(`${path}:unreadable`);
      return;
    }
    for (const name of entries) {
      const child = join(path, name);
      try {
        const info = await stat(child);
        if (info.isDirectory()) await walk(child, depth + 1);
        else parts.push(`${child}:${info.ino}:${info.size}:${info.mtimeMs}`);
      } catch {
        parts.push(`${child}:gone`);
      }
    }
  };
  await walk(dir, 0);
  return parts.join('\n');
}

/**
 * Calls `onChange` (one call at a time) whenever the files under `dir` change, checking every
 * `intervalMs`. Returns the function that stops watching.
 */
export function watchDirectory(
  dir: string,
  intervalMs: number,
  onChange: () => Promise<void>,
): () => void {
  let last: string | undefined;
  let busy = false;
  const tick = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const now = await directoryFingerprint(dir);
      if (last !== undefined && now !== last) await onChange();
      last = now;
    } finally {
      busy = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Options of `reloadOnTrustChange`. */
export interface TrustReloadOptions {
  readonly configDir: string;
  readonly registries: RegistryAccess;
  /** Gets the new verifier; its cached verdicts are dropped. */
  readonly checks: ImageChecks;
  /** How often to look (default `DEFAULT_CONFIG_POLL_MS`). */
  readonly intervalMs?: number;
  readonly log?: (entry: LogEntry) => void;
}

/**
 * Rebuilds the verifier whenever the configuration directory changes (a ConfigMap update):
 * the new trust store applies to the next review, and cached verdicts are dropped. A store
 * that does not load (a broken certificate, no certificate left) is logged and the old one
 * kept. Returns the function that stops watching.
 */
export function reloadOnTrustChange(options: TrustReloadOptions): () => void {
  const log = options.log ?? (() => undefined);
  return watchDirectory(
    options.configDir,
    options.intervalMs ?? DEFAULT_CONFIG_POLL_MS,
    async () => {
      try {
        const verifier = await createImageVerifier({
          configDir: options.configDir,
          registries: options.registries,
        });
        options.checks.replaceVerifier(verifier);
        log({
          time: new Date().toISOString(),
          level: 'info',
          msg: 'trust store reloaded',
          configDir: options.configDir,
        });
      } catch (err) {
        log({
          time: new Date().toISOString(),
          level: 'error',
          msg: 'trust store not reloaded; the previous one stays in use',
          error: (err as Error).message,
        });
      }
    },
  );
}
