import { S3Client } from '@aws-sdk/client-s3';
import { InvalidInputError } from '../../errors.js';
import { MIN_PART_BYTES, MiB } from './s3-requests.js';

/** The S3 driver's options (`createS3Driver`), checked, and the SDK client they make. */

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

const DEFAULT_PART_BYTES = 8 * MiB;
const SILENT_LOGGER = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * Checks `options` (NV2_ERR_INVALID_ARGUMENT naming the one that is wrong) and makes the
 * client. Ceph RGW needs `forcePathStyle`, and the SDK's default checksums are asked for only
 * when an operation requires them (newer SDKs otherwise send aws-chunked bodies Ceph refuses).
 */
export function connect(options: S3DriverOptions): {
  client: S3Client;
  bucket: string;
  /** The key prefix of everything: `<rootDirectory>/`, or empty. */
  prefix: string;
  partSize: number;
} {
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
  return { client, bucket, prefix, partSize };
}
