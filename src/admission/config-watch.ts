import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TRUST_POLICY_FILE } from '../policy/index.js';
import type { ImageChecks } from './checks.js';
import type { LogEntry } from './handler.js';
import type { RegistryAccess } from './registry-access.js';
import { createImageVerifier } from './verifier.js';

/** How often the configuration directory is checked for changes by default. */
export const DEFAULT_CONFIG_POLL_MS = 10_000;

/**
 * What of the configuration directory the verifier is made from: the trust policy and the
 * trust store. Other files mounted beneath it (registry credentials, the TLS pair) are
 * watched by their own readers and do not reset the verdict cache.
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

/** Options of `reloadOnConfigChange`. */
export interface ConfigReloadOptions {
  readonly configDir: string;
  readonly registries: RegistryAccess;
  /** The most signatures of one image evaluated; default `DEFAULT_MAX_SIGNATURES`. */
  readonly maxSignatures?: number;
  /** Gets the new verifier; its cached verdicts are dropped. */
  readonly checks: ImageChecks;
  /** How often to look (default `DEFAULT_CONFIG_POLL_MS`). */
  readonly intervalMs?: number;
  readonly log?: (entry: LogEntry) => void;
}

/**
 * Rebuilds the verifier whenever `trustpolicy.json` or the trust store changes (a ConfigMap
 * update): the new policy applies to the next review, and cached verdicts are dropped. A
 * configuration that does not load (no or an invalid policy, a missing store, a broken
 * certificate) is logged and the old one kept. Returns the function that stops watching.
 */
export function reloadOnConfigChange(options: ConfigReloadOptions): () => void {
  const log = options.log ?? (() => undefined);
  return watchPaths(
    CONFIG_PATHS.map((p) => join(options.configDir, p)),
    options.intervalMs ?? DEFAULT_CONFIG_POLL_MS,
    async () => {
      try {
        const verifier = await createImageVerifier({
          configDir: options.configDir,
          registries: options.registries,
          ...(options.maxSignatures !== undefined ? { maxSignatures: options.maxSignatures } : {}),
        });
        options.checks.replaceVerifier(verifier);
        log({
          time: new Date().toISOString(),
          level: 'info',
          msg: 'trust policy reloaded',
          configDir: options.configDir,
          statements: verifier.config.document.trustPolicies.map((s) => ({
            name: s.name,
            scopes: s.registryScopes,
            level: s.signatureVerification.level,
          })),
        });
      } catch (err) {
        log({
          time: new Date().toISOString(),
          level: 'error',
          msg: 'trust policy not reloaded; the previous one stays in use',
          error: (err as Error).message,
          ...((err as { code?: unknown }).code !== undefined
            ? { code: (err as { code: unknown }).code }
            : {}),
        });
      }
    },
  );
}
