/**
 * Headless Chromium (Debian package chromium) driven by playwright-core, for tests of the
 * registry's web UI. The flags keep Chromium off the network: no background requests, no
 * component updates, no sync; the user data directory is new for every launch.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { tempDir } from './fixtures.js';

/** Where the Debian package installs Chromium. */
export const CHROMIUM_BINARY = '/usr/bin/chromium';

/** Why browser tests cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM_BINARY)
    ? undefined
    : `${CHROMIUM_BINARY} not found: install the Debian package chromium`;
}

/** Launches headless Chromium with a fresh profile (its user data directory); close the context to stop it. */
export async function launchChromium(): Promise<BrowserContext> {
  const profile = await tempDir();
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_BINARY,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * The directory test artifacts (screenshots) go to: `$NV2_TEST_ARTIFACTS/<name>` when set,
 * else a new directory under the system's temporary directory. Kept after the run.
 */
export async function artifactsDir(name: string): Promise<string> {
  const base = process.env['NV2_TEST_ARTIFACTS'];
  if (base !== undefined && base !== '') {
    const dir = join(base, name);
    await mkdir(dir, { recursive: true });
    return dir;
  }
  return mkdtemp(join(tmpdir(), `nv2-${name}-`));
}
