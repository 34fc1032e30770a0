/**
 * Optional programs some tests use when they are installed (opa, notation, oras): where they
 * are on PATH, and why a test that needs one did not run.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The absolute path of executable `name` on `PATH`, or undefined. */
export function findOnPath(name: string, path = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Why a test needing `name` cannot run (`<name> not on PATH: <how to get it>`), or undefined
 * when it is installed. Pass the result as `{ skip }` to `describe`/`it`, so that the report
 * says the test did not run and why.
 */
export function programMissing(name: string, how: string): string | undefined {
  return findOnPath(name) === undefined ? `${name} not on PATH: ${how}` : undefined;
}
