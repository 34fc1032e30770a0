// Over 400 lines: one factory, because every method shares the driver's directory cache and
// removal counter; the requests, options and writers live in the s3-*.ts files.
import { Readable } from 'node:stream';
import { CopyObjectCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { FileInfo, StorageDriver } from './driver.js';
import { checkPath, checkRange, ioError, notFound } from './driver-checks.js';
import type { S3DriverOptions } from './s3-client.js';
import { connect } from './s3-client.js';
import type { S3Context } from './s3-requests.js';
import {
  MAX_COPY_BYTES,
  abortIncompleteUploads,
  abortMultipart,
  completeMultipart,
  copyParts,
  deleteKeys,
  deleteObject as deleteObjectAt,
  describe,
  getBytes,
  getObject as getObjectAt,
  headObject,
  isMissing,
  putObject,
  startMultipart,
  statusOf,
} from './s3-requests.js';
import { createPendingFiles } from './s3-pending.js';
import type { WriterHooks } from './s3-writers.js';
import { createMultipartWriter, createStreamingWriter } from './s3-writers.js';

export type { S3DriverOptions } from './s3-client.js';

/** The S3 driver: a `StorageDriver` plus what only object storage can do. */
export interface S3Driver extends StorageDriver {
  readonly shared: boolean;
  /** A presigned GET URL for a file, valid `expiresInSeconds` (the client needs no keys). */
  presignedGetUrl(path: string, expiresInSeconds: number): Promise<string>;
  /**
   * Aborts multipart uploads started before `before` and never completed (a writer whose
   * process died); returns how many. Their parts cost storage until then.
   */
  abortIncompleteUploads(before: Date): Promise<number>;
  /** Closes the HTTP connections of the client. */
  destroy(): void;
}

/** Directories remembered as made, at most; past it, all are forgotten. */
const KNOWN_DIRECTORIES_MAX = 50_000;

/**
 * The storage driver over an S3 bucket (AWS S3, Ceph RADOS Gateway, MinIO): storage path
 * `/a/b` is the key `<rootDirectory>/a/b`. Directories are implied by keys, as in the
 * contract: `a/b` is a directory when some key starts with `a/b/`.
 *
 * - `putContent` is one PutObject: S3 replaces an object atomically, and acknowledges it
 *   only once it is stored durably. Beside the write (a listing costs as much as a small
 *   write on RGW) it checks that no directory is at the path and no file above it (HEAD on
 *   each parent not known to be a directory, and one listing): the contract's shape rules. A
 *   write that breaks them is deleted again before the error is reported. Two writers racing
 *   to make the same name a file and a directory could both pass; the registry's layout
 *   never does that.
 * - Requests per registry operation are what RGW answers slowest, so none is made twice and
 *   independent ones go together: `stat` asks HEAD before it lists, an appending writer on a
 *   file skips the shape checks (a file there settles them), `delete` asks HEAD and the
 *   listing at once and deletes a few keys one request each, side by side.
 * - A `writer` told its size (and starting empty) streams one PutObject; it shows nothing
 *   until every announced byte is there (`wholeFileWriters`), which lets the upload store
 *   write a one-request blob straight to its key. Otherwise a `writer` buffers up to one
 *   part, then streams parts of a multipart upload (a few in flight); `commit` and `close`
 *   complete the upload (or, for less than one part, write one object), so the file is
 *   whole and visible on every replica. An appending writer starts a new multipart upload
 *   whose first parts are server-side copies of the existing object (UploadPartCopy), or,
 *   below the 5 MiB part minimum, carries the existing bytes over in its buffer. S3 has no
 *   append and RGW copies the bytes of an UploadPartCopy, so upload sessions do not append:
 *   they write pending files (`pending`, `s3-pending.ts`), one multipart upload per session
 *   that a chunk on any replica continues. A writer that fails or whose process dies leaves
 *   the file as it was before it (its multipart upload is aborted, or found later by
 *   `abortIncompleteUploads`).
 * - `move` is a server-side copy (multipart for objects over 5 GiB; the shape checks beside
 *   it, as for `putContent`) and a delete. S3 has no
 *   rename, so a reader may see both names for a moment; the destination only ever holds
 *   whole content.
 * - `walk` lists keys in the store's order (whole-path ascending, as the contract asks);
 *   files deleted by this driver since a page was listed are checked again before they are
 *   visited.
 *
 * The requests are in `s3-requests.ts`, the options and the client in `s3-client.ts`, the
 * writers in `s3-writers.ts` and `s3-pending.ts`.
 */
export function createS3Driver(options: S3DriverOptions): S3Driver {
  const { client, bucket, prefix, partSize } = connect(options);

  /** The key of a file; `/` maps to the prefix itself (used only as a listing prefix). */
  const keyOf = (path: string): string => prefix + path.slice(1);
  /** The listing prefix of a directory's contents. */
  const dirPrefix = (path: string): string => (path === '/' ? prefix : `${keyOf(path)}/`);
  const pathOf = (key: string): string => `/${key.slice(prefix.length)}`;

  /** Bumped by every delete and move: a walk re-checks listed files once it changes. */
  let removals = 0;

  /**
   * Directories this driver has made (by writing below them) and not removed since: a file
   * cannot be there, so `checkCreatable` asks the store only about the other parents. A
   * blob path has eight parents; without this, every write would cost eight HEADs. A
   * delete forgets the deleted path's parents (the directory may have vanished with its last
   * file) and everything below it.
   */
  const knownDirectories = new Set<string>();

  function rememberParents(path: string): void {
    if (knownDirectories.size >= KNOWN_DIRECTORIES_MAX) knownDirectories.clear();
    for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
      const parent = path.slice(0, i);
      if (knownDirectories.has(parent)) break;
      knownDirectories.add(parent);
    }
  }

  function forgetDirectories(path: string): void {
    for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
      knownDirectories.delete(path.slice(0, i));
    }
    knownDirectories.delete(path);
    const below = `${path}/`;
    for (const dir of knownDirectories) if (dir.startsWith(below)) knownDirectories.delete(dir);
  }

  const s3: S3Context = { client, bucket, keyOf };
  const head = (op: string, path: string) => headObject(s3, op, path);
  const getObject = (op: string, path: string, range?: string) => getObjectAt(s3, op, path, range);
  const deleteObject = (op: string, path: string) => deleteObjectAt(s3, op, path);
  const hooks: WriterHooks = {
    written: rememberParents,
    removing(path) {
      removals++;
      forgetDirectories(path);
    },
  };

  async function listPage(
    op: string,
    path: string,
    listPrefix: string,
    options: { delimiter?: boolean; token?: string | undefined; max?: number },
  ): Promise<ListObjectsV2CommandOutput> {
    try {
      return await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: listPrefix,
          ...(options.delimiter === true ? { Delimiter: '/' } : {}),
          ...(options.token !== undefined ? { ContinuationToken: options.token } : {}),
          ...(options.max !== undefined ? { MaxKeys: options.max } : {}),
        }),
      );
    } catch (err) {
      throw ioError(op, path, describe(err), err);
    }
  }

  /** Whether some file lies below `path`. */
  async function isDirectory(op: string, path: string): Promise<boolean> {
    if (path === '/') return true;
    const page = await listPage(op, path, dirPrefix(path), { max: 1 });
    return (page.KeyCount ?? page.Contents?.length ?? 0) > 0;
  }

  /**
   * Which of the contract's shape rules creating a file at `path` would break: a directory
   * there, or a file above it; undefined when none. Parent HEADs and the listing run in
   * parallel. A request that fails rejects.
   */
  async function shapeViolation(op: string, path: string): Promise<string | undefined> {
    const parents: string[] = [];
    for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
      const parent = path.slice(0, i);
      if (knownDirectories.has(parent)) break; // and so are its own parents
      parents.push(parent);
    }
    const [directory, ...files] = await Promise.all([
      isDirectory(op, path),
      ...parents.map((parent) => head(op, parent)),
    ]);
    if (directory) return 'a directory is there';
    if (files.some((file) => file !== undefined)) return 'a file is above it';
    return undefined;
  }

  async function checkCreatable(op: string, path: string): Promise<void> {
    const violation = await shapeViolation(op, path);
    if (violation !== undefined) throw ioError(op, path, violation);
  }

  /**
   * `shapeViolation`, started beside the write instead of before it: its listing costs as
   * much as a small write, and the registry writes several files per request. The caller
   * awaits it before reporting success (`undoUnlessCreatable`).
   */
  function startCheck(op: string, path: string): Promise<string | undefined> {
    const checked = shapeViolation(op, path);
    checked.catch(() => undefined); // awaited by the caller once its write is done
    return checked;
  }

  /**
   * Awaits a check started beside a write that already made `path` a file: when the shape
   * rules forbid the file, it is deleted again and the violation thrown. Only a concurrent
   * reader can glimpse such a file, and the registry's layout never makes one. A check whose
   * requests failed is reported as it failed, and the write is left alone: the file may
   * have replaced one that was there.
   */
  async function undoUnlessCreatable(
    checked: Promise<string | undefined>,
    op: string,
    path: string,
  ): Promise<void> {
    const violation = await checked;
    if (violation === undefined) return;
    // No file was at `path` before: the rule it broke says so (a file there is neither a
    // directory nor below a file).
    await deleteObject(op, path).catch(() => undefined);
    throw ioError(op, path, violation);
  }

  /** Server-side copy of a whole object, multipart above the single-copy limit. */
  async function copy(
    op: string,
    source: string,
    destination: string,
    size: number,
    etag: string,
  ): Promise<void> {
    const copySource = `${bucket}/${keyOf(source)}`;
    try {
      if (size <= MAX_COPY_BYTES) {
        await client.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: keyOf(destination),
            CopySource: copySource,
            ...(etag !== '' ? { CopySourceIfMatch: etag } : {}),
          }),
        );
        return;
      }
    } catch (err) {
      if (isMissing(err) || statusOf(err) === 412) throw notFound(op, source, err);
      throw ioError(op, destination, describe(err), err);
    }
    const upload = await startMultipart(s3, op, destination);
    try {
      const parts = await copyParts(s3, op, destination, upload, source, size, etag, 1);
      await completeMultipart(s3, op, destination, upload, parts);
    } catch (err) {
      await abortMultipart(s3, upload, destination);
      throw err;
    }
  }

  async function statFile(op: string, path: string): Promise<FileInfo | undefined> {
    const file = await head(op, path);
    return file === undefined
      ? undefined
      : { path, size: file.size, modTime: file.modTime, isDirectory: false };
  }

  const driver: S3Driver = {
    name: 's3',
    shared: options.shared ?? true,
    // A PutObject or a multipart upload shows nothing until it completes, and both writers
    // complete only once every announced byte is there.
    wholeFileWriters: true,
    pending: createPendingFiles(s3, hooks, partSize),

    async getContent(path) {
      checkPath('getContent', path, false);
      const bytes = await getBytes(s3, 'getContent', path);
      if (bytes === undefined) throw notFound('getContent', path);
      return bytes;
    },

    async putContent(path, content) {
      checkPath('putContent', path, false);
      const checked = startCheck('putContent', path);
      // A copy: the caller may change its buffer once this resolves (or before it does).
      const failed = await putObject(s3, 'putContent', path, Buffer.from(content)).then(
        () => undefined,
        (err: unknown) => err,
      );
      await undoUnlessCreatable(checked, 'putContent', path);
      if (failed !== undefined) throw failed;
      rememberParents(path);
    },

    async reader(path, options) {
      checkPath('reader', path, false);
      const { offset, length } = checkRange(path, options);
      if (length === 0) {
        if ((await head('reader', path)) === undefined) throw notFound('reader', path);
        return Readable.from([]);
      }
      const range =
        offset === 0 && length === undefined
          ? undefined
          : `bytes=${offset}-${length === undefined ? '' : offset + length - 1}`;
      const object = await getObject('reader', path, range);
      if (object === undefined) throw notFound('reader', path);
      if (object === 'unsatisfiable') {
        // The offset is at or past the end: an empty stream, if the file is there at all.
        if ((await head('reader', path)) === undefined) throw notFound('reader', path);
        return Readable.from([]);
      }
      return object.body;
    },

    async writer(path, options) {
      checkPath('writer', path, false);
      const announced = options?.size;
      if (announced !== undefined && !(Number.isSafeInteger(announced) && announced >= 0)) {
        throw ioError('writer', path, `size must be a non-negative integer, not ${announced}`);
      }
      const existing = options?.append === true ? await head('writer', path) : undefined;
      // A file at the path: no directory is there and its parents are directories, so the
      // shape rules hold without asking (every PATCH and commit of an upload appends).
      if (existing === undefined) await checkCreatable('writer', path);
      if (
        announced !== undefined &&
        announced > 0 &&
        announced <= MAX_COPY_BYTES &&
        (existing === undefined || existing.size === 0)
      ) {
        return createStreamingWriter(s3, hooks, path, announced);
      }
      return createMultipartWriter(s3, hooks, partSize, path, existing, announced);
    },

    async stat(path) {
      checkPath('stat', path, true);
      if (path === '/') return { path, size: 0, modTime: new Date(), isDirectory: true };
      // The HEAD first: most stats are of files, and a HEAD is several times cheaper than a
      // listing on RGW (whose bucket index lives in RADOS).
      const file = await statFile('stat', path);
      if (file !== undefined) return file;
      const page = await listPage('stat', path, dirPrefix(path), { max: 1 });
      const first = page.Contents?.[0];
      if (first === undefined) throw notFound('stat', path);
      return { path, size: 0, modTime: first.LastModified ?? new Date(0), isDirectory: true };
    },

    async list(path) {
      checkPath('list', path, true);
      const children: string[] = [];
      let token: string | undefined;
      do {
        const page = await listPage('list', path, dirPrefix(path), { delimiter: true, token });
        for (const item of page.Contents ?? []) children.push(pathOf(item.Key!));
        for (const item of page.CommonPrefixes ?? []) {
          children.push(pathOf(item.Prefix!.slice(0, -1)));
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      if (children.length === 0 && path !== '/') throw notFound('list', path);
      return children.sort();
    },

    async move(source, destination) {
      checkPath('move', source, false);
      checkPath('move', destination, false);
      const checked =
        source === destination ? Promise.resolve(undefined) : startCheck('move', destination);
      const file = await head('move', source);
      if (file === undefined) throw notFound('move', source);
      if (source === destination) return;
      const failed = await copy('move', source, destination, file.size, file.etag).then(
        () => undefined,
        (err: unknown) => err,
      );
      await undoUnlessCreatable(checked, 'move', destination);
      if (failed !== undefined) throw failed;
      rememberParents(destination);
      removals++;
      forgetDirectories(source);
      await deleteObject('move', source);
    },

    async delete(path) {
      checkPath('delete', path, false);
      removals++;
      forgetDirectories(path);
      // A file or a directory: both asked at once (an upload session's directory is deleted
      // at every commit).
      const [file, firstPage] = await Promise.all([
        head('delete', path),
        listPage('delete', path, dirPrefix(path), {}),
      ]);
      if (file !== undefined) {
        await deleteObject('delete', path);
        return;
      }
      let found = false;
      let token: string | undefined;
      let page: ListObjectsV2CommandOutput | undefined = firstPage;
      do {
        // Each page is deleted before the next is asked for, so the token stays valid.
        page ??= await listPage('delete', path, dirPrefix(path), { token });
        const keys = (page.Contents ?? []).map((item) => item.Key!);
        if (keys.length > 0) {
          found = true;
          await deleteKeys(s3, 'delete', path, keys);
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
        page = undefined;
      } while (token !== undefined);
      if (!found) throw notFound('delete', path);
    },

    async walk(path, visit) {
      checkPath('walk', path, true);
      let token: string | undefined;
      let first = true;
      do {
        const page = await listPage('walk', path, dirPrefix(path), { token });
        const listedAt = removals;
        const items = page.Contents ?? [];
        if (first && items.length === 0 && path !== '/') throw notFound('walk', path);
        first = false;
        for (const item of items) {
          let info: FileInfo | undefined = {
            path: pathOf(item.Key!),
            size: item.Size ?? 0,
            modTime: item.LastModified ?? new Date(0),
            isDirectory: false,
          };
          if (removals !== listedAt) info = await statFile('walk', info.path);
          if (info !== undefined) await visit(info);
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    },

    async presignedGetUrl(path, expiresInSeconds) {
      checkPath('presign', path, false);
      return getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: keyOf(path) }), {
        expiresIn: expiresInSeconds,
      });
    },

    abortIncompleteUploads: (before) => abortIncompleteUploads(s3, prefix, before),

    destroy() {
      client.destroy();
    },
  };

  return driver;
}
