import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeFileAtomic } from '../../../src/content/index.js';
import { tempDir } from '../../helpers/fixtures.js';

describe('writeFileAtomic', () => {
  it('writes a new file from bytes or a string', async () => {
    const dir = await tempDir(); // fresh: a listing shows exactly what the test left
    await writeFileAtomic(join(dir, 'a'), Buffer.from([0, 1, 2, 255]));
    assert.deepEqual(await readFile(join(dir, 'a')), Buffer.from([0, 1, 2, 255]));
    await writeFileAtomic(join(dir, 'b'), 'héllo');
    assert.equal(await readFile(join(dir, 'b'), 'utf8'), 'héllo');
    assert.deepEqual((await readdir(dir)).sort(), ['a', 'b']);
  });

  it('writes an empty file', async () => {
    const dir = await tempDir();
    await writeFileAtomic(join(dir, 'e'), new Uint8Array(0));
    assert.equal((await stat(join(dir, 'e'))).size, 0);
  });

  it('replaces an existing file whole', async () => {
    const dir = await tempDir();
    const path = join(dir, 'f');
    await writeFile(path, 'old content that is longer than the new one');
    await writeFileAtomic(path, 'new');
    assert.equal(await readFile(path, 'utf8'), 'new');
    assert.deepEqual(await readdir(dir), ['f']);
  });

  it('creates the file with the given mode', async () => {
    const dir = await tempDir();
    const path = join(dir, 'key');
    await writeFileAtomic(path, 'secret', { mode: 0o600 });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it('gives a replaced file the new mode, not the old one', async () => {
    const dir = await tempDir();
    const path = join(dir, 'key');
    await writeFile(path, 'old', { mode: 0o644 });
    await writeFileAtomic(path, 'new', { mode: 0o600 });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it('creates files readable by others by default (0644 before the umask)', async () => {
    const dir = await tempDir();
    const path = join(dir, 'pub');
    await writeFileAtomic(path, 'x');
    const mode = (await stat(path)).mode & 0o777;
    assert.equal(mode & 0o600, 0o600);
    assert.equal(mode & 0o133, 0); // never executable, never writable by others
  });

  it('with exclusive, writes a file that does not exist', async () => {
    const dir = await tempDir();
    await writeFileAtomic(join(dir, 'x'), 'new', { exclusive: true, mode: 0o600 });
    assert.equal(await readFile(join(dir, 'x'), 'utf8'), 'new');
    assert.equal((await stat(join(dir, 'x'))).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['x']);
  });

  it('with exclusive, refuses an existing file, keeps its content and leaves no temp file', async () => {
    const dir = await tempDir();
    const path = join(dir, 'x');
    await writeFile(path, 'old');
    await assert.rejects(writeFileAtomic(path, 'new', { exclusive: true }), {
      code: 'NV2_ERR_FILE_EXISTS',
    });
    assert.equal(await readFile(path, 'utf8'), 'old');
    assert.deepEqual(await readdir(dir), ['x']);
  });

  it('with exclusive, lets exactly one of two racing writers win', async () => {
    const dir = await tempDir();
    const path = join(dir, 'x');
    const results = await Promise.allSettled([
      writeFileAtomic(path, 'first', { exclusive: true }),
      writeFileAtomic(path, 'second', { exclusive: true }),
    ]);
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    assert.equal(won.length, 1);
    const lost = results.find((r) => r.status === 'rejected');
    assert.equal((lost?.reason as { code?: string } | undefined)?.code, 'NV2_ERR_FILE_EXISTS');
    assert.equal(await readFile(path, 'utf8'), won[0] === 0 ? 'first' : 'second');
    assert.deepEqual(await readdir(dir), ['x']);
  });

  it('leaves no temporary file behind after many writes', async () => {
    const dir = await tempDir();
    for (let i = 0; i < 20; i++) await writeFileAtomic(join(dir, 'f'), `v${i}`);
    assert.deepEqual(await readdir(dir), ['f']);
    assert.equal(await readFile(join(dir, 'f'), 'utf8'), 'v19');
  });

  it('refuses a missing directory with NV2_ERR_FILE_NOT_FOUND', async () => {
    const dir = await tempDir();
    await assert.rejects(writeFileAtomic(join(dir, 'no', 'such', 'f'), 'x'), {
      code: 'NV2_ERR_FILE_NOT_FOUND',
    });
    assert.deepEqual(await readdir(dir), []);
  });

  it('fails with NV2_ERR_IO when a directory is in the way, and leaves no temp file', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'inside'), 'x');
    await assert.rejects(writeFileAtomic(join(dir, 'sub'), 'x'), { code: 'NV2_ERR_IO' });
    assert.deepEqual(await readdir(dir), ['sub']);
    assert.deepEqual(await readdir(join(dir, 'sub')), ['inside']);
  });
});
