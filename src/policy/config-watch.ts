import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TRUST_POLICY_FILE } from './config.js';

/**
 * Watching a trust configuration directory for changes (a ConfigMap update), shared by the
 * servers that reload their trust policy without a restart: the admission webhook and the
 * registry (enforcement at pull).
 */

/**
 * What of the configuration directory a verifier is made from: the trust policy and the
 * trust store. Other files mounted beneath it (registry credentials, the TLS pair) are
 * watched by their own readers and do not reset a verdict cache.
 */
export const CONFIG_PATHS: readonly string[] = [TRUST_POLICY_FILE, 'truststore'];

/**
 * A fingerprint of the files at `paths` (each a file or a directory walked recursively):
 * path, inode, size and modification time, following symbolic links as Kubernetes' projected
 * volumes use them, so that an atomic swap of a mounted ConfigMap changes it. Hidden entries
 * (`..data`) are reached through the links.
 */
export async function pathsFingerprint(paths: readonly string[]): Promise<string> {
  const parts: string[] = [];
  const visit = async (path: string, depth: number): Promise<void> => {
    let info;
    try {
      info = await stat(path);
    } catch {
      parts.push(`${path}:absent`);
      return;
    }
    if (!info.isDirectory()) {
      parts.push(`${path}:${info.ino}:${info.size}:${info.mtimeMs}`);
      return;
    }
    if (depth > 8) return;
    let entries: string[];
    try {
      entries = (await readdir(path)).filter((name) => !name.startsWith('.')).sort();
    } catch {
      parts.push(`${path}:unreadable`);
      return;
    }
    for (const name of entries) await visit(join(path, name), depth + 1);
  };
  for (const path of paths) await visit(path, 0);
  return parts.join('\n');
}

/**
 * Calls `onChange` (one call at a time) whenever the files at `paths` change, checking every
 * `intervalMs`. Returns the function that stops watching.
 */
export function watchPaths(
  paths: readonly string[],
  intervalMs: number,
  onChange: () => Promise<void>,
): () => void {
  let last: string | undefined;
  let busy = false;
  const tick = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const now = await pathsFingerprint(paths);
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
