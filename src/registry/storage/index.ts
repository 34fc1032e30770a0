/**
 * Storage drivers: the only code of the registry that touches the medium. `driver.ts` is the
 * contract; each driver passes the shared suite (`test/suites/storage-driver.ts`).
 */
import { createFilesystemDriver } from './filesystem.js';
import { createMemoryDriver } from './memory.js';
import type { S3Driver, S3DriverOptions } from './s3.js';

export { isValidStoragePath } from './driver.js';
export type { FileInfo, FileWriter, StorageDriver } from './driver.js';
export { createFilesystemDriver } from './filesystem.js';
export type { FilesystemDriverOptions } from './filesystem.js';
export { createMemoryDriver } from './memory.js';
export type { S3Driver, S3DriverOptions } from './s3.js';

/**
 * Creates the S3 driver (`s3.ts`). The AWS SDK is loaded on first call, so processes that
 * never use object storage (the CLI, the filesystem registry) never load it.
 *
 * @example
 * const driver = await loadS3Driver({ bucket: 'registry', endpoint, forcePathStyle: true });
 */
export async function loadS3Driver(options: S3DriverOptions): Promise<S3Driver> {
  const { createS3Driver } = await import('./s3.js');
  return createS3Driver(options);
}

/**
 * Every storage driver by its configuration name: an explicit map, not registration by
 * import side effect. A new backend (S3) adds an entry here.
 *
 * @example
 * const driver = STORAGE_DRIVERS.filesystem({ root: '/var/lib/nv2/registry' });
 */
export const STORAGE_DRIVERS = {
  filesystem: createFilesystemDriver,
  memory: createMemoryDriver,
} as const;

/** The name of a storage driver in `STORAGE_DRIVERS`. */
export type StorageDriverName = keyof typeof STORAGE_DRIVERS;
