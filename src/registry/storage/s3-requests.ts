import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import type { CompletedPart, S3Client } from '@aws-sdk/client-s3';
import { ioError } from './driver-checks.js';

/**
 * The single S3 requests the S3 driver (`s3.ts`) and its writers (`s3-writers.ts`,
 * `s3-pending.ts`) are made of, each turning the SDK's failures into the driver contract's
 * errors: a missing object is `undefined` where the caller can expect one, anything else
 * NV2_ERR_STORAGE_IO naming the storage path.
 */

export const MiB = 1024 * 1024;
/** The smallest part S3 accepts, except for the last one of an upload. */
export const MIN_PART_BYTES = 5 * MiB;
/** The largest object a single PutObject, CopyObject, UploadPart or UploadPartCopy may carry. */
export const MAX_COPY_BYTES = 5 * 1024 * MiB;
/** Ranges a large object is copied in. */
const COPY_RANGE_BYTES = 1024 * MiB;

/** What every request needs: the client, the bucket, and how a storage path becomes a key. */
export interface S3Context {
  readonly client: S3Client;
  readonly bucket: string;
  /** The key of a storage path. */
  keyOf(path: string): string;
}

export async function headObject(
  s3: S3Context,
  op: string,
  path: string,
): Promise<{ size: number; modTime: Date; etag: string } | undefined> {
  try {
    const out = await s3.client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: s3.keyOf(path) }),
    );
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

export async function putObject(
  s3: S3Context,
  op: string,
  path: string,
  body: Uint8Array,
): Promise<void> {
  try {
    await s3.client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: s3.keyOf(path),
        Body: body,
        ContentLength: body.byteLength,
      }),
    );
  } catch (err) {
    throw ioError(op, path, describe(err), err);
  }
}

export async function getObject(
  s3: S3Context,
  op: string,
  path: string,
  range?: string,
): Promise<{ body: Readable; size: number } | 'unsatisfiable' | undefined> {
  try {
    const out = await s3.client.send(
      new GetObjectCommand({
        Bucket: s3.bucket,
        Key: s3.keyOf(path),
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

/** A whole (small) object in memory; undefined when it is missing. */
export async function getBytes(
  s3: S3Context,
  op: string,
  path: string,
): Promise<Buffer | undefined> {
  const object = await getObject(s3, op, path);
  if (object === undefined || object === 'unsatisfiable') return undefined;
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of object.body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } catch (err) {
    throw ioError(op, path, describe(err), err);
  }
}

export async function deleteObject(s3: S3Context, op: string, path: string): Promise<void> {
  try {
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: s3.keyOf(path) }));
  } catch (err) {
    if (!isMissing(err)) throw ioError(op, path, describe(err), err);
  }
}

export async function startMultipart(s3: S3Context, op: string, path: string): Promise<string> {
  try {
    const out = await s3.client.send(
      new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: s3.keyOf(path) }),
    );
    if (out.UploadId === undefined) throw new Error('no UploadId in the answer');
    return out.UploadId;
  } catch (err) {
    throw ioError(op, path, describe(err), err);
  }
}

/**
 * Uploads one part. `body` is bytes, or a stream of exactly `length` bytes; `signal` cuts
 * the request (a stream that stops short would leave the store waiting for its timeout).
 */
export async function uploadPart(
  s3: S3Context,
  op: string,
  path: string,
  upload: string,
  PartNumber: number,
  body: Uint8Array | Readable,
  length: number,
  signal?: AbortSignal,
): Promise<CompletedPart> {
  try {
    const out = await s3.client.send(
      new UploadPartCommand({
        Bucket: s3.bucket,
        Key: s3.keyOf(path),
        UploadId: upload,
        PartNumber,
        Body: body,
        ContentLength: length,
      }),
      signal !== undefined ? { abortSignal: signal } : {},
    );
    return { PartNumber, ETag: out.ETag ?? '' };
  } catch (err) {
    throw ioError(op, path, describe(err), err);
  }
}

/**
 * Copies `source` (`size` bytes, at least MIN_PART_BYTES) into parts `first`, `first + 1`,
 * ... of `upload`, in equal ranges of at most COPY_RANGE_BYTES (so none is below the part
 * minimum).
 */
export async function copyParts(
  s3: S3Context,
  op: string,
  path: string,
  upload: string,
  source: string,
  size: number,
  etag: string,
  first: number,
): Promise<CompletedPart[]> {
  const count = copyPartCount(size);
  const step = Math.ceil(size / count);
  const ranges = Array.from({ length: count }, (_, i) => ({
    start: i * step,
    end: Math.min(size, (i + 1) * step) - 1,
  }));
  return Promise.all(
    ranges.map(async ({ start, end }, i): Promise<CompletedPart> => {
      const PartNumber = first + i;
      try {
        const out = await s3.client.send(
          new UploadPartCopyCommand({
            Bucket: s3.bucket,
            Key: s3.keyOf(path),
            UploadId: upload,
            PartNumber,
            CopySource: `${s3.bucket}/${s3.keyOf(source)}`,
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

/** How many parts `copyParts` copies `size` bytes in. */
export function copyPartCount(size: number): number {
  return Math.ceil(size / COPY_RANGE_BYTES);
}

export async function completeMultipart(
  s3: S3Context,
  op: string,
  path: string,
  upload: string,
  parts: readonly CompletedPart[],
): Promise<void> {
  try {
    // The answer's ETag is not used: Ceph answers an empty one.
    await s3.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: s3.keyOf(path),
        UploadId: upload,
        MultipartUpload: { Parts: [...parts].sort((a, b) => a.PartNumber! - b.PartNumber!) },
      }),
    );
  } catch (err) {
    throw ioError(op, path, describe(err), err);
  }
}

/** Aborts a multipart upload; a failure is left for `abortIncompleteUploads`. */
export async function abortMultipart(s3: S3Context, upload: string, path: string): Promise<void> {
  await s3.client
    .send(
      new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: s3.keyOf(path), UploadId: upload }),
    )
    .catch(() => undefined);
}

/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH = 1000;
/** Up to this many keys are deleted one request each, side by side (an upload session's two). */
const FEW_KEYS = 4;

/** Deletes `keys`, reporting failures against `path`; keys already gone are no failure. */
export async function deleteKeys(
  s3: S3Context,
  op: string,
  path: string,
  keys: readonly string[],
): Promise<void> {
  if (keys.length <= FEW_KEYS) {
    // A few single deletes side by side answer sooner than one DeleteObjects on RGW.
    await Promise.all(
      keys.map(async (Key) => {
        try {
          await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key }));
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
      out = await s3.client.send(
        new DeleteObjectsCommand({
          Bucket: s3.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
    } catch (err) {
      throw ioError(op, path, describe(err), err);
    }
    const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
    if (failed.length > 0) {
      throw ioError(op, path, `${failed.length} objects could not be deleted (${failed[0]!.Code})`);
    }
  }
}

/**
 * Aborts the multipart uploads under `prefix` started before `before` (`S3Driver`'s
 * `abortIncompleteUploads`); returns how many.
 */
export async function abortIncompleteUploads(
  s3: S3Context,
  prefix: string,
  before: Date,
): Promise<number> {
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    let page;
    try {
      page = await s3.client.send(
        new ListMultipartUploadsCommand({
          Bucket: s3.bucket,
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
      await s3.client
        .send(
          new AbortMultipartUploadCommand({
            Bucket: s3.bucket,
            Key: upload.Key!,
            UploadId: upload.UploadId!,
          }),
        )
        .then(
          () => aborted++,
          (err: unknown) => {
            if (!isMissing(err)) throw ioError('abortIncompleteUploads', '/', describe(err), err);
          },
        );
    }
    keyMarker = page.IsTruncated === true ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated === true ? page.NextUploadIdMarker : undefined;
  } while (keyMarker !== undefined);
  return aborted;
}

export function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

export function isMissing(err: unknown): boolean {
  const name = (err as { name?: unknown }).name;
  if (name === 'NoSuchBucket') return false;
  return (
    name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchUpload' || statusOf(err) === 404
  );
}

/** An S3 error as a short phrase: its code and HTTP status, or the network error. */
export function describe(err: unknown): string {
  const name = (err as { name?: unknown }).name;
  const status = statusOf(err);
  const code = (err as { code?: unknown }).code;
  if (status !== undefined)
    return `S3 answered ${status}${typeof name === 'string' ? ` ${name}` : ''}`;
  if (typeof code === 'string') return `S3 not reachable (${code})`;
  return `S3 request failed (${err instanceof Error ? err.message : String(err)})`;
}

/** An error as the driver reports it: a driver error as it is, anything else as IO. */
export function asStorageError(op: string, path: string, err: unknown): unknown {
  return err instanceof Error && 'code' in err ? err : ioError(op, path, describe(err), err);
}
