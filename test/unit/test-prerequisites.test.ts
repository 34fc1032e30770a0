/**
 * scripts/check-test-prerequisites.mjs, the first step of `npm test`: with programs missing
 * from PATH it stops with one line per missing program naming its Debian package; with all
 * of them present it passes silently.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/fixtures.js';

const SCRIPT = fileURLToPath(
  new URL('../../../scripts/check-test-prerequisites.mjs', import.meta.url),
);

/** Runs the check with PATH set to `path` only. */
function check(path: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT], { env: { PATH: path }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The `missing program: NAME (Debian package PKG): …` lines of a run, as [NAME, PKG]. */
function missing(stderr: string): [string, string][] {
  return [...stderr.matchAll(/^missing program: (\S+) \(Debian package (\S+)\): \S/gm)].map((m) => [
    m[1]!,
    m[2]!,
  ]);
}

/** Puts an executable (or, with `mode` 0o644, a non-executable) file `name` into `dir`. */
async function program(dir: string, name: string, mode = 0o755): Promise<void> {
  await writeFile(join(dir, name), '#!/bin/sh\nexit 0\n');
  await chmod(join(dir, name), mode);
}

describe('test prerequisites check', () => {
  it("has every package of its table in the README's install command", async () => {
    const table = await readFile(SCRIPT, 'utf8');
    const packages = [...table.matchAll(/^\s*package: '([^']+)',$/gm)].map((m) => m[1]!);
    assert.ok(packages.includes('postgresql'), 'the table was not read');
    const readme = await readFile(
      fileURLToPath(new URL('../../../README.md', import.meta.url)),
      'utf8',
    );
    const install = /^apt-get install -y ((?:[^\n]*\\\n)*[^\n]*)$/m.exec(readme)?.[1] ?? '';
    const named = new Set(install.split(/[\s\\]+/));
    assert.deepEqual(
      packages.filter((name) => !named.has(name)),
      [],
    );
  });

  it('names each missing program and its package, and fails', async () => {
    const r = check(await tempDir());
    assert.equal(r.status, 1);
    const lines = missing(r.stderr);
    const programs = lines.map(([name]) => name);
    for (const required of ['openssl', 'skopeo', 'docker-registry', 'docker'])
      assert.ok(programs.includes(required), `${required} not reported: ${r.stderr}`);
    assert.deepEqual(
      lines.filter(([name]) => name === 'docker'),
      [['docker', 'docker.io']],
    );
    // One line per program, plus one that says how to install them all, and nothing else.
    assert.equal(r.stderr.trimEnd().split('\n').length, lines.length + 1);
    assert.match(r.stderr, /apt-get install -y .*\bdocker\.io\b/);
    assert.equal(r.stdout, '');
  });

  it('passes silently when every program is on PATH', async () => {
    const bin = await tempDir();
    for (const [name] of missing(check(bin).stderr)) await program(bin, name);
    const r = check(bin);
    assert.deepEqual(r, { status: 0, stdout: '', stderr: '' });
  });

  it('reports only what is missing; a file that is not executable does not count', async () => {
    const bin = await tempDir();
    const all = missing(check(bin).stderr).map(([name]) => name);
    const [absent, ...present] = all;
    for (const name of present) await program(bin, name);
    await program(bin, absent!, 0o644);
    const r = check(bin);
    assert.equal(r.status, 1);
    assert.deepEqual(
      missing(r.stderr).map(([name]) => name),
      [absent],
    );
  });
});
