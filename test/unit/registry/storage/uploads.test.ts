import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { StorageError } from '../../../../src/errors.js';
import type { Digest } from '../../../../src/oci/index.js';
import { digestOf, parseDigest } from '../../../../src/oci/index.js';
import { createBlobStore } from '../../../../src/registry/storage/blobs.js';
import type { StorageDriver } from '../../../../src/registry/storage/driver.js';
import { createFilesystemDriver } from '../../../../src/registry/storage/filesystem.js';
import { createMemoryDriver } from '../../../../src/registry/storage/memory.js';
import {
  blobDataPath,
  uploadDataPath,
  uploadStartedAtPath,
  uploadsPath,
} from '../../../../src/registry/storage/paths.js';
import type { UploadStoreOptions } from '../../../../src/registry/storage/uploads.js';
import { isUploadId } from '../../../../src/registry/storage/upload-sessions.js';
import { createUploadStore } from '../../../../src/registry/storage/uploads.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { createStoreCaches } from '../../../../src/registry/storage/caches.js';
import { cachesOf } from '../../../helpers/store-caches.js';

const MiB = 1024 * 1024;

interface DriverCase {
  readonly driver: StorageDriver;
  /**
   * A new driver object over the same storage, standing for a restarted process (no
   * in-memory upload state); absent where storage does not outlive the driver object.
   */
  readonly reopen?: () => StorageDriver;
}

/**
 * The memory driver with writers like S3's (`wholeFileWriters`): a new writer told its size
 * shows nothing until every announced byte is written and it commits or closes, then the
 * whole file at once; closed short, it keeps nothing. The upload store's one-request path
 * (`putBlob` straight to the blob's path) runs on it.
 */
function createWholeFileDriver(): StorageDriver {
  const inner = createMemoryDriver();
  const refuse = (what: string) => new StorageError('NV2_ERR_STORAGE_IO', what);
  return {
    ...inner,
    wholeFileWriters: true,
    async writer(path, options) {
      const size = options?.size;
      if (size === undefined || options?.append === true) return inner.writer(path, options);
      const chunks: Buffer[] = [];
      let written = 0;
      let finished = false;
      const publish = async (): Promise<void> => {
        finished = true;
        if (written === size) await inner.putContent(path, Buffer.concat(chunks));
      };
      return {
        get size() {
          return written;
        },
        async write(chunk) {
          if (finished) throw refuse('writer finished');
          if (written + chunk.byteLength > size) throw refuse('more than announced');
          chunks.push(Buffer.from(chunk));
          written += chunk.byteLength;
        },
        async commit() {
          if (finished) throw refuse('writer finished');
          if (written !== size) {
            finished = true;
            throw refuse('fewer bytes than announced');
          }
          await publish();
        },
        async close() {
          if (!finished) await publish();
        },
        async cancel() {
          finished = true;
        },
      };
    },
  };
}

/** Every driver the upload store runs over; each test gets a fresh, empty one. */
const DRIVERS: readonly [string, () => Promise<DriverCase>][] = [
  ['memory', async () => ({ driver: createMemoryDriver() })],
  ['memory with whole-file writers', async () => ({ driver: createWholeFileDriver() })],
  [
    'filesystem',
    async () => {
      const root = await tempDir();
      return {
        driver: createFilesystemDriver({ root }),
        reopen: () => createFilesystemDriver({ root }),
      };
    },
  ],
];

/** A request body: the parts, with a turn of the event loop before each (as sockets do). */
async function* body(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    yield typeof part === 'string' ? Buffer.from(part) : part;
  }
}

/** A body that delivers `parts`, then fails as an aborted request does. */
async function* abortedBody(...parts: string[]): AsyncGenerator<Uint8Array> {
  yield* body(...parts);
  throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

/** Session directories left under a repository's `_uploads`. */
async function sessionsLeft(driver: StorageDriver, repo: string): Promise<string[]> {
  try {
    return await driver.list(uploadsPath(repo));
  } catch (err) {
    if ((err as { code?: string }).code === 'NV2_ERR_STORAGE_NOT_FOUND') return [];
    throw err;
  }
}

const digest = (text: string): Digest => digestOf(Buffer.from(text));

/** Deterministic UUID v4 ids: 00000000-0000-4000-8000-<n>. */
function sequentialIds(): () => string {
  let n = 0;
  return () => `00000000-0000-4000-8000-${(++n).toString(16).padStart(12, '0')}`;
}

for (const [name, makeDriver] of DRIVERS) {
  describe(`upload store (${name} driver)`, () => {
    async function setup(options: UploadStoreOptions = {}) {
      const driverCase = await makeDriver();
      const { driver } = driverCase;
      return {
        ...driverCase,
        uploads: createUploadStore(driver, cachesOf(driver), options),
        blobs: createBlobStore(driver, cachesOf(driver)),
      };
    }

    it('starts sessions with random UUID v4 ids and the injected clock', async () => {
      const startedAt = new Date('2024-05-01T12:00:00.123Z');
      const { uploads } = await setup({ now: () => startedAt });
      const a = await uploads.start('lib/a');
      const b = await uploads.start('lib/a');
      assert.ok(isUploadId(a.id) && isUploadId(b.id));
      assert.notEqual(a.id, b.id);
      assert.deepEqual(a, { id: a.id, repo: 'lib/a', size: 0, startedAt });
      assert.deepEqual(await uploads.get('lib/a', a.id), a);
    });

    it('uploads in ordered chunks, then commits a readable, linked blob', async () => {
      const { driver, uploads, blobs } = await setup();
      const session = await uploads.start('lib/a');
      let after = await uploads.append('lib/a', session.id, body('hello, '), {
        offset: 0,
        length: 7,
      });
      assert.equal(after.size, 7);
      after = await uploads.append('lib/a', session.id, body('wor', 'ld'), { offset: 7 });
      assert.equal(after.size, 12);
      assert.equal((await uploads.get('lib/a', session.id))?.size, 12);
      const blob = await uploads.commit('lib/a', session.id, digest('hello, world!'), body('!'), {
        length: 1,
      });
      assert.deepEqual(blob, { digest: digest('hello, world!'), size: 13 });
      assert.deepEqual(await blobs.stat('lib/a', blob.digest), blob);
      assert.equal(
        (await readAll(await blobs.open('lib/a', blob.digest))).toString(),
        'hello, world!',
      );
      // The session is gone, and nothing of it is left in storage.
      assert.equal(await uploads.get('lib/a', session.id), undefined);
      assert.deepEqual(await sessionsLeft(driver, 'lib/a'), []);
      await assert.rejects(uploads.append('lib/a', session.id, body('x')), {
        code: 'BLOB_UPLOAD_UNKNOWN',
      });
    });

    it('refuses an out-of-order chunk with RANGE_INVALID and leaves the session unchanged', async () => {
      const { uploads } = await setup();
      const session = await uploads.start('lib/a');
      await uploads.append('lib/a', session.id, body('abc'), { offset: 0 });
      for (const offset of [0, 2, 4, 100]) {
        await assert.rejects(uploads.append('lib/a', session.id, body('XYZ'), { offset }), {
          code: 'RANGE_INVALID',
        });
      }
      assert.equal((await uploads.get('lib/a', session.id))?.size, 3);
      await uploads.append('lib/a', session.id, body('def'), { offset: 3 });
      assert.deepEqual(await uploads.commit('lib/a', session.id, digest('abcdef')), {
        digest: digest('abcdef'),
        size: 6,
      });
    });

    it('refuses a chunk of the wrong length with SIZE_INVALID, never writing past the length', async () => {
      const { uploads } = await setup();
      const session = await uploads.start('lib/a');
      // Too short: what arrived is kept (the client resumes from the offset GET reports).
      await assert.rejects(
        uploads.append('lib/a', session.id, body('ab'), { offset: 0, length: 5 }),
        { code: 'SIZE_INVALID' },
      );
      assert.equal((await uploads.get('lib/a', session.id))?.size, 2);
      // Too long: cut at the declared length.
      await assert.rejects(
        uploads.append('lib/a', session.id, body('cd', 'efgh'), { offset: 2, length: 3 }),
        { code: 'SIZE_INVALID' },
      );
      assert.equal((await uploads.get('lib/a', session.id))?.size, 5);
      // The final chunk of a commit is checked the same way, and the session survives it.
      await assert.rejects(
        uploads.commit('lib/a', session.id, digest('abcdefg'), body('fg'), { length: 1 }),
        { code: 'SIZE_INVALID' },
      );
      await assert.rejects(
        uploads.commit('lib/a', session.id, digest('abcdef'), undefined, { length: 1 }),
        {
          code: 'SIZE_INVALID',
        },
      );
      assert.equal((await uploads.get('lib/a', session.id))?.size, 6);
      assert.deepEqual(await uploads.commit('lib/a', session.id, digest('abcdef')), {
        digest: digest('abcdef'),
        size: 6,
      });
    });

    it('putBlob with the wrong length fails with SIZE_INVALID and leaves nothing', async () => {
      const { driver, uploads, blobs } = await setup();
      for (const length of [3, 10]) {
        await assert.rejects(
          uploads.putBlob('lib/a', digest('hello'), body('hel', 'lo'), { length }),
          { code: 'SIZE_INVALID' },
        );
      }
      assert.equal(await blobs.stat('lib/a', digest('hello')), undefined);
      assert.deepEqual(await sessionsLeft(driver, 'lib/a'), []);
      await assert.rejects(driver.stat(blobDataPath(digest('hello'))), {
        code: 'NV2_ERR_STORAGE_NOT_FOUND',
      });
    });

    it('on a digest mismatch fails with DIGEST_INVALID, discards the session, stores no blob', async () => {
      const { driver, uploads, blobs } = await setup();
      const session = await uploads.start('lib/a');
      await uploads.append('lib/a', session.id, body('real content'));
      const claimed = digest('other content');
      await assert.rejects(uploads.commit('lib/a', session.id, claimed), {
        code: 'DIGEST_INVALID',
      });
      assert.equal(await uploads.get('lib/a', session.id), undefined);
      assert.deepEqual(await sessionsLeft(driver, 'lib/a'), []);
      assert.equal(await blobs.stat('lib/a', claimed), undefined);
      assert.equal(await blobs.stat('lib/a', digest('real content')), undefined);
      await assert.rejects(driver.stat(blobDataPath(claimed)), {
        code: 'NV2_ERR_STORAGE_NOT_FOUND',
      });
      await assert.rejects(uploads.putBlob('lib/a', claimed, body('real content')), {
        code: 'DIGEST_INVALID',
      });
      assert.deepEqual(await sessionsLeft(driver, 'lib/a'), []);
    });

    it('putBlob of other bytes under a stored digest fails with DIGEST_INVALID; the blob stays', async () => {
      const { driver, uploads } = await setup();
      const d = digest('stored bytes');
      await uploads.putBlob('lib/a', d, body('stored ', 'bytes'), { length: 12 });
      await assert.rejects(uploads.putBlob('lib/a', d, body('forged bytes'), { length: 12 }), {
        code: 'DIGEST_INVALID',
      });
      assert.equal((await driver.getContent(blobDataPath(d))).toString(), 'stored bytes');
      assert.deepEqual(await sessionsLeft(driver, 'lib/a'), []);
    });

    it('an existing blob is not linked without the client sending matching bytes', async () => {
      const { uploads, blobs } = await setup();
      const secret = digest('secret layer');
      await uploads.putBlob('private/a', secret, body('secret layer'));
      const session = await uploads.start('public/b');
      await assert.rejects(uploads.commit('public/b', session.id, secret), {
        code: 'DIGEST_INVALID',
      });
      assert.equal(await blobs.stat('public/b', secret), undefined);
    });

    it('commits an upload of a blob that already exists: links it, drops the upload', async () => {
      const { driver, uploads, blobs } = await setup();
      const d = digest('shared bytes');
      await uploads.putBlob('lib/a', d, body('shared bytes'));
      const session = await uploads.start('lib/b');
      await uploads.append('lib/b', session.id, body('shared ', 'bytes'));
      assert.deepEqual(await uploads.commit('lib/b', session.id, d), { digest: d, size: 12 });
      assert.deepEqual(await uploads.putBlob('lib/a', d, body('shared bytes')), {
        digest: d,
        size: 12,
      });
      for (const repo of ['lib/a', 'lib/b']) {
        assert.equal((await readAll(await blobs.open(repo, d))).toString(), 'shared bytes');
        assert.deepEqual(await sessionsLeft(driver, repo), []);
      }
    });

    it('applies concurrent appends to one session one at a time, in call order', async () => {
      const { uploads, blobs } = await setup();
      const session = await uploads.start('lib/a');
      const first = Array.from({ length: 20 }, (_, i) => `a${i % 10}`);
      const second = Array.from({ length: 20 }, (_, i) => `b${i % 10}`);
      const third = Array.from({ length: 20 }, (_, i) => `c${i % 10}`);
      const results = await Promise.all([
        uploads.append('lib/a', session.id, body(...first)),
        uploads.append('lib/a', session.id, body(...second)),
        uploads.append('lib/a', session.id, body(...third)),
      ]);
      assert.deepEqual(
        results.map((s) => s.size),
        [40, 80, 120],
      );
      const expected = [...first, ...second, ...third].join('');
      const blob = await uploads.commit('lib/a', session.id, digest(expected));
      assert.equal((await readAll(await blobs.open('lib/a', blob.digest))).toString(), expected);
    });

    it('two upload stores over one driver share the session locks', async () => {
      const { driver, uploads } = await setup();
      const other = createUploadStore(driver, cachesOf(driver));
      const session = await uploads.start('lib/a');
      const results = await Promise.allSettled([
        uploads.append('lib/a', session.id, body('one', 'two'), { offset: 0 }),
        other.append('lib/a', session.id, body('ONE', 'TWO'), { offset: 0 }),
      ]);
      assert.deepEqual(
        results.map((r) => (r.status === 'fulfilled' ? r.value.size : r.reason.code)),
        [6, 'RANGE_INVALID'],
      );
    });

    it('of two concurrent chunks at the same offset, one wins and one gets RANGE_INVALID', async () => {
      const { uploads } = await setup();
      const session = await uploads.start('lib/a');
      const results = await Promise.allSettled([
        uploads.append('lib/a', session.id, body('one', 'two'), { offset: 0 }),
        uploads.append('lib/a', session.id, body('ONE', 'TWO'), { offset: 0 }),
      ]);
      assert.equal(results[0].status, 'fulfilled');
      assert.equal(results[1].status, 'rejected');
      assert.equal((results[1] as PromiseRejectedResult).reason.code, 'RANGE_INVALID');
      assert.deepEqual(await uploads.commit('lib/a', session.id, digest('onetwo')), {
        digest: digest('onetwo'),
        size: 6,
      });
    });

    it('a commit queued behind appends sees all of them', async () => {
      const { uploads } = await setup();
      const session = await uploads.start('lib/a');
      const [, , blob] = await Promise.all([
        uploads.append('lib/a', session.id, body('x', 'y')),
        uploads.append('lib/a', session.id, body('z')),
        uploads.commit('lib/a', session.id, digest('xyz')),
      ]);
      assert.deepEqual(blob, { digest: digest('xyz'), size: 3 });
    });

    it('20 concurrent putBlobs of one digest all succeed and store one blob', async () => {
      const { driver, uploads, blobs } = await setup();
      const content = 'same content from 20 clients';
      const d = digest(content);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          uploads.putBlob(`lib/r${i % 4}`, d, body('same content ', 'from 20 clients')),
        ),
      );
      for (const result of results) assert.deepEqual(result, { digest: d, size: content.length });
      assert.equal((await driver.getContent(blobDataPath(d))).toString(), content);
      for (let r = 0; r < 4; r++) {
        assert.equal((await readAll(await blobs.open(`lib/r${r}`, d))).toString(), content);
        assert.deepEqual(await sessionsLeft(driver, `lib/r${r}`), []);
      }
    });

    it('a repository does not see another repository’s uploads or blobs', async () => {
      const { uploads, blobs } = await setup();
      const session = await uploads.start('team/a');
      assert.equal(await uploads.get('team/b', session.id), undefined);
      await assert.rejects(uploads.append('team/b', session.id, body('x')), {
        code: 'BLOB_UPLOAD_UNKNOWN',
      });
      await assert.rejects(uploads.commit('team/b', session.id, digest('')), {
        code: 'BLOB_UPLOAD_UNKNOWN',
      });
      assert.equal(await uploads.cancel('team/b', session.id), false);
      assert.ok(await uploads.get('team/a', session.id));
      const d = digest('mine');
      await uploads.putBlob('team/a', d, body('mine'));
      assert.equal(await blobs.stat('team/b', d), undefined);
      assert.equal(await blobs.stat('team/a/b', d), undefined);
      assert.equal(await blobs.mount('team/c', d, 'team/b'), undefined);
      assert.ok(await blobs.mount('team/c', d, 'team/a'));
      assert.ok(await blobs.stat('team/c', d));
    });

    it('cancels a session', async () => {
      const { driver, uploads } = await setup();
      const session = await uploads.start('lib/a');
      await uploads.append('lib/a', session.id, body('partial'));
      assert.equal(await uploads.cancel('lib/a', session.id), true);
      assert.equal(await uploads.cancel('lib/a', session.id), false);
      assert.equal(await uploads.get('lib/a', session.id), undefined);
      assert.deepEqual(await sessionsLeft(driver, 'lib/a'), []);
      await assert.rejects(uploads.append('lib/a', session.id, body('more')), {
        code: 'BLOB_UPLOAD_UNKNOWN',
      });
      await assert.rejects(uploads.commit('lib/a', session.id, digest('partial')), {
        code: 'BLOB_UPLOAD_UNKNOWN',
      });
    });

    it('treats unknown and malformed ids as unknown sessions, never touching storage', async () => {
      const { uploads } = await setup();
      const real = await uploads.start('lib/a');
      const ids = [
        '00000000-0000-4000-8000-000000000000', // well-formed, never started
        real.id.toUpperCase(),
        '../../../blobs',
        '..',
        '',
        'not-a-uuid',
        `${real.id}/x`,
        `${real.id} `,
        '00000000-0000-1000-8000-000000000000', // UUID, but version 1
      ];
      for (const id of ids) {
        assert.equal(await uploads.get('lib/a', id), undefined, id);
        await assert.rejects(uploads.append('lib/a', id, body('x')), {
          code: 'BLOB_UPLOAD_UNKNOWN',
        });
        await assert.rejects(uploads.commit('lib/a', id, digest('x'), body('x')), {
          code: 'BLOB_UPLOAD_UNKNOWN',
        });
        assert.equal(await uploads.cancel('lib/a', id), false);
      }
      assert.ok(await uploads.get('lib/a', real.id));
    });

    it('refuses an id generator that returns malformed or repeated ids', async () => {
      const { uploads: bad } = await setup({ newId: () => '../escape' });
      await assert.rejects(bad.start('lib/a'), { code: 'NV2_ERR_INTERNAL' });
      const { uploads: same } = await setup({
        newId: () => '00000000-0000-4000-8000-000000000001',
      });
      await same.start('lib/a');
      await assert.rejects(same.start('lib/a'), { code: 'NV2_ERR_INTERNAL' });
    });

    it('purges sessions started before a time, in every repository', async () => {
      let clock = new Date('2024-01-01T00:00:00Z');
      const { driver, uploads } = await setup({ now: () => clock, newId: sequentialIds() });
      const old1 = await uploads.start('a');
      const old2 = await uploads.start('team/deep/b');
      await uploads.append('team/deep/b', old2.id, body('some bytes'));
      clock = new Date('2024-01-03T00:00:00Z');
      const fresh1 = await uploads.start('a');
      const fresh2 = await uploads.start('team');
      // Repository content that is not an upload is left alone.
      await uploads.putBlob('team', digest('kept'), body('kept'));

      assert.equal(await uploads.purge(new Date('2024-01-02T00:00:00Z')), 2);
      assert.equal(await uploads.get('a', old1.id), undefined);
      assert.equal(await uploads.get('team/deep/b', old2.id), undefined);
      assert.ok(await uploads.get('a', fresh1.id));
      assert.ok(await uploads.get('team', fresh2.id));
      assert.ok(await createBlobStore(driver, cachesOf(driver)).stat('team', digest('kept')));
      assert.equal(await uploads.purge(new Date('2024-01-02T00:00:00Z')), 0);
      assert.equal(await uploads.purge(new Date('2024-01-04T00:00:00Z')), 2);
      assert.deepEqual(await sessionsLeft(driver, 'a'), []);
      assert.deepEqual(await sessionsLeft(driver, 'team'), []);
    });

    it('purges damaged sessions (no startedat) by their files’ age, and ignores foreign entries', async () => {
      const { driver, uploads } = await setup();
      const session = await uploads.start('lib/a');
      await uploads.append('lib/a', session.id, body('bytes'));
      await driver.delete(uploadStartedAtPath('lib/a', session.id));
      assert.equal(await uploads.get('lib/a', session.id), undefined);
      // Not a session id: the purge never builds a path from it.
      await driver.putContent(`${uploadsPath('lib/a')}/not-an-id/data`, Buffer.from('x'));
      assert.equal(await uploads.purge(new Date(0)), 0);
      assert.equal(await uploads.purge(new Date(Date.now() + 86_400_000)), 1);
      assert.deepEqual(await sessionsLeft(driver, 'lib/a'), [`${uploadsPath('lib/a')}/not-an-id`]);
    });

    it('purge on an empty registry removes nothing', async () => {
      const { uploads } = await setup();
      assert.equal(await uploads.purge(new Date(Date.now() + 86_400_000)), 0);
    });

    it('keeps the bytes of an interrupted chunk, and the upload resumes from there', async () => {
      const { uploads } = await setup();
      const session = await uploads.start('lib/a');
      await assert.rejects(uploads.append('lib/a', session.id, abortedBody('abc', 'def')), {
        code: 'ECONNRESET',
      });
      const after = await uploads.get('lib/a', session.id);
      assert.equal(after?.size, 6);
      await uploads.append('lib/a', session.id, body('ghi'), { offset: 6 });
      assert.deepEqual(await uploads.commit('lib/a', session.id, digest('abcdefghi')), {
        digest: digest('abcdefghi'),
        size: 9,
      });
    });

    it('commits sha512 digests, whole and chunked', async () => {
      const { driver, uploads, blobs } = await setup();
      const text = 'sha512 content';
      const d512 = digestOf(Buffer.from(text), 'sha512');
      assert.deepEqual(await uploads.putBlob('lib/a', d512, body('sha512 ', 'content')), {
        digest: d512,
        size: text.length,
      });
      assert.equal((await driver.getContent(blobDataPath(d512))).toString(), text);
      // A chunked session hashes sha256 as it goes; a sha512 commit re-hashes the data.
      const other = 'chunked sha512';
      const session = await uploads.start('lib/b');
      await uploads.append('lib/b', session.id, body('chunked '), { offset: 0 });
      await uploads.append('lib/b', session.id, body('sha512'), { offset: 8 });
      const dOther = digestOf(Buffer.from(other), 'sha512');
      assert.deepEqual(await uploads.commit('lib/b', session.id, dOther), {
        digest: dOther,
        size: other.length,
      });
      assert.equal((await readAll(await blobs.open('lib/b', dOther))).toString(), other);
      assert.equal(await blobs.stat('lib/b', digest(other)), undefined);
      // A wrong sha512 is DIGEST_INVALID like a wrong sha256.
      await assert.rejects(
        uploads.putBlob('lib/a', digestOf(Buffer.from('x'), 'sha512'), body('y')),
        { code: 'DIGEST_INVALID' },
      );
    });

    it('uploads an empty blob', async () => {
      const { uploads, blobs } = await setup();
      const empty = digestOf(new Uint8Array(0));
      assert.deepEqual(await uploads.putBlob('lib/a', empty, body()), { digest: empty, size: 0 });
      const session = await uploads.start('lib/b');
      assert.deepEqual(await uploads.commit('lib/b', session.id, empty), {
        digest: empty,
        size: 0,
      });
      assert.deepEqual(await blobs.stat('lib/b', empty), { digest: empty, size: 0 });
    });

    it('the blob path only ever holds complete, verified bytes', async () => {
      const { driver, uploads } = await setup();
      const text = 'complete blob';
      const d = digest(text);
      const session = await uploads.start('lib/a');
      await uploads.append('lib/a', session.id, body('complete '));
      // Mid-upload, the bytes live under the session only.
      await assert.rejects(driver.stat(blobDataPath(d)), { code: 'NV2_ERR_STORAGE_NOT_FOUND' });
      assert.equal(
        (await driver.getContent(uploadDataPath('lib/a', session.id))).toString(),
        'complete ',
      );
      await uploads.append('lib/a', session.id, body('blob'));
      await uploads.commit('lib/a', session.id, d);
      assert.equal((await driver.getContent(blobDataPath(d))).toString(), text);
    });

    // Only storage that outlives its driver object can stand for a restarted process.
    if (name === 'filesystem') {
      it('after a restart (no in-memory state), commit re-hashes the stored upload', async () => {
        const { driver, reopen: maybeReopen, uploads } = await setup();
        const reopen = maybeReopen!;
        const session = await uploads.start('lib/a');
        await uploads.append('lib/a', session.id, body('before restart, '));
        const reopened = reopen();
        const restarted = createUploadStore(reopened, createStoreCaches(reopened));
        await restarted.append('lib/a', session.id, body('after'), { offset: 16 });
        await assert.rejects(restarted.commit('lib/a', session.id, digest('before restart, aft')), {
          code: 'DIGEST_INVALID',
        });
        const again = await uploads.start('lib/a');
        await uploads.append('lib/a', again.id, body('before restart, '));
        const text = 'before restart, after';
        const second = reopen();
        await createUploadStore(second, createStoreCaches(second)).append(
          'lib/a',
          again.id,
          body('after'),
        );
        // The old process commits: its running hash no longer matches the file, so it re-hashes.
        assert.deepEqual(await uploads.commit('lib/a', again.id, digest(text)), {
          digest: digest(text),
          size: text.length,
        });
        assert.equal((await driver.getContent(blobDataPath(digest(text)))).toString(), text);
      });
    }

    if (name === 'filesystem') {
      it('streams a 256 MiB upload with flat memory, and re-hashes it as a stream', async () => {
        const { uploads, reopen } = await setup();
        const total = 256;
        const session = await uploads.start('lib/big');
        const hash = createHash('sha256');
        const baseline = process.memoryUsage.rss();
        let peak = baseline;
        async function* generate(): AsyncGenerator<Uint8Array> {
          for (let i = 0; i < total; i++) {
            const chunk = Buffer.alloc(MiB, i);
            hash.update(chunk);
            peak = Math.max(peak, process.memoryUsage.rss());
            yield chunk;
          }
        }
        const after = await uploads.append('lib/big', session.id, generate(), {
          offset: 0,
          length: total * MiB,
        });
        assert.equal(after.size, total * MiB);
        const d = parseDigest(`sha256:${hash.digest('hex')}`);
        // A fresh process commits: the whole file is read back and hashed.
        const fresh = reopen!();
        const blob = await createUploadStore(fresh, createStoreCaches(fresh)).commit(
          'lib/big',
          session.id,
          d,
        );
        peak = Math.max(peak, process.memoryUsage.rss());
        assert.deepEqual(blob, { digest: d, size: total * MiB });
        const growth = peak - baseline;
        // Generous: buffering the body would cost at least 256 MiB.
        assert.ok(growth < 96 * MiB, `RSS grew by ${Math.round(growth / MiB)} MiB`);
      });
    }
  });
}
