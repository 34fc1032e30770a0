import { join } from 'node:path';
import { CONFIG_PATHS, watchPaths } from '../policy/index.js';
import type { ImageChecks } from './checks.js';
import type { LogEntry } from './handler.js';
import { type ImageVerifierOptions, createImageVerifier } from './verifier.js';

/** How often the configuration directory is checked for changes by default. */
export const DEFAULT_CONFIG_POLL_MS = 10_000;

/** Options of `reloadOnConfigChange`. */
export interface ConfigReloadOptions extends ImageVerifierOptions {
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
        const verifier = await createImageVerifier(options);
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
