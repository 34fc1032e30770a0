/**
 * The storage driver contract (`src/registry/storage/driver.ts`), run against every driver:
 * distribution's `testsuites.Driver`. A driver's test file is one call:
 *
 *   describeStorageDriver('memory', async () => createMemoryDriver());
 *
 * `make` must return a new, empty driver on every call: each test starts from nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { FileInfo, StorageDriver } from '../../src/registry/storage/index.js';

const NOT_FOUND = { code: 'NV2_ERR_STORAGE_NOT_FOUND' };
const INVALID_PATH = { code: 'NV2_ERR_STORAGE_INVALID_PATH' };
const INVALID_RANGE = { code: 'NV2_ERR_STORAGE_INVALID_RANGE' };
const IO = { code: 'NV2_ERR_STORAGE_IO' };

const MiB = 1024 * 1024;

/** Paths every method must refuse, by what is wrong with them. */
export const INVALID_PATHS: readonly (readonly [string, string])[] = [
  ['relative', 'a/b'],
  ['empty', ''],
  ['a .. segment', '/a/../b'],
  ['a leading ..', '/..'],
  ['a trailing ..', '/a/..'],
  ['a . segment', '/a/./b'],
  ['only .', '/.'],
  ['an empty segment', '/a//b'],
  ['a leading //', '//a'],
  ['a trailing /', '/a/'],
  ['a space', '/a b'],
  ['non-ASCII', '/caf\u00e9'],
  ['a backslash', '/a\\b'],
  ['a NUL', '/a\u0000b'],
  ['a newline', '/a\nb'],
  ['a colon', '/a:b'],
  ['a tilde (temp files use it)', '/a~b'],
  ['more than 4096 characters', `/${'abcdefgh/'.repeat(460)}x`],
];

/** Reads a stream to its end. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** Every file below `path` as the driver's walk reports it. */
async function walked(driver: StorageDriver, path = '/'): Promise<FileInfo[]> {
  const seen: FileInfo[] = [];
  await driver.walk(path, (info) => {
    seen.push(info);
  });
  return seen;
}

/** The direct children of `path`; an emptied directory may vanish, which lists as none. */
async function listOrNone(driver: StorageDriver, path: string): Promise<string[]> {
  try {
    return await driver.list(path);
  } catch (err) {
    if ((err as { code?: unknown }).code === NOT_FOUND.code) return [];
    throw err;
  }
}

async function putAll(driver: StorageDriver, files: Readonly<Record<string, string>>) {
  for (const [path, content] of Object.entries(files)) {
    await driver.putContent(path, Buffer.from(content));
  }
}

function isValidDate(value: unknown): boolean {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/** A tree whose sort orders differ per directory and for whole paths (`-` < `.` < `/`). */
const TREE: Readonly<Record<string, string>> = {
  '/w/B': 'upper case sorts first',
  '/w/a/x': 'inside a',
  '/w/a-b': 'dash',
  '/w/a.txt': 'dot',
  '/w/b/c/d': 'deep',
  '/other': 'outside w',
};

/** Registers the contract suite for one driver. */
export function describeStorageDriver(name: string, make: () => Promise<StorageDriver>): void {
  describe(`storage driver contract: ${name}`, () => {
    it('has a name for logs', async () => {
      const driver = await make();
      assert.equal(typeof driver.name, 'string');
      assert.notEqual(driver.name, '');
    });

    describe('putContent and getContent', () => {
      it('round-trip binary content (every byte value)', async () => {
        const driver = await make();
        const content = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) % 256));
        await driver.putContent('/a/binary', content);
        assert.deepEqual(await driver.getContent('/a/binary'), content);
      });

      it('round-trip empty content', async () => {
        const driver = await make();
        await driver.putContent('/empty', new Uint8Array(0));
        assert.equal((await driver.getContent('/empty')).length, 0);
        assert.equal((await driver.stat('/empty')).size, 0);
      });

      it('round-trip 1 MiB', async () => {
        const driver = await make();
        const content = randomBytes(MiB);
        await driver.putContent('/big', content);
        assert.deepEqual(await driver.getContent('/big'), content);
      });

      it('accept a plain Uint8Array', async () => {
        const driver = await make();
        await driver.putContent('/u8', new Uint8Array([1, 2, 3]));
        assert.deepEqual(await driver.getContent('/u8'), Buffer.from([1, 2, 3]));
      });

      it('accept every kind of valid name', async () => {
        const driver = await make();
        const paths = ['/.hidden', '/a/...', '/A-Z_a-z.0-9', '/x/-', '/x/_'];
        for (const path of paths) await driver.putContent(path, Buffer.from(path));
        for (const path of paths) assert.equal((await driver.getContent(path)).toString(), path);
      });

      it('overwrite replaces the whole content, longer or shorter', async () => {
        const driver = await make();
        await driver.putContent('/f', Buffer.from('a much longer first version'));
        await driver.putContent('/f', Buffer.from('short'));
        assert.equal((await driver.getContent('/f')).toString(), 'short');
        await driver.putContent('/f', Buffer.from('longer again, longer again'));
        assert.equal((await driver.getContent('/f')).toString(), 'longer again, longer again');
        assert.equal((await driver.stat('/f')).size, 26);
      });

      it('creates parent directories', async () => {
        const driver = await make();
        await driver.putContent('/a/b/c/d', Buffer.from('x'));
        for (const dir of ['/a', '/a/b', '/a/b/c']) {
          assert.equal((await driver.stat(dir)).isDirectory, true);
        }
      });

      it('stores a copy: changing the buffers afterwards changes nothing stored', async () => {
        const driver = await make();
        const input = Buffer.from('original');
        await driver.putContent('/f', input);
        input.fill(0);
        const output = await driver.getContent('/f');
        output.fill(0);
        assert.equal((await driver.getContent('/f')).toString(), 'original');
      });

      it('getContent of a missing file, a directory or a path below a file is NOT_FOUND', async () => {
        const driver = await make();
        await driver.putContent('/dir/file', Buffer.from('x'));
        for (const path of ['/missing', '/dir/missing', '/dir', '/dir/file/below']) {
          await assert.rejects(driver.getContent(path), NOT_FOUND, path);
        }
      });

      it('putContent where a directory is, or below a file, fails with IO and changes nothing', async () => {
        const driver = await make();
        await driver.putContent('/dir/file', Buffer.from('kept'));
        await assert.rejects(driver.putContent('/dir', Buffer.from('x')), IO);
        await assert.rejects(driver.putContent('/dir/file/below', Buffer.from('x')), IO);
        assert.equal((await driver.getContent('/dir/file')).toString(), 'kept');
        assert.deepEqual(await driver.list('/dir'), ['/dir/file']);
      });

      it('20 concurrent putContent to one path leave exactly one complete value', async () => {
        const driver = await make();
        const values = Array.from({ length: 20 }, (_, i) => Buffer.alloc(64 * 1024 + i, i + 1));
        await Promise.all(values.map((value) => driver.putContent('/race/f', value)));
        const stored = await driver.getContent('/race/f');
        assert.ok(
          values.some((value) => value.equals(stored)),
          'the stored content is one of the values, whole',
        );
        assert.deepEqual(await driver.list('/race'), ['/race/f']);
      });
    });

    describe('reader', () => {
      const DATA = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 13) % 256));

      it('streams a whole file (1 MiB)', async () => {
        const driver = await make();
        const content = randomBytes(MiB);
        await driver.putContent('/big', content);
        assert.deepEqual(await readAll(await driver.reader('/big')), content);
      });

      it('streams an empty file as no bytes', async () => {
        const driver = await make();
        await driver.putContent('/empty', new Uint8Array(0));
        assert.equal((await readAll(await driver.reader('/empty'))).length, 0);
      });

      const ranges: readonly (readonly [string, { offset?: number; length?: number }, Buffer])[] = [
        ['no options', {}, DATA],
        ['offset 0', { offset: 0 }, DATA],
        ['an offset', { offset: 10 }, DATA.subarray(10)],
        ['an offset and a length', { offset: 10, length: 5 }, DATA.subarray(10, 15)],
        ['a length', { length: 5 }, DATA.subarray(0, 5)],
        ['the last byte', { offset: 999, length: 1 }, DATA.subarray(999)],
        ['a length past the end (to the end)', { offset: 990, length: 100 }, DATA.subarray(990)],
        ['length 0 (empty)', { offset: 10, length: 0 }, Buffer.alloc(0)],
        ['offset at the end (empty)', { offset: 1000 }, Buffer.alloc(0)],
        ['offset past the end (empty, not an error)', { offset: 1001 }, Buffer.alloc(0)],
        ['offset far past the end (empty)', { offset: 10 ** 9, length: 10 }, Buffer.alloc(0)],
      ];
      for (const [what, options, expected] of ranges) {
        it(`reads ${what}`, async () => {
          const driver = await make();
          await driver.putContent('/data', DATA);
          assert.deepEqual(await readAll(await driver.reader('/data', options)), expected);
        });
      }

      it('refuses a negative or non-integer offset or length with INVALID_RANGE', async () => {
        const driver = await make();
        await driver.putContent('/data', DATA);
        const bad = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53];
        for (const value of bad) {
          await assert.rejects(driver.reader('/data', { offset: value }), INVALID_RANGE);
          await assert.rejects(driver.reader('/data', { length: value }), INVALID_RANGE);
        }
      });

      it('reader of a missing file, a directory or a path below a file is NOT_FOUND', async () => {
        const driver = await make();
        await driver.putContent('/dir/file', Buffer.from('x'));
        for (const path of ['/missing', '/dir/missing', '/dir', '/dir/file/below']) {
          await assert.rejects(driver.reader(path), NOT_FOUND, path);
        }
      });

      it('a reader opened before an overwrite reads one complete value (old or new)', async () => {
        const driver = await make();
        const before = randomBytes(256 * 1024);
        const after = randomBytes(256 * 1024);
        await driver.putContent('/f', before);
        const stream = await driver.reader('/f');
        await driver.putContent('/f', after);
        const read = await readAll(stream);
        assert.ok(read.equals(before) || read.equals(after), 'old or new content, whole');
        assert.deepEqual(await driver.getContent('/f'), after);
      });

      it('a reader opened before a move over the file reads one complete value', async () => {
        const driver = await make();
        const before = randomBytes(256 * 1024);
        const after = randomBytes(256 * 1024);
        await driver.putContent('/f', before);
        await driver.putContent('/g', after);
        const stream = await driver.reader('/f');
        await driver.move('/g', '/f');
        const read = await readAll(stream);
        assert.ok(read.equals(before) || read.equals(after), 'old or new content, whole');
      });
    });

    describe('writer', () => {
      it('starts empty, tracks its size and makes the content readable on commit', async () => {
        const driver = await make();
        const writer = await driver.writer('/up/data');
        assert.equal(writer.size, 0);
        await writer.write(Buffer.from('hello '));
        assert.equal(writer.size, 6);
        await writer.write(new Uint8Array(0));
        assert.equal(writer.size, 6);
        await writer.write(new TextEncoder().encode('world'));
        assert.equal(writer.size, 11);
        await writer.commit();
        assert.equal((await driver.getContent('/up/data')).toString(), 'hello world');
        assert.equal((await driver.stat('/up/data')).size, 11);
      });

      it('writes 4 MiB in 1 MiB chunks that read back whole', async () => {
        const driver = await make();
        const chunks = Array.from({ length: 4 }, () => randomBytes(MiB));
        const writer = await driver.writer('/up/big');
        for (const chunk of chunks) await writer.write(chunk);
        assert.equal(writer.size, 4 * MiB);
        await writer.commit();
        assert.deepEqual(await readAll(await driver.reader('/up/big')), Buffer.concat(chunks));
      });

      it('with append, continues an existing file from its size', async () => {
        const driver = await make();
        await driver.putContent('/up/data', Buffer.from('hello '));
        const writer = await driver.writer('/up/data', { append: true });
        assert.equal(writer.size, 6);
        await writer.write(Buffer.from('world'));
        assert.equal(writer.size, 11);
        await writer.commit();
        assert.equal((await driver.getContent('/up/data')).toString(), 'hello world');
      });

      it('with append, creates a missing file', async () => {
        const driver = await make();
        const writer = await driver.writer('/up/new', { append: true });
        assert.equal(writer.size, 0);
        await writer.write(Buffer.from('x'));
        await writer.commit();
        assert.equal((await driver.getContent('/up/new')).toString(), 'x');
      });

      it('without append, replaces an existing file', async () => {
        const driver = await make();
        await driver.putContent('/up/data', Buffer.from('old and long content'));
        const writer = await driver.writer('/up/data');
        assert.equal(writer.size, 0);
        await writer.write(Buffer.from('new'));
        await writer.commit();
        assert.equal((await driver.getContent('/up/data')).toString(), 'new');
      });

      it('close keeps what was written, and an appending writer continues it', async () => {
        const driver = await make();
        const first = await driver.writer('/up/data');
        await first.write(Buffer.from('part one, '));
        await first.close();
        assert.equal((await driver.getContent('/up/data')).toString(), 'part one, ');
        const second = await driver.writer('/up/data', { append: true });
        assert.equal(second.size, 10);
        await second.write(Buffer.from('part two'));
        assert.equal(second.size, 18);
        await second.commit();
        assert.equal((await driver.getContent('/up/data')).toString(), 'part one, part two');
      });

      it('cancel removes the file', async () => {
        const driver = await make();
        await driver.putContent('/up/other', Buffer.from('kept'));
        const writer = await driver.writer('/up/data');
        await writer.write(Buffer.from('discarded'));
        await writer.cancel();
        await assert.rejects(driver.getContent('/up/data'), NOT_FOUND);
        await assert.rejects(driver.stat('/up/data'), NOT_FOUND);
        assert.deepEqual(await driver.list('/up'), ['/up/other']);
      });

      it('cancel of an appending writer removes the whole file', async () => {
        const driver = await make();
        await driver.putContent('/up/data', Buffer.from('existing'));
        const writer = await driver.writer('/up/data', { append: true });
        await writer.write(Buffer.from(' more'));
        await writer.cancel();
        await assert.rejects(driver.getContent('/up/data'), NOT_FOUND);
      });

      it('applies writes made without awaiting in call order', async () => {
        const driver = await make();
        const writer = await driver.writer('/up/data');
        const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000 + i, i));
        await Promise.all(parts.map((part) => writer.write(part)));
        const total = parts.reduce((sum, part) => sum + part.length, 0);
        assert.equal(writer.size, total);
        await writer.commit();
        assert.deepEqual(await driver.getContent('/up/data'), Buffer.concat(parts));
      });

      it('once committed refuses write, commit and cancel with IO; close is a no-op', async () => {
        const driver = await make();
        const writer = await driver.writer('/up/data');
        await writer.write(Buffer.from('x'));
        await writer.commit();
        await assert.rejects(writer.write(Buffer.from('y')), IO);
        await assert.rejects(writer.commit(), IO);
        await assert.rejects(writer.cancel(), IO);
        await writer.close();
        await writer.close();
        assert.equal((await driver.getContent('/up/data')).toString(), 'x');
      });

      it('once closed or cancelled refuses write with IO', async () => {
        const driver = await make();
        const closed = await driver.writer('/up/closed');
        await closed.close();
        await assert.rejects(closed.write(Buffer.from('y')), IO);
        await assert.rejects(closed.commit(), IO);
        const cancelled = await driver.writer('/up/cancelled');
        await cancelled.cancel();
        await assert.rejects(cancelled.write(Buffer.from('y')), IO);
        await cancelled.close();
        assert.equal((await driver.getContent('/up/closed')).length, 0);
      });

      it('fails with IO where a directory is, or below a file', async () => {
        const driver = await make();
        await driver.putContent('/dir/file', Buffer.from('kept'));
        await assert.rejects(driver.writer('/dir'), IO);
        await assert.rejects(driver.writer('/dir', { append: true }), IO);
        await assert.rejects(driver.writer('/dir/file/below'), IO);
        assert.equal((await driver.getContent('/dir/file')).toString(), 'kept');
      });
    });

    describe('stat', () => {
      it('describes a file', async () => {
        const driver = await make();
        await driver.putContent('/a/f', Buffer.from('12345'));
        const info = await driver.stat('/a/f');
        assert.equal(info.path, '/a/f');
        assert.equal(info.size, 5);
        assert.equal(info.isDirectory, false);
        assert.ok(isValidDate(info.modTime));
      });

      it('describes a directory with size 0', async () => {
        const driver = await make();
        await driver.putContent('/a/b/f', Buffer.from('12345'));
        const info = await driver.stat('/a/b');
        assert.equal(info.path, '/a/b');
        assert.equal(info.size, 0);
        assert.equal(info.isDirectory, true);
        assert.ok(isValidDate(info.modTime));
      });

      it('describes the root as a directory, even when storage is empty', async () => {
        const driver = await make();
        const info = await driver.stat('/');
        assert.equal(info.path, '/');
        assert.equal(info.isDirectory, true);
        assert.equal(info.size, 0);
      });

      it('of a missing path or a path below a file is NOT_FOUND', async () => {
        const driver = await make();
        await driver.putContent('/file', Buffer.from('x'));
        for (const path of ['/missing', '/missing/deeper', '/file/below']) {
          await assert.rejects(driver.stat(path), NOT_FOUND, path);
        }
      });
    });

    describe('list', () => {
      it('returns the direct children as full paths, sorted', async () => {
        const driver = await make();
        await putAll(driver, TREE);
        const children = await driver.list('/w');
        assert.deepEqual(children, ['/w/B', '/w/a', '/w/a-b', '/w/a.txt', '/w/b']);
        assert.deepEqual(await driver.list('/'), ['/other', '/w']);
        assert.deepEqual(await driver.list('/w/b'), ['/w/b/c']);
        assert.deepEqual(await driver.list('/w/b/c'), ['/w/b/c/d']);
      });

      it('of the empty root is empty', async () => {
        const driver = await make();
        assert.deepEqual(await driver.list('/'), []);
      });

      it('of a missing directory, a file or a path below a file is NOT_FOUND', async () => {
        const driver = await make();
        await driver.putContent('/dir/file', Buffer.from('x'));
        for (const path of ['/missing', '/dir/missing', '/dir/file', '/dir/file/below']) {
          await assert.rejects(driver.list(path), NOT_FOUND, path);
        }
      });
    });

    describe('walk', () => {
      it('visits every file below, depth first, whole paths in ascending order', async () => {
        const driver = await make();
        await putAll(driver, TREE);
        const seen = await walked(driver);
        const paths = seen.map((info) => info.path);
        assert.deepEqual(paths, ['/other', '/w/B', '/w/a-b', '/w/a.txt', '/w/a/x', '/w/b/c/d']);
        assert.deepEqual(paths, Object.keys(TREE).sort());
        for (const info of seen) {
          assert.equal(info.isDirectory, false);
          assert.equal(info.size, Buffer.byteLength(TREE[info.path]!));
          assert.ok(isValidDate(info.modTime));
        }
      });

      it('visits only the files below the path given', async () => {
        const driver = await make();
        await putAll(driver, TREE);
        const paths = (await walked(driver, '/w/b')).map((info) => info.path);
        assert.deepEqual(paths, ['/w/b/c/d']);
        const a = (await walked(driver, '/w/a')).map((info) => info.path);
        assert.deepEqual(a, ['/w/a/x']);
      });

      it('of the empty root visits nothing', async () => {
        const driver = await make();
        assert.deepEqual(await walked(driver), []);
      });

      it('awaits each async visitor before the next, and before it resolves', async () => {
        const driver = await make();
        await putAll(driver, TREE);
        let active = 0;
        let maxActive = 0;
        const done: string[] = [];
        await driver.walk('/', async (info) => {
          active++;
          maxActive = Math.max(maxActive, active);
          await new Promise((resolve) => setImmediate(resolve));
          await new Promise((resolve) => setImmediate(resolve));
          done.push(info.path);
          active--;
        });
        assert.equal(maxActive, 1);
        assert.deepEqual(done, Object.keys(TREE).sort());
      });

      it('stops at a visitor error and rejects with that error', async () => {
        const driver = await make();
        await putAll(driver, TREE);
        const boom = new Error('visitor failed');
        const seen: string[] = [];
        await assert.rejects(
          driver.walk('/', async (info) => {
            seen.push(info.path);
            if (seen.length === 2) throw boom;
          }),
          (err) => err === boom,
        );
        assert.equal(seen.length, 2);
      });

      it('skips files deleted during the walk (garbage collection deletes as it goes)', async () => {
        const driver = await make();
        await putAll(driver, TREE);
        const seen: string[] = [];
        await driver.walk('/', async (info) => {
          seen.push(info.path);
          if (info.path === '/w/B') await driver.delete('/w/a-b');
          if (info.path === '/w/a.txt') await driver.delete('/w/a');
          await driver.delete(info.path);
        });
        assert.deepEqual(seen, ['/other', '/w/B', '/w/a.txt', '/w/b/c/d']);
        assert.deepEqual(await walked(driver), []);
      });

      it('of a missing directory, a file or a path below a file is NOT_FOUND', async () => {
        const driver = await make();
        await driver.putContent('/dir/file', Buffer.from('x'));
        for (const path of ['/missing', '/dir/file', '/dir/file/below']) {
          await assert.rejects(
            driver.walk(path, () => assert.fail('visited')),
            NOT_FOUND,
            path,
          );
        }
      });
    });

    describe('move', () => {
      it('moves a file, creating the destination parents', async () => {
        const driver = await make();
        const content = randomBytes(MiB);
        await driver.putContent('/uploads/1/data', content);
        await driver.move('/uploads/1/data', '/blobs/ab/cd/data');
        assert.deepEqual(await driver.getContent('/blobs/ab/cd/data'), content);
        await assert.rejects(driver.getContent('/uploads/1/data'), NOT_FOUND);
        assert.deepEqual(await listOrNone(driver, '/uploads/1'), []);
      });

      it('replaces the destination', async () => {
        const driver = await make();
        await driver.putContent('/src', Buffer.from('new'));
        await driver.putContent('/dst', Buffer.from('old and longer'));
        await driver.move('/src', '/dst');
        assert.equal((await driver.getContent('/dst')).toString(), 'new');
        assert.deepEqual(await driver.list('/'), ['/dst']);
      });

      it('moves a file written by a writer', async () => {
        const driver = await make();
        const writer = await driver.writer('/up/data');
        await writer.write(Buffer.from('uploaded'));
        await writer.commit();
        await driver.move('/up/data', '/final/data');
        assert.equal((await driver.getContent('/final/data')).toString(), 'uploaded');
      });

      it('onto itself keeps the file', async () => {
        const driver = await make();
        await driver.putContent('/f', Buffer.from('same'));
        await driver.move('/f', '/f');
        assert.equal((await driver.getContent('/f')).toString(), 'same');
      });

      it('of a missing source, a directory or a path below a file is NOT_FOUND, destination untouched', async () => {
        const driver = await make();
        await driver.putContent('/dst', Buffer.from('kept'));
        await driver.putContent('/dir/file', Buffer.from('x'));
        for (const source of ['/missing', '/dir', '/dir/file/below']) {
          await assert.rejects(driver.move(source, '/dst'), NOT_FOUND, source);
          await assert.rejects(driver.move(source, '/new/dst'), NOT_FOUND, source);
        }
        assert.equal((await driver.getContent('/dst')).toString(), 'kept');
        await assert.rejects(driver.stat('/new'), NOT_FOUND);
        assert.equal((await driver.getContent('/dir/file')).toString(), 'x');
      });

      it('onto a directory or below a file fails with IO, source untouched', async () => {
        const driver = await make();
        await driver.putContent('/src', Buffer.from('kept'));
        await driver.putContent('/dir/file', Buffer.from('x'));
        await assert.rejects(driver.move('/src', '/dir'), IO);
        await assert.rejects(driver.move('/src', '/dir/file/below'), IO);
        await assert.rejects(driver.move('/src', '/src/below'), IO);
        assert.equal((await driver.getContent('/src')).toString(), 'kept');
        assert.deepEqual(await driver.list('/dir'), ['/dir/file']);
      });
    });

    describe('delete', () => {
      it('deletes a file and keeps its siblings', async () => {
        const driver = await make();
        await driver.putContent('/d/a', Buffer.from('a'));
        await driver.putContent('/d/b', Buffer.from('b'));
        await driver.delete('/d/a');
        await assert.rejects(driver.getContent('/d/a'), NOT_FOUND);
        assert.deepEqual(await driver.list('/d'), ['/d/b']);
      });

      it('deletes a directory with everything below it', async () => {
        const driver = await make();
        await putAll(driver, TREE);
        await driver.delete('/w');
        for (const path of ['/w', '/w/a', '/w/a/x', '/w/b/c/d']) {
          await assert.rejects(driver.stat(path), NOT_FOUND, path);
        }
        assert.deepEqual(
          (await walked(driver)).map((info) => info.path),
          ['/other'],
        );
        assert.deepEqual(await driver.list('/'), ['/other']);
      });

      it('of the last file leaves nothing listed (the directory may vanish)', async () => {
        const driver = await make();
        await driver.putContent('/d/only', Buffer.from('x'));
        await driver.delete('/d/only');
        assert.deepEqual(await listOrNone(driver, '/d'), []);
        assert.deepEqual(await walked(driver), []);
      });

      it('of a missing path or a path below a file is NOT_FOUND', async () => {
        const driver = await make();
        await driver.putContent('/file', Buffer.from('x'));
        for (const path of ['/missing', '/missing/deeper', '/file/below']) {
          await assert.rejects(driver.delete(path), NOT_FOUND, path);
        }
        await driver.delete('/file');
        await assert.rejects(driver.delete('/file'), NOT_FOUND);
      });
    });

    describe('paths', () => {
      type Call = (driver: StorageDriver, path: string) => Promise<unknown>;
      const CALLS: readonly (readonly [string, Call])[] = [
        ['getContent', (d, p) => d.getContent(p)],
        ['putContent', (d, p) => d.putContent(p, Buffer.from('x'))],
        ['reader', (d, p) => d.reader(p)],
        ['writer', (d, p) => d.writer(p)],
        ['writer (append)', (d, p) => d.writer(p, { append: true })],
        ['stat', (d, p) => d.stat(p)],
        ['list', (d, p) => d.list(p)],
        ['delete', (d, p) => d.delete(p)],
        ['walk', (d, p) => d.walk(p, () => assert.fail('visited'))],
        ['move (source)', (d, p) => d.move(p, '/dst')],
        ['move (destination)', (d, p) => d.move('/src', p)],
      ];

      for (const [what, path] of INVALID_PATHS) {
        it(`every method refuses a path with ${what} (INVALID_PATH), touching nothing`, async () => {
          const driver = await make();
          await driver.putContent('/src', Buffer.from('kept'));
          for (const [method, call] of CALLS) {
            await assert.rejects(call(driver, path), INVALID_PATH, method);
          }
          assert.deepEqual(await driver.list('/'), ['/src']);
          assert.equal((await driver.getContent('/src')).toString(), 'kept');
        });
      }

      it('checks the path before the medium: an invalid path naming a present file is refused', async () => {
        const driver = await make();
        await driver.putContent('/b', Buffer.from('x'));
        await assert.rejects(driver.getContent('/a/../b'), INVALID_PATH);
        await assert.rejects(driver.delete('/./b'), INVALID_PATH);
        assert.equal((await driver.getContent('/b')).toString(), 'x');
      });

      it('the root is valid for stat, list and walk only', async () => {
        const driver = await make();
        await driver.putContent('/src', Buffer.from('kept'));
        const refused = CALLS.filter(([method]) => !['stat', 'list', 'walk'].includes(method));
        for (const [method, call] of refused) {
          await assert.rejects(call(driver, '/'), INVALID_PATH, method);
        }
        assert.equal((await driver.stat('/')).isDirectory, true);
        assert.deepEqual(await driver.list('/'), ['/src']);
        assert.deepEqual(
          (await walked(driver, '/')).map((info) => info.path),
          ['/src'],
        );
      });
    });
  });
}
