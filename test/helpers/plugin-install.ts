/** The Python test plugin of plugin.py: where it is, whether it can run, installing it. */
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PLUGIN_SOURCE = fileURLToPath(
  new URL('../../../test/helpers/plugin.py', import.meta.url),
);

/** Why the Python plugin cannot run here, or undefined. */
export function pythonMissing(): string | undefined {
  const r = spawnSync('python3', ['-c', 'import cryptography.x509'], { stdio: 'ignore' });
  return r.status === 0 ? undefined : 'python3 with the cryptography module is not installed';
}

/** Installs the test plugin as plugin `name` in `pluginsDir` (`NAME/notation-NAME`). */
export async function installTestPlugin(pluginsDir: string, name: string): Promise<void> {
  await mkdir(join(pluginsDir, name), { recursive: true });
  await copyFile(PLUGIN_SOURCE, join(pluginsDir, name, `notation-${name}`));
  await chmod(join(pluginsDir, name, `notation-${name}`), 0o755);
}
