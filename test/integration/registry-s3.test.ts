/**
 * The S3 storage driver against a real S3 server: Ceph's RADOS Gateway, started once for
 * this file by `scripts/ceph-s3.sh` (test/helpers/ceph.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { S3Driver } from '../../src/registry/storage/s3.js';
import { createS3Driver } from '../../src/registry/storage/s3.js';
import { createStoreCaches } from '../../src/registry/storage/caches.js';
import { createUploadStore } from '../../src/registry/storage/uploads.js';
import { blobDataPath, layerLinkPath, uploadsPath } from '../../src/registry/storage/paths.js';
import type { Digest } from '../../src/oci/index.js';
import { digestOf } from '../../src/oci/index.js';
import type { CephS3 } from '../helpers/ceph.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { cephMissing, startCephS3 } from '../helpers/ceph.js';
import { nv2 } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { describeStorageDriver, readAll } from '../suites/storage-driver.js';

const MiB = 1024 * 1024;
const skip = cephMissing();

describe('S3 storage driver on Ceph RGW', { skip }, () => {
  let ceph: CephS3;
  let bucket: string;
  const drivers: S3Driver[] = [];

  before(async () => {
    ceph = await startCephS3();
    bucket = await ceph.newBucket();
  });

  after(() => {
    for (const driver of drivers) driver.destroy();
    ceph?.client.destroy();
  });

  /** A driver over the shared bucket; each `root` is its own empty storage. */
  function driverAt(root: string, options: { partSize?: number } = {}): S3Driver {
    const driver = createS3Driver({
      bucket,
      endpoint: ceph.endpoint,
      region: ceph.region,
      credentials: ceph.credentials,
      forcePathStyle: true,
      rootDirectory: root,
      ...options,
    });
    drivers.push(driver);
    return driver;
  }

  const newRoot = (): string => `t/${randomBytes(8).toString('hex')}`;

  describeStorageDriver('s3', async () => driverAt(newRoot()));

  describe('beyond the contract', () => {
    it('an appending writer on another replica continues a file, above and below the part minimum', async () => {
      const root = newRoot();
      const [a, b] = [driverAt(root, { partSize: 5 * MiB }), driverAt(root, { partSize: 5 * MiB })];
      const chunks = [
        randomBytes(3 * MiB),
        randomBytes(4 * MiB),
        randomBytes(11 * MiB),
        randomBytes(7),
      ];
      // Below the minimum (3 MiB carried in the buffer), then above it (7 MiB copied server-side).
      const first = await a.writer('/up/data');
      await first.write(chunks[0]!);
      await first.close();
      const second = await b.writer('/up/data', { append: true });
      assert.equal(second.size, 3 * MiB);
      await second.write(chunks[1]!);
      await second.close();
      const third = await a.writer('/up/data', { append: true });
      assert.equal(third.size, 7 * MiB);
      for (let i = 0; i < 11; i++) await third.write(chunks[2]!.subarray(i * MiB, (i + 1) * MiB));
      await third.close();
      const fourth = await b.writer('/up/data', { append: true });
      assert.equal(fourth.size, 18 * MiB);
      await fourth.write(chunks[3]!);
      await fourth.commit();
      const whole = Buffer.concat(chunks);
      assert.equal((await a.stat('/up/data')).size, whole.length);
      assert.ok((await readAll(await a.reader('/up/data'))).equals(whole));
      const tail = await readAll(await b.reader('/up/data', { offset: 18 * MiB - 2, length: 5 }));
      assert.ok(tail.equals(whole.subarray(18 * MiB - 2, 18 * MiB + 3)));
    });

    it('pending files: chunks on two drivers fill one multipart upload, shown only at commit', async () => {
      const root = newRoot();
      const [a, b] = [driverAt(root, { partSize: 5 * MiB }), driverAt(root, { partSize: 5 * MiB })];
      const uploads = async () =>
        (
          await ceph.client.send(
            new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${root}/` }),
          )
        ).Uploads ?? [];
      const chunks = [
        randomBytes(3 * MiB),
        randomBytes(6 * MiB),
        randomBytes(7),
        randomBytes(2 * MiB),
      ];
      await a.pending!.create('/up/data');
      assert.deepEqual(await b.pending!.stat('/up/data'), { size: 0, note: undefined });
      // Below the part minimum: kept as the tail, with the writer's note.
      const first = await a.pending!.writer('/up/data', { size: chunks[0]!.length });
      await first.write(chunks[0]!);
      first.note = 'one';
      await first.close();
      assert.deepEqual(await b.pending!.stat('/up/data'), { size: 3 * MiB, note: 'one' });
      await assert.rejects(a.stat('/up/data'), { code: 'NV2_ERR_STORAGE_NOT_FOUND' });
      // Tail and chunk make a part: streamed as one UploadPart by the other driver.
      const second = await b.pending!.writer('/up/data', { size: chunks[1]!.length });
      assert.equal(second.note, 'one');
      for (let i = 0; i < 6; i++) await second.write(chunks[1]!.subarray(i * MiB, (i + 1) * MiB));
      await second.close();
      assert.equal((await uploads()).length, 1);
      // Written short: nothing of it is kept.
      const short = await a.pending!.writer('/up/data', { size: 6 * MiB });
      await short.write(randomBytes(MiB));
      await short.close();
      assert.equal((await a.pending!.stat('/up/data'))?.size, 9 * MiB);
      const third = await a.pending!.writer('/up/data');
      await third.write(chunks[2]!);
      await third.close();
      const fourth = await b.pending!.writer('/up/data', { size: chunks[3]!.length });
      assert.equal(fourth.size, 9 * MiB + 7);
      await fourth.write(chunks[3]!);
      await fourth.commit();
      assert.ok((await readAll(await a.reader('/up/data'))).equals(Buffer.concat(chunks)));
      assert.equal(await a.pending!.stat('/up/data'), undefined);
      assert.deepEqual(await a.list('/up'), ['/up/data']);
      assert.deepEqual(await uploads(), []);

      // Discarded: its multipart upload is aborted and nothing is left.
      await a.pending!.create('/up/other');
      const dropped = await b.pending!.writer('/up/other');
      await dropped.write(randomBytes(6 * MiB));
      await dropped.close();
      assert.equal((await uploads()).length, 1);
      await a.pending!.discard('/up/other');
      assert.deepEqual(await uploads(), []);
      assert.equal(await b.pending!.stat('/up/other'), undefined);
      // Never a whole part: committed as one object.
      await a.pending!.create('/up/small');
      const small = await b.pending!.writer('/up/small');
      await small.write(Buffer.from('small'));
      await small.commit();
      assert.equal((await a.getContent('/up/small')).toString(), 'small');
    });

    it('an upload session chunked across two upload stores commits verified without a re-read', async () => {
      const root = newRoot();
      const drivers = [
        driverAt(root, { partSize: 5 * MiB }),
        driverAt(root, { partSize: 5 * MiB }),
      ];
      // Two processes: each its own caches.
      const stores = drivers.map((driver) => createUploadStore(driver, createStoreCaches(driver)));
      const chunks = [randomBytes(6 * MiB + 1), randomBytes(2 * MiB), randomBytes(5 * MiB)];
      const whole = Buffer.concat(chunks);
      const session = await stores[0]!.start('r');
      let offset = 0;
      for (const [i, chunk] of chunks.entries()) {
        await stores[i % 2]!.append('r', session.id, Readable.from([chunk]), {
          offset,
          length: chunk.length,
        });
        offset += chunk.length;
        assert.equal((await stores[(i + 1) % 2]!.get('r', session.id))?.size, offset);
      }
      // The data is read only by the reader below: the hash came with the pending file.
      let reads = 0;
      const reader = drivers[1]!.reader.bind(drivers[1]);
      drivers[1]!.reader = async (...args) => {
        reads++;
        return reader(...args);
      };
      const digest = digestOf(whole);
      assert.deepEqual(await stores[1]!.commit('r', session.id, digest), {
        digest,
        size: whole.length,
      });
      assert.equal(reads, 0);
      drivers[1]!.reader = reader;
      assert.ok((await drivers[0]!.getContent(blobDataPath(digest))).equals(whole));
      await assert.rejects(drivers[0]!.list(uploadsPath('r')), {
        code: 'NV2_ERR_STORAGE_NOT_FOUND',
      });

      // A wrong digest ends the session, and leaves no multipart upload behind.
      const bad = await stores[0]!.start('r');
      await stores[1]!.append('r', bad.id, Readable.from([chunks[0]!]), {
        length: chunks[0]!.length,
      });
      await assert.rejects(stores[0]!.commit('r', bad.id, digestOf(chunks[1]!)), {
        code: 'DIGEST_INVALID',
      });
      const left = await ceph.client.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${root}/` }),
      );
      assert.deepEqual(left.Uploads ?? [], []);
    });

    it('a writer told its size streams one object; written short, it leaves the file as it was', async () => {
      const root = newRoot();
      const driver = driverAt(root, { partSize: 5 * MiB });
      const data = randomBytes(12 * MiB + 3);
      await driver.putContent('/up/data', new Uint8Array(0));
      const writer = await driver.writer('/up/data', { append: true, size: data.length });
      for (let offset = 0; offset < data.length; offset += MiB) {
        await writer.write(data.subarray(offset, offset + MiB));
      }
      assert.equal(writer.size, data.length);
      await writer.close();
      assert.ok((await driver.getContent('/up/data')).equals(data));
      // One PutObject: a single-part ETag (a multipart upload's ends in -N).
      const etag = await ceph.client.send(
        new HeadObjectCommand({ Bucket: bucket, Key: `${root}/up/data` }),
      );
      assert.doesNotMatch(etag.ETag ?? '', /-\d+"?$/);

      await driver.putContent('/up/short', Buffer.from('before'));
      const short = await driver.writer('/up/short', { size: 10 });
      await short.write(Buffer.from('12345'));
      await short.close();
      assert.equal((await driver.getContent('/up/short')).toString(), 'before');
      const failing = await driver.writer('/up/short', { size: 10 });
      await failing.write(Buffer.from('123'));
      await assert.rejects(failing.commit(), { code: 'NV2_ERR_STORAGE_IO' });
      assert.equal((await driver.getContent('/up/short')).toString(), 'before');
      const over = await driver.writer('/up/over', { size: 2 });
      await assert.rejects(over.write(Buffer.from('123')), { code: 'NV2_ERR_STORAGE_IO' });
      await over.cancel();
      await assert.rejects(driver.stat('/up/over'), { code: 'NV2_ERR_STORAGE_NOT_FOUND' });
    });

    it('an appending writer told its size keeps nothing when closed short', async () => {
      const driver = driverAt(newRoot());
      await driver.putContent('/f', Buffer.from('kept'));
      const writer = await driver.writer('/f', { append: true, size: 10 });
      await writer.write(Buffer.from('abc'));
      await assert.rejects(writer.write(Buffer.from('12345678')), { code: 'NV2_ERR_STORAGE_IO' });
      await writer.close();
      assert.equal((await driver.getContent('/f')).toString(), 'kept');
      const whole = await driver.writer('/f', { append: true, size: 3 });
      await whole.write(Buffer.from('abc'));
      await whole.commit();
      assert.equal((await driver.getContent('/f')).toString(), 'keptabc');
    });

    it('a blob pushed in one request goes to its key only once verified, with no session', async () => {
      const driver = driverAt(newRoot());
      const uploads = createUploadStore(driver, createStoreCaches(driver));
      const data = randomBytes(3 * MiB + 5);
      const digest = digestOf(data);
      const other = randomBytes(data.length);
      const otherDigest = digestOf(other);
      const blobKey = (d: Digest) => blobDataPath(d);

      // A wrong digest, a long body, a body that fails: nothing at the key, nothing pending.
      await assert.rejects(
        uploads.putBlob('r', otherDigest, Readable.from([data]), { length: data.length }),
        {
          code: 'DIGEST_INVALID',
        },
      );
      await assert.rejects(
        uploads.putBlob('r', otherDigest, Readable.from([other, Buffer.from('x')]), {
          length: other.length,
        }),
        { code: 'SIZE_INVALID' },
      );
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield other.subarray(0, MiB);
        throw new Error('client went away');
      }
      await assert.rejects(uploads.putBlob('r', otherDigest, failing(), { length: other.length }));
      await assert.rejects(driver.stat(blobKey(otherDigest)), {
        code: 'NV2_ERR_STORAGE_NOT_FOUND',
      });

      assert.deepEqual(
        await uploads.putBlob('r', digest, Readable.from([data]), { length: data.length }),
        {
          digest,
          size: data.length,
        },
      );
      assert.ok((await driver.getContent(blobKey(digest))).equals(data));
      assert.equal((await driver.getContent(layerLinkPath('r', digest))).toString(), digest);
      // Other bytes under the digest of a stored blob: refused, the blob stays.
      await assert.rejects(
        uploads.putBlob('r', digest, Readable.from([other]), { length: other.length }),
        {
          code: 'DIGEST_INVALID',
        },
      );
      assert.ok((await driver.getContent(blobKey(digest))).equals(data));
      await assert.rejects(driver.list(uploadsPath('r')), { code: 'NV2_ERR_STORAGE_NOT_FOUND' });
    });

    it('an appending writer that writes nothing leaves the file as it was', async () => {
      const driver = driverAt(newRoot());
      await driver.putContent('/f', Buffer.from('kept'));
      const modTime = (await driver.stat('/f')).modTime;
      const writer = await driver.writer('/f', { append: true });
      await writer.commit();
      assert.equal((await driver.getContent('/f')).toString(), 'kept');
      assert.equal((await driver.stat('/f')).modTime.getTime(), modTime.getTime());
    });

    it('the multipart upload of a writer that never finished is aborted once old enough', async () => {
      const root = newRoot();
      const driver = driverAt(root, { partSize: 5 * MiB });
      const writer = await driver.writer('/up/abandoned');
      await writer.write(randomBytes(6 * MiB)); // one part sent: the upload exists
      const pending = async () => {
        const out = await ceph.client.send(
          new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${root}/` }),
        );
        return out.Uploads ?? [];
      };
      for (let i = 0; i < 100 && (await pending()).length === 0; i++) await setTimeout(50);
      assert.equal((await pending()).length, 1);
      // The writer is dropped as a killed process would drop it.
      assert.equal(await driver.abortIncompleteUploads(new Date(Date.now() - 3_600_000)), 0);
      assert.equal((await pending()).length, 1, 'a recent upload is kept');
      assert.equal(await driver.abortIncompleteUploads(new Date(Date.now() + 60_000)), 1);
      assert.deepEqual(await pending(), []);
      await assert.rejects(driver.stat('/up/abandoned'), { code: 'NV2_ERR_STORAGE_NOT_FOUND' });
    });

    it('a presigned URL serves the file to a client without keys, and only that file', async () => {
      const driver = driverAt(newRoot());
      const content = randomBytes(100_000);
      await driver.putContent('/blobs/data', content);
      const url = await driver.presignedGetUrl('/blobs/data', 60);
      assert.match(url, /X-Amz-Expires=60/);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(content));
      const other = await fetch(url.replace('/blobs/data', '/blobs/other'));
      assert.equal(other.status, 403);
      await other.arrayBuffer();
    });

    it('each root directory is its own storage in one bucket', async () => {
      const [a, b] = [driverAt(newRoot()), driverAt(newRoot())];
      await a.putContent('/x/f', Buffer.from('a'));
      await b.putContent('/x/f', Buffer.from('b'));
      assert.equal((await a.getContent('/x/f')).toString(), 'a');
      await b.delete('/x');
      assert.deepEqual(await a.list('/'), ['/x']);
      assert.deepEqual(await b.list('/'), []);
    });

    it('a missing bucket is an IO error, not a missing file', async () => {
      const driver = createS3Driver({
        bucket: 'nv2-no-such-bucket',
        endpoint: ceph.endpoint,
        region: ceph.region,
        credentials: ceph.credentials,
        forcePathStyle: true,
      });
      drivers.push(driver);
      await assert.rejects(driver.getContent('/f'), { code: 'NV2_ERR_STORAGE_IO' });
    });
  });
});

describe('nv2 registry serve with S3 storage: configuration errors', () => {
  it('refuses token auth without a shared signing key, in one line, before serving', async () => {
    const dir = await tempDir();
    const config = join(dir, 'registry.yaml');
    await writeFile(
      config,
      [
        'storage:',
        '  s3:',
        '    bucket: registry',
        '    endpoint: http://127.0.0.1:9',
        '    forcePathStyle: true',
        '    accessKey: AK',
        '    secretKey: SK',
        'auth:',
        '  mode: token',
        '  users:',
        '    wes: $2y$04$abcdefghijklmnopqrstuuJ0v7oqv1Zx0t5ptD6c2zJvl7F4s4tTy',
        '',
      ].join('\n'),
    );
    const result = await nv2(['registry', 'serve', '--addr', '127.0.0.1:0', '--config', config]);
    assert.equal(result.code, ExitCode.usage);
    assert.match(result.stderr, /auth\.token\.key/);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });
});
