import * as nodeModule from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Turns on Node's on-disk compile cache (Node 22.1 and later) for the modules loaded from here
 * on: a later start of the CLI reuses the compiled code of its chunks instead of parsing and
 * compiling them again, which is most of what a start costs above `node -e 0`. The cache lives
 * in the user's cache directory (`$XDG_CACHE_HOME/nv2`, `~/.cache/nv2`; `~/Library/Caches/nv2`
 * on macOS, `%LOCALAPPDATA%\nv2` on Windows), where a cache belongs; Node keeps one
 * subdirectory per Node version and checks every entry against its source. `NODE_COMPILE_CACHE`
 * chooses another directory and `NODE_DISABLE_COMPILE_CACHE=1` turns it off, as for any Node
 * program. A cache that cannot be created or written only costs the speed-up: never an error.
 */
export function enableStartupCompileCache(): void {
  // Looked up, not imported by name: a Node without it must still reach the CLI's own check of
  // the Node version rather than fail to link this module.
  const enableCompileCache = (nodeModule as Partial<typeof nodeModule>).enableCompileCache;
  if (enableCompileCache === undefined) return;
  try {
    if (process.env['NODE_COMPILE_CACHE'] !== undefined) {
      enableCompileCache();
      return;
    }
    enableCompileCache(join(userCacheDirectory(), 'nv2', 'compile-cache'));
  } catch {
    // No cache: a slower start, nothing else.
  }
}

/** The directory the platform keeps per-user caches in. */
function userCacheDirectory(): string {
  const env = process.env;
  if (process.platform === 'win32') {
    return env['LOCALAPPDATA'] ?? join(homedir(), 'AppData', 'Local');
  }
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches');
  const xdg = env['XDG_CACHE_HOME'];
  // The XDG spec ignores a relative XDG_CACHE_HOME.
  return xdg !== undefined && xdg.startsWith('/') ? xdg : join(homedir(), '.cache');
}
