import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import type { StorageDriver } from '../../../../src/registry/storage/index.js';
import {
  STORAGE_DRIVERS,
  createFilesystemDriver,
  createMemoryDriver,
} from '../../../../src/registry/storage/index.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { describeStorageDriver, readAll } from '../../../suites/storage-driver.js';

// The root does not exist yet: the driver creates it on first use.
describeStorageDriver('filesystem', async () =>
  createFilesystemDriver({ root: join(await tempDir(), 'root') }),
);

/** V8's full garbage collection, made callable for the memory checks below. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Memory still referenced after a full collection: the JS heap and array buffers. */
function live(gc: () => void): number {
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

const MiB = 1024 * 1024;
const IO = { code: 'NV2_ERR_STORAGE_IO' };
const NOT_FOUND_CODE = { code: 'NV2_ERR_STORAGE_NOT_FOUND' };

/**
 * Every host path below `dir`, relative, sorted (what is really on disk), but the write-ahead
 * journal's directory (journal.test.ts covers it).
 */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((e) => !e.startsWith('.journal~')).sort();
}

async function newDriver(): Promise<{ driver: StorageDriver; root: string; base: string }> {
  const base = await tempDir();
  const root = join(base, 'root');
  return { driver: createFilesystemDriver({ root }), root, base };
}

describe('filesystem driver', () => {
  it('keeps storage path /a/b at <root>/a/b', async () => {
    const { driver, root } = await newDriver();
    await driver.putContent('/a/b', Buffer.from('content'));
    assert.equal(await readFile(join(root, 'a', 'b'), 'utf8'), 'content');
    assert.deepEqual(await tree(root), ['a', 'a/b']);
  });

  it('is listed as `filesystem` in STORAGE_DRIVERS, next to memory', () => {
    assert.equal(STORAGE_DRIVERS.filesystem, createFilesystemDriver);
    assert.equal(STORAGE_DRIVERS.memory, createMemoryDriver);
    assert.equal(createFilesystemDriver({ root: '/nonexistent/unused' }).name, 'filesystem');
    assert.equal(createMemoryDriver().name, 'memory');
  });

  it('refuses an empty root with NV2_ERR_INVALID_ARGUMENT', () => {
    assert.throws(() => createFilesystemDriver({ root: '' }), { code: 'NV2_ERR_INVALID_ARGUMENT' });
  });

  it('accepts a root that is a symbolic link (resolved once)', async () => {
    const base = await tempDir();
    await mkdir(join(base, 'real'));
    await symlink(join(base, 'real'), join(base, 'link'));
    const driver = createFilesystemDriver({ root: join(base, 'link') });
    await driver.putContent('/a/f', Buffer.from('x'));
    assert.equal(await readFile(join(base, 'real', 'a', 'f'), 'utf8'), 'x');
    assert.deepEqual(await driver.list('/a'), ['/a/f']);
  });

  it('leaves no temporary file behind after putContent, sequential, concurrent or failed', async () => {
    const { driver, root } = await newDriver();
    for (let i = 0; i < 10; i++) await driver.putContent('/d/f', Buffer.from(`v${i}`));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => driver.putContent('/d/g', Buffer.from(`w${i}`))),
    );
    await driver.putContent('/d/dir/inside', Buffer.from('x'));
    await assert.rejects(driver.putContent('/d/dir', Buffer.from('in the way')), IO);
    assert.deepEqual(await tree(root), ['d', 'd/dir', 'd/dir/inside', 'd/f', 'd/g']);
  });

  it('shows no files it could not have made (temp leftovers) in list and walk; delete removes them', async () => {
    const { driver, root } = await newDriver();
    await driver.putContent('/d/f', Buffer.from('x'));
    await writeFile(join(root, 'd', '.tmp~0123456789abcdef'), 'crash leftover');
    await writeFile(join(root, 'd', 'bad name'), 'not a storage name');
    assert.deepEqual(await driver.list('/d'), ['/d/f']);
    const walked: string[] = [];
    await driver.walk('/', (info) => {
      walked.push(info.path);
    });
    assert.deepEqual(walked, ['/d/f']);
    await driver.delete('/d');
    assert.deepEqual(await tree(root), []);
  });

  it('commit, putContent and move survive the driver: a new driver on the root reads them', async () => {
    const { driver, root } = await newDriver();
    const writer = await driver.writer('/up/data');
    await writer.write(Buffer.from('uploaded'));
    await writer.commit();
    await driver.move('/up/data', '/blobs/data');
    await driver.putContent('/tags/v1', Buffer.from('digest'));
    const again = createFilesystemDriver({ root });
    assert.equal((await again.getContent('/blobs/data')).toString(), 'uploaded');
    assert.equal((await again.getContent('/tags/v1')).toString(), 'digest');
  });

  it('attaches the host error as the cause of IO failures', async () => {
    const { driver } = await newDriver();
    await driver.putContent('/dir/inside', Buffer.from('x'));
    const err = await driver.putContent('/dir', Buffer.from('x')).then(
      () => assert.fail('resolved'),
      (e: unknown) => e as Error & { code: string },
    );
    assert.equal(err.code, 'NV2_ERR_STORAGE_IO');
    assert.equal((err.cause as { code?: unknown }).code, 'EISDIR');
  });

  it('never puts the host root into an error message', async () => {
    const { driver, root } = await newDriver();
    await driver.putContent('/dir/file', Buffer.from('x'));
    await symlink('/', join(root, 'link'));
    // Thunks: a rejected promise must not wait unhandled while an earlier one is awaited.
    const failures: (() => Promise<unknown>)[] = [
      () => driver.getContent('/missing'),
      () => driver.stat('/dir/missing'),
      () => driver.list('/dir/file'),
      () => driver.putContent('/dir', Buffer.from('x')),
      () => driver.putContent('/dir/file/below', Buffer.from('x')),
      () => driver.writer('/dir'),
      () => driver.move('/missing', '/x'),
      () => driver.move('/dir/file', '/dir'),
      () => driver.getContent('/link'),
      () => driver.getContent('/link/etc'),
      () => driver.putContent('/link/x', Buffer.from('x')),
      () => driver.delete('/missing'),
    ];
    for (const [i, failure] of failures.entries()) {
      const err = await failure().then(
        () => assert.fail(`call ${i} resolved`),
        (e: unknown) => e as Error,
      );
      assert.equal(err.name, 'StorageError', `call ${i}`);
      assert.ok(!err.message.includes(root), `call ${i} leaks the root`);
    }
  });

  describe('symbolic links below the root are never followed', () => {
    /**
     * `<base>/outside/secret`, a storage root holding `/real/file`, and links
     * `/link-file` -> the secret, `/link-dir` -> outside, `/alias` -> `<root>/real`.
     */
    async function withLinks() {
      const { driver, root, base } = await newDriver();
      const outside = join(base, 'outside');
      await mkdir(outside);
      await writeFile(join(outside, 'secret'), 'secret');
      await driver.putContent('/real/file', Buffer.from('inside'));
      await symlink(join(outside, 'secret'), join(root, 'link-file'));
      await symlink(outside, join(root, 'link-dir'));
      await symlink(join(root, 'real'), join(root, 'alias'));
      const outsideUnchanged = async () => {
        assert.deepEqual(await tree(outside), ['secret']);
        assert.equal(await readFile(join(outside, 'secret'), 'utf8'), 'secret');
      };
      return { driver, root, outside, outsideUnchanged };
    }

    it('reads and writes through a link as the last component fail with IO', async () => {
      const { driver, outsideUnchanged } = await withLinks();
      await assert.rejects(driver.getContent('/link-file'), IO);
      await assert.rejects(driver.reader('/link-file'), IO);
      await assert.rejects(driver.stat('/link-file'), IO);
      await assert.rejects(driver.writer('/link-file'), IO);
      await assert.rejects(driver.writer('/link-file', { append: true }), IO);
      await assert.rejects(driver.move('/link-file', '/moved'), IO);
      await assert.rejects(driver.stat('/link-dir'), IO);
      await assert.rejects(driver.list('/link-dir'), IO);
      await assert.rejects(
        driver.walk('/link-dir', () => assert.fail('visited')),
        IO,
      );
      await outsideUnchanged();
    });

    it('every method fails with IO on a path through a linked directory, touching nothing', async () => {
      const { driver, outsideUnchanged } = await withLinks();
      for (const dir of ['/link-dir', '/alias']) {
        const name = dir === '/link-dir' ? 'secret' : 'file';
        await assert.rejects(driver.getContent(`${dir}/${name}`), IO, dir);
        await assert.rejects(driver.reader(`${dir}/${name}`), IO, dir);
        await assert.rejects(driver.stat(`${dir}/${name}`), IO, dir);
        await assert.rejects(driver.putContent(`${dir}/new`, Buffer.from('x')), IO, dir);
        await assert.rejects(driver.putContent(`${dir}/sub/new`, Buffer.from('x')), IO, dir);
        await assert.rejects(driver.writer(`${dir}/new`), IO, dir);
        await assert.rejects(driver.writer(`${dir}/${name}`, { append: true }), IO, dir);
        await assert.rejects(driver.delete(`${dir}/${name}`), IO, dir);
        await assert.rejects(driver.move('/real/file', `${dir}/moved`), IO, dir);
        await assert.rejects(driver.move(`${dir}/${name}`, '/stolen'), IO, dir);
      }
      await outsideUnchanged();
      assert.equal((await driver.getContent('/real/file')).toString(), 'inside');
      await assert.rejects(driver.stat('/stolen'), { code: 'NV2_ERR_STORAGE_NOT_FOUND' });
    });

    it('list and walk skip links', async () => {
      const { driver } = await withLinks();
      assert.deepEqual(await driver.list('/'), ['/real']);
      const walked: string[] = [];
      await driver.walk('/', (info) => {
        walked.push(info.path);
      });
      assert.deepEqual(walked, ['/real/file']);
    });

    it('putContent and move onto a link replace the link itself, not its target', async () => {
      const { driver, root, outsideUnchanged } = await withLinks();
      await driver.putContent('/link-file', Buffer.from('replaced'));
      assert.equal((await lstat(join(root, 'link-file'))).isFile(), true);
      assert.equal((await driver.getContent('/link-file')).toString(), 'replaced');
      await driver.move('/real/file', '/link-dir');
      assert.equal((await lstat(join(root, 'link-dir'))).isFile(), true);
      assert.equal((await driver.getContent('/link-dir')).toString(), 'inside');
      await outsideUnchanged();
    });

    it('delete of a link removes the link, never what it points at', async () => {
      const { driver, root, outsideUnchanged } = await withLinks();
      await driver.delete('/link-dir');
      await driver.delete('/link-file');
      await driver.delete('/alias');
      await outsideUnchanged();
      assert.deepEqual(await tree(root), ['real', 'real/file']);
    });

    it('delete of a directory holding a link removes the link only', async () => {
      const { driver, root, outside, outsideUnchanged } = await withLinks();
      await symlink(outside, join(root, 'real', 'inner-link'));
      await driver.delete('/real');
      await outsideUnchanged();
      assert.deepEqual(await driver.list('/'), []);
    });
  });

  describe('remembered directory checks', () => {
    it('still refuses a linked directory next to directories already checked', async () => {
      const { driver, root, base } = await newDriver();
      const outside = join(base, 'outside');
      await mkdir(outside);
      await writeFile(join(outside, 'secret'), 'secret');
      await driver.putContent('/a/b/file', Buffer.from('x'));
      assert.equal((await driver.getContent('/a/b/file')).toString(), 'x');
      await symlink(outside, join(root, 'a', 'link'));
      await assert.rejects(driver.getContent('/a/link/secret'), IO);
      await assert.rejects(driver.putContent('/a/link/new', Buffer.from('x')), IO);
      await assert.rejects(driver.putContent('/a/link/sub/new', Buffer.from('x')), IO);
      await assert.rejects(driver.stat('/a/link/secret'), IO);
      assert.deepEqual(await tree(outside), ['secret']);
      assert.equal((await driver.getContent('/a/b/file')).toString(), 'x');
    });

    it('refuses a link met while creating parents below a checked directory', async () => {
      const { driver, root, base } = await newDriver();
      const outside = join(base, 'outside');
      await mkdir(outside);
      await driver.putContent('/a/b/c/file', Buffer.from('x'));
      await symlink(outside, join(root, 'a', 'x'));
      await assert.rejects(driver.putContent('/a/x/y/z', Buffer.from('x')), IO);
      await assert.rejects(driver.writer('/a/x/y/upload'), IO);
      assert.deepEqual(await tree(outside), []);
      await driver.putContent('/a/b/d/e/file', Buffer.from('y'));
      assert.equal(await readFile(join(root, 'a', 'b', 'd', 'e', 'file'), 'utf8'), 'y');
    });

    it('forgets a deleted directory and everything below it', async () => {
      const { driver, root, base } = await newDriver();
      const outside = join(base, 'outside');
      await mkdir(join(outside, 'sub'), { recursive: true });
      await writeFile(join(outside, 'sub', 'file'), 'secret');
      await driver.putContent('/d/sub/file', Buffer.from('inside'));
      await driver.putContent('/d/file', Buffer.from('inside'));
      assert.equal((await driver.getContent('/d/sub/file')).toString(), 'inside');
      await driver.delete('/d');
      // Someone puts a link where the deleted directory was: checked again, refused.
      await symlink(outside, join(root, 'd'));
      await assert.rejects(driver.getContent('/d/sub/file'), IO);
      await assert.rejects(driver.getContent('/d/file'), IO);
      await assert.rejects(driver.putContent('/d/sub/new', Buffer.from('x')), IO);
      assert.deepEqual(await tree(outside), ['sub', 'sub/file']);
    });

    it('remembers nothing stale across moves onto a former directory', async () => {
      const { driver, root, base } = await newDriver();
      const outside = join(base, 'outside');
      await mkdir(outside);
      await driver.putContent('/m/dir/file', Buffer.from('x'));
      await driver.putContent('/src', Buffer.from('moved'));
      await driver.delete('/m/dir/file');
      // A move cannot replace a directory: it fails, and nothing is remembered wrongly.
      await assert.rejects(driver.move('/src', '/m/dir'), IO);
      await driver.delete('/m/dir');
      await driver.move('/src', '/m/dir');
      assert.equal((await driver.getContent('/m/dir')).toString(), 'moved');
      await assert.rejects(driver.getContent('/m/dir/file'), NOT_FOUND_CODE);
      await driver.delete('/m/dir');
      await symlink(outside, join(root, 'm', 'dir'));
      await assert.rejects(driver.putContent('/m/dir/file', Buffer.from('x')), IO);
      assert.deepEqual(await tree(outside), []);
    });

    it('creates parents again when a remembered directory was removed behind its back', async () => {
      const { driver, root } = await newDriver();
      await driver.putContent('/r/s/file', Buffer.from('x'));
      await rm(join(root, 'r'), { recursive: true });
      await assert.rejects(driver.getContent('/r/s/file'), NOT_FOUND_CODE);
      await driver.putContent('/r/s/other', Buffer.from('y'));
      assert.equal((await driver.getContent('/r/s/other')).toString(), 'y');
      await rm(join(root, 'r'), { recursive: true });
      await driver.putContent('/r/s/deeper/file', Buffer.from('w'));
      assert.equal((await driver.getContent('/r/s/deeper/file')).toString(), 'w');
      await rm(join(root, 'r'), { recursive: true });
      const writer = await driver.writer('/r/s/upload');
      await writer.write(Buffer.from('z'));
      await writer.commit();
      assert.equal((await driver.getContent('/r/s/upload')).toString(), 'z');
    });
  });

  describe('getContent', () => {
    it('reads empty, small, exactly-buffer-sized and large files whole', async () => {
      const { driver } = await newDriver();
      for (const size of [0, 1, 71, 8191, 8192, 16383, 16384, 16385, 32768, 100_000, 3 * MiB]) {
        const content = Buffer.alloc(size);
        randomFillSync(content);
        await driver.putContent(`/f/${size}`, content);
        const read = await driver.getContent(`/f/${size}`);
        assert.equal(read.length, size, `size ${size}`);
        assert.ok(read.equals(content), `size ${size}`);
      }
    });

    it('sees a file that grew since it was last read', async () => {
      const { driver, root } = await newDriver();
      await driver.putContent('/g', Buffer.from('short'));
      assert.equal((await driver.getContent('/g')).toString(), 'short');
      const long = Buffer.alloc(40_000, 7);
      await writeFile(join(root, 'g'), long);
      assert.ok((await driver.getContent('/g')).equals(long));
    });

    it('is NOT_FOUND for a directory', async () => {
      const { driver } = await newDriver();
      await driver.putContent('/dir/file', Buffer.from('x'));
      await assert.rejects(driver.getContent('/dir'), NOT_FOUND_CODE);
    });
  });

  it('streams a 64 MiB file written in 1 MiB chunks with the right sha256 and flat memory', async () => {
    const { driver } = await newDriver();
    const size = 64 * MiB;
    const chunk = Buffer.alloc(MiB);
    const written = createHash('sha256');
    const gc = collector();
    const liveBefore = live(gc);
    let peak = liveBefore;
    const writer = await driver.writer('/big/data');
    for (let i = 0; i < size / MiB; i++) {
      randomFillSync(chunk); // one buffer, refilled: the test itself holds 1 MiB
      written.update(chunk);
      await writer.write(chunk);
      if (i % 8 === 0) peak = Math.max(peak, live(gc));
    }
    assert.equal(writer.size, size);
    await writer.commit();

    const read = createHash('sha256');
    let total = 0;
    let chunks = 0;
    for await (const piece of await driver.reader('/big/data')) {
      read.update(piece as Buffer);
      total += (piece as Buffer).length;
      if (++chunks % 8 === 0) peak = Math.max(peak, live(gc));
    }
    peak = Math.max(peak, live(gc));
    assert.equal(total, size);
    assert.equal(read.digest('hex'), written.digest('hex'));
    // Buffering the file would keep 64 MiB alive; streaming keeps a few MiB. What is
    // measured is memory still referenced (after a collection), not RSS: every read allocates
    // a fresh chunk, and how much of that garbage V8 lets pile up before collecting it is its
    // own policy (about 30 MiB of array buffers on Node 20, 64 MiB on Node 24), so RSS would
    // measure the runtime's collector rather than the driver.
    const growth = peak - liveBefore;
    assert.ok(growth < 16 * MiB, `live memory grew by ${(growth / MiB).toFixed(1)} MiB`);
  });

  it('streams a range from the middle of a large file', async () => {
    const { driver } = await newDriver();
    const content = Buffer.alloc(4 * MiB);
    randomFillSync(content);
    await driver.putContent('/big', content);
    const range = await readAll(await driver.reader('/big', { offset: 3 * MiB + 5, length: 100 }));
    assert.deepEqual(range, content.subarray(3 * MiB + 5, 3 * MiB + 105));
  });
});
