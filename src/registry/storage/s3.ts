import { PassThrough, Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import type { CompletedPart, ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { InvalidInputError } from '../../errors.js';
import type { FileInfo, FileWriter, StorageDriver } from './driver.js';
import { checkPath, checkRange, ioError, notFound, writerFinished } from './driver-checks.js';

/** Options of `createS3Driver`: where the bucket is and how to reach it. */
export interface S3DriverOptions {
  /** The bucket; it must exist. */
  readonly bucket: string;
  /** The region requests are signed for (`us-east-1` unless told; Ceph takes any). */
  readonly region?: string;
  /** The S3 endpoint, e.g. `http://127.0.0.1:7480`; absent: AWS. */
  readonly endpoint?: string;
  /** Path-style addressing (`endpoint/bucket/key`), which Ceph and MinIO need. */
  readonly forcePathStyle?: boolean;
  /**
   * Static credentials. Absent: the AWS SDK's default chain (`AWS_ACCESS_KEY_ID` and
   * `AWS_SECRET_ACCESS_KEY`, shared config files, instance roles).
   */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** A key prefix under which everything lives (`registry` → keys `registry/docker/...`). */
  readonly rootDirectory?: string;
  /** Bytes per multipart upload part (default 8 MiB, at least 5 MiB: the S3 minimum). */
  readonly partSize?: number;
  /**
   * Whether other registry processes (replicas) use the same bucket and root: then the
   * stores cache nothing that can change (`StorageDriver.shared`). Default true; false is
   * for a single registry process, which then serves tags and links from memory.
   */
  readonly shared?: boolean;
}

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

const MiB = 1024 * 1024;
/** The smallest part S3 accepts, except for the last one of an upload. */
const MIN_PART_BYTES = 5 * MiB;
const DEFAULT_PART_BYTES = 8 * MiB;
/** Parts of one writer uploaded at the same time. Memory per writer: (this + 1) parts. */
const PARTS_IN_FLIGHT = 4;
/** Directories remembered as made, at most; past it, all are forgotten. */
const KNOWN_DIRECTORIES_MAX = 50_000;
/** The largest object a single CopyObject or UploadPartCopy request may copy. */
const MAX_COPY_BYTES = 5 * 1024 * MiB;
/** Ranges a large object is copied in. */
const COPY_RANGE_BYTES = 1024 * MiB;
const SILENT_LOGGER = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH = 1000;
/** Up to this many keys are deleted one request each, side by side (an upload session's two). */
const FEW_KEYS = 4;

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
 *   below the 5 MiB part minimum, carries the existing bytes over in its buffer: a chunked
 *   upload can continue on any replica. The price: S3 has no append and RGW copies the bytes
 *   of an UploadPartCopy, so each chunk of a session copies all the chunks before it. A
 *   writer that fails or whose process dies leaves the file as it was before it (its
 *   multipart upload is aborted, or found later by `abortIncompleteUploads`).
 * - `move` is a server-side copy (multipart for objects over 5 GiB; the shape checks beside
 *   it, as for `putContent`) and a delete. S3 has no
 *   rename, so a reader may see both names for a moment; the destination only ever holds
 *   whole content.
 * - `walk` lists keys in the store's order (whole-path ascending, as the contract asks);
 *   files deleted by this driver since a page was listed are checked again before they are
 *   visited.
 *
 * Ceph RGW needs `forcePathStyle`, and the SDK's default checksums are asked for only when
 * an operation requires them (newer SDKs otherwise send aws-chunked bodies Ceph refuses).
 */
export function createS3Driver(options: S3DriverOptions): S3Driver {
  const bucket = options.bucket;
  if (typeof bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `s3: ${JSON.stringify(String(bucket))} is not a valid bucket name`,
    );
  }
  const partSize = options.partSize ?? DEFAULT_PART_BYTES;
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_BYTES) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `s3: partSize must be a whole number of bytes, at least ${MIN_PART_BYTES}`,
    );
  }
  const root = (options.rootDirectory ?? '').replace(/^\/+|\/+$/g, '');
  if (root !== '' && !/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(root)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      's3: rootDirectory must be /-separated names of letters, digits, ".", "_" and "-"',
    );
  }
  const prefix = root === '' ? '' : `${root}/`;
  const client = new S3Client({
    region: options.region ?? 'us-east-1',
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? false,
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Without a logger of its own the SDK writes some warnings to the console (an aborted
    // streaming upload); the driver reports failures as errors instead.
    logger: SILENT_LOGGER,
  });

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

  async function head(
    op: string,
    path: string,
  ): Promise<{ size: number; modTime: Date; etag: string } | undefined> {
    try {
      const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(path) }));
      return {
        size: out.ContentLength ?? 0,
        modTime: out.LastModified ?? new Date(0),
        etag: out.ETag ?? '',
      };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw ioError(op, path, describe(err), err);
    }
  }

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

  async function put(op: string, path: string, body: Uint8Array): Promise<void> {
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: keyOf(path),
          Body: body,
          ContentLength: body.byteLength,
        }),
      );
    } catch (err) {
      throw ioError(op, path, describe(err), err);
    }
  }

  async function getObject(
    op: string,
    path: string,
    range?: string,
  ): Promise<{ body: Readable; size: number } | 'unsatisfiable' | undefined> {
    try {
      const out = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: keyOf(path),
          ...(range !== undefined ? { Range: range } : {}),
        }),
      );
      return { body: out.Body as Readable, size: out.ContentLength ?? 0 };
    } catch (err) {
      if (isMissing(err)) return undefined;
      if (statusOf(err) === 416) return 'unsatisfiable';
      throw ioError(op, path, describe(err), err);
    }
  }

  async function deleteKeys(op: string, path: string, keys: readonly string[]): Promise<void> {
    if (keys.length <= FEW_KEYS) {
      // A few single deletes side by side answer sooner than one DeleteObjects on RGW.
      await Promise.all(
        keys.map(async (Key) => {
          try {
            await client.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
          } catch (err) {
            if (!isMissing(err)) throw ioError(op, path, describe(err), err);
          }
        }),
      );
      return;
    }
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      let out;
      try {
        out = await client.send(
          new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
      } catch (err) {
        throw ioError(op, path, describe(err), err);
      }
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        throw ioError(
          op,
          path,
          `${failed.length} objects could not be deleted (${failed[0]!.Code})`,
        );
      }
    }
  }

  async function deleteObject(op: string, path: string): Promise<void> {
    try {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(path) }));
    } catch (err) {
      if (!isMissing(err)) throw ioError(op, path, describe(err), err);
    }
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
    const upload = await startMultipart(op, destination);
    try {
      const parts = await copyParts(op, destination, upload, source, size, etag, 1);
      await completeMultipart(op, destination, upload, parts);
    } catch (err) {
      await abortMultipart(upload, destination);
      throw err;
    }
  }

  async function startMultipart(op: string, path: string): Promise<string> {
    try {
      const out = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: keyOf(path) }),
      );
      if (out.UploadId === undefined) throw new Error('no UploadId in the answer');
      return out.UploadId;
    } catch (err) {
      throw ioError(op, path, describe(err), err);
    }
  }

  /**
   * Copies `source` (`size` bytes, at least MIN_PART_BYTES) into parts `first`, `first + 1`,
   * ... of `upload`, in equal ranges of at most COPY_RANGE_BYTES (so none is below the part
   * minimum).
   */
  async function copyParts(
    op: string,
    path: string,
    upload: string,
    source: string,
    size: number,
    etag: string,
    first: number,
  ): Promise<CompletedPart[]> {
    const count = Math.ceil(size / COPY_RANGE_BYTES);
    const step = Math.ceil(size / count);
    const ranges = Array.from({ length: count }, (_, i) => ({
      start: i * step,
      end: Math.min(size, (i + 1) * step) - 1,
    }));
    return Promise.all(
      ranges.map(async ({ start, end }, i): Promise<CompletedPart> => {
        const PartNumber = first + i;
        try {
          const out = await client.send(
            new UploadPartCopyCommand({
              Bucket: bucket,
              Key: keyOf(path),
              UploadId: upload,
              PartNumber,
              CopySource: `${bucket}/${keyOf(source)}`,
              CopySourceRange: `bytes=${start}-${end}`,
              ...(etag !== '' ? { CopySourceIfMatch: etag } : {}),
            }),
          );
          return { PartNumber, ETag: out.CopyPartResult?.ETag ?? '' };
        } catch (err) {
          throw ioError(op, path, describe(err), err);
        }
      }),
    );
  }

  async function completeMultipart(
    op: string,
    path: string,
    upload: string,
    parts: CompletedPart[],
  ): Promise<void> {
    try {
      // The answer's ETag is not used: Ceph answers an empty one.
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: keyOf(path),
          UploadId: upload,
          MultipartUpload: { Parts: [...parts].sort((a, b) => a.PartNumber! - b.PartNumber!) },
        }),
      );
    } catch (err) {
      throw ioError(op, path, describe(err), err);
    }
  }

  async function abortMultipart(upload: string, path: string): Promise<void> {
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: keyOf(path), UploadId: upload }))
      .catch(() => undefined); // left for abortIncompleteUploads
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

    async getContent(path) {
      checkPath('getContent', path, false);
      const object = await getObject('getContent', path);
      if (object === undefined || object === 'unsatisfiable') throw notFound('getContent', path);
      try {
        const chunks: Buffer[] = [];
        for await (const chunk of object.body) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      } catch (err) {
        throw ioError('getContent', path, describe(err), err);
      }
    },

    async putContent(path, content) {
      checkPath('putContent', path, false);
      const checked = startCheck('putContent', path);
      // A copy: the caller may change its buffer once this resolves (or before it does).
      const failed = await put('putContent', path, Buffer.from(content)).then(
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
        return createStreamingWriter(path, announced);
      }
      return createWriter(path, existing, announced);
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
          await deleteKeys('delete', path, keys);
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

    async abortIncompleteUploads(before) {
      let aborted = 0;
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      do {
        let page;
        try {
          page = await client.send(
            new ListMultipartUploadsCommand({
              Bucket: bucket,
              Prefix: prefix,
              ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
              ...(uploadIdMarker !== undefined ? { UploadIdMarker: uploadIdMarker } : {}),
            }),
          );
        } catch (err) {
          throw ioError('abortIncompleteUploads', '/', describe(err), err);
        }
        for (const upload of page.Uploads ?? []) {
          if (upload.Initiated === undefined || upload.Initiated.getTime() >= before.getTime()) {
            continue;
          }
          await client
            .send(
              new AbortMultipartUploadCommand({
                Bucket: bucket,
                Key: upload.Key!,
                UploadId: upload.UploadId!,
              }),
            )
            .then(
              () => aborted++,
              (err: unknown) => {
                if (!isMissing(err))
                  throw ioError('abortIncompleteUploads', '/', describe(err), err);
              },
            );
        }
        keyMarker = page.IsTruncated === true ? page.NextKeyMarker : undefined;
        uploadIdMarker = page.IsTruncated === true ? page.NextUploadIdMarker : undefined;
      } while (keyMarker !== undefined);
      return aborted;
    },

    destroy() {
      client.destroy();
    },
  };

  /**
   * A writer of exactly `size` bytes streamed as the body of one PutObject: no buffering, no
   * parts. Written short (closed early, or failed), the request is aborted and the file stays
   * as it was.
   */
  function createStreamingWriter(path: string, size: number): FileWriter {
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    // Aborting destroys the body with an error; the failed request is what reports it.
    body.on('error', () => undefined);
    let written = 0;
    let finished = false;
    let failure: unknown;
    // Aborting must cut the connection: a body that merely stops leaves the store waiting
    // for the announced bytes until its own timeout, minutes on RGW.
    const cut = new AbortController();
    const sent = client
      .send(
        new PutObjectCommand({ Bucket: bucket, Key: keyOf(path), Body: body, ContentLength: size }),
        { abortSignal: cut.signal },
      )
      .then(
        () => undefined,
        (err: unknown) => {
          failure ??= ioError('write', path, describe(err), err);
          body.destroy();
        },
      );

    async function abort(): Promise<void> {
      cut.abort();
      body.destroy(new Error('writer closed before all announced bytes were written'));
      await sent;
    }

    /** Ends the body: the object appears, whole. */
    async function publish(): Promise<void> {
      body.end();
      await sent;
      if (failure !== undefined) throw failure;
      rememberParents(path);
    }

    return {
      get size() {
        return written;
      },

      async write(chunk) {
        if (finished) throw writerFinished('write', path);
        if (failure !== undefined) throw failure;
        if (chunk.byteLength === 0) return;
        if (written + chunk.byteLength > size) {
          throw ioError('write', path, `more than the ${size} bytes announced`);
        }
        written += chunk.byteLength;
        // Copied: the caller may reuse its buffer once this resolves.
        if (!body.write(Buffer.from(chunk))) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              body.off('drain', done);
              body.off('close', done);
              resolve();
            };
            body.on('drain', done);
            body.on('close', done);
          });
        }
        if (failure !== undefined) throw failure;
      },

      async commit() {
        if (finished) throw writerFinished('commit', path);
        finished = true;
        if (written !== size) {
          await abort();
          throw ioError('commit', path, `${written} bytes written, ${size} announced`);
        }
        await publish();
      },

      async close() {
        if (finished) return;
        finished = true;
        if (written !== size) {
          await abort();
          return;
        }
        await publish();
      },

      async cancel() {
        if (finished) throw writerFinished('cancel', path);
        finished = true;
        await abort();
        removals++;
        forgetDirectories(path);
        await deleteObject('cancel', path);
      },
    };
  }

  /**
   * A writer over `path`. `existing` is the object an appending writer continues; below the
   * part minimum its bytes are carried in the buffer (read on the first write: a commit that
   * appends nothing reads nothing), above it they are copied server-side into the first parts
   * when the first part is needed. With `announced`, a writer closed short keeps nothing.
   */
  function createWriter(
    path: string,
    existing: { size: number; etag: string } | undefined,
    announced: number | undefined,
  ): FileWriter {
    const expected = announced === undefined ? undefined : (existing?.size ?? 0) + announced;
    const carries = existing !== undefined && existing.size < MIN_PART_BYTES;
    let carried: Promise<void> | undefined;
    let buffer: Buffer[] = [];
    let buffered = 0;
    let size = existing?.size ?? 0;
    /** Whether closing must write anything: a new file, or bytes appended. */
    let dirty = existing === undefined;
    let upload: Promise<string> | undefined;
    let nextPart = 1;
    const parts: Promise<CompletedPart>[] = [];
    const inFlight = new Set<Promise<unknown>>();
    let failure: unknown;
    let finished = false;

    /** The multipart upload, started (with the copy of an existing large object) on first need. */
    function ensureUpload(): Promise<string> {
      if (upload === undefined) {
        upload = startMultipart('write', path);
        if (existing !== undefined && !carries) {
          const first = nextPart;
          const count = Math.ceil(existing.size / COPY_RANGE_BYTES);
          nextPart += count;
          const copied = upload.then((id) =>
            copyParts('write', path, id, path, existing.size, existing.etag, first),
          );
          for (let i = 0; i < count; i++) parts.push(copied.then((all) => all[i]!));
          track(copied);
        }
      }
      return upload;
    }

    function track(promise: Promise<unknown>): void {
      const settled = promise.then(
        () => undefined,
        (err: unknown) => {
          failure ??= err;
        },
      );
      inFlight.add(settled);
      void settled.then(() => inFlight.delete(settled));
    }

    /** Reads the existing (small) object to the front of the buffer. */
    async function carryExisting(): Promise<void> {
      try {
        const object = await getObject('write', path);
        if (object === undefined || object === 'unsatisfiable') return;
        const chunks: Buffer[] = [];
        for await (const chunk of object.body) chunks.push(chunk as Buffer);
        const bytes = Buffer.concat(chunks);
        buffer.unshift(bytes);
        buffered += bytes.length;
      } catch (err) {
        failure ??=
          err instanceof Error && 'code' in err ? err : ioError('write', path, describe(err), err);
      }
    }

    /** Sends the buffer as the next part. */
    function sendPart(): void {
      const body = Buffer.concat(buffer, buffered);
      buffer = [];
      buffered = 0;
      const started = ensureUpload(); // first: the copied parts come before this one
      const PartNumber = nextPart++;
      const part = started.then(async (UploadId): Promise<CompletedPart> => {
        try {
          const out = await client.send(
            new UploadPartCommand({
              Bucket: bucket,
              Key: keyOf(path),
              UploadId,
              PartNumber,
              Body: body,
              ContentLength: body.length,
            }),
          );
          return { PartNumber, ETag: out.ETag ?? '' };
        } catch (err) {
          throw ioError('write', path, describe(err), err);
        }
      });
      parts.push(part);
      track(part);
    }

    async function settle(): Promise<void> {
      while (inFlight.size > 0) await Promise.all(inFlight);
    }

    /** Writes out what is buffered and makes the file whole and visible. */
    async function finish(op: string): Promise<void> {
      finished = true;
      try {
        if (failure !== undefined) throw failure;
        if (!dirty) return;
        await carried;
        if (failure !== undefined) throw failure;
        const copies = existing !== undefined && !carries;
        if (upload === undefined && !copies) {
          await put(op, path, Buffer.concat(buffer, buffered));
          rememberParents(path);
          return;
        }
        // The appended bytes follow the server-side copy of the existing object.
        if (buffered > 0) sendPart();
        await settle();
        if (failure !== undefined) throw failure;
        await completeMultipart(op, path, await ensureUpload(), await Promise.all(parts));
        rememberParents(path);
      } catch (err) {
        await abandon();
        throw err instanceof Error && 'code' in err ? err : ioError(op, path, describe(err), err);
      }
    }

    /** Drops the multipart upload, if any: the file stays as it was before this writer. */
    async function abandon(): Promise<void> {
      await settle();
      if (upload !== undefined) {
        const id = await upload.catch(() => undefined);
        if (id !== undefined) await abortMultipart(id, path);
      }
      buffer = [];
      buffered = 0;
    }

    return {
      get size() {
        return size;
      },

      async write(chunk) {
        if (finished) throw writerFinished('write', path);
        if (failure !== undefined) throw failure;
        if (chunk.byteLength === 0) return;
        if (expected !== undefined && size + chunk.byteLength > expected) {
          throw ioError('write', path, `more than the ${announced} bytes announced`);
        }
        dirty = true;
        if (carries) carried ??= carryExisting();
        // Copied: the caller may reuse its buffer once this resolves.
        buffer.push(Buffer.from(chunk));
        buffered += chunk.byteLength;
        size += chunk.byteLength;
        if (carried !== undefined) {
          await carried;
          if (failure !== undefined) throw failure;
        }
        if (buffered >= partSize) {
          sendPart();
          while (inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(inFlight);
          if (failure !== undefined) throw failure;
        }
      },

      async commit() {
        if (finished) throw writerFinished('commit', path);
        if (expected !== undefined && size !== expected) {
          finished = true;
          await abandon();
          throw ioError(
            'commit',
            path,
            `${size - (existing?.size ?? 0)} bytes written, ${announced} announced`,
          );
        }
        await finish('commit');
      },

      async close() {
        if (finished) return;
        if (expected !== undefined && size !== expected) {
          // Written short: nothing of this writer is kept (`StorageDriver.writer`'s `size`).
          finished = true;
          await abandon();
          return;
        }
        await finish('close');
      },

      async cancel() {
        if (finished) throw writerFinished('cancel', path);
        finished = true;
        await abandon();
        removals++;
        forgetDirectories(path);
        await deleteObject('cancel', path);
      },
    };
  }

  return driver;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function isMissing(err: unknown): boolean {
  const name = (err as { name?: unknown }).name;
  if (name === 'NoSuchBucket') return false;
  return (
    name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchUpload' || statusOf(err) === 404
  );
}

/** An S3 error as a short phrase: its code and HTTP status, or the network error. */
function describe(err: unknown): string {
  const name = (err as { name?: unknown }).name;
  const status = statusOf(err);
  const code = (err as { code?: unknown }).code;
  if (status !== undefined)
    return `S3 answered ${status}${typeof name === 'string' ? ` ${name}` : ''}`;
  if (typeof code === 'string') return `S3 not reachable (${code})`;
  return `S3 request failed (${err instanceof Error ? err.message : String(err)})`;
}
