import { InvalidInputError } from '../errors.js';
import type { MetadataConfig, StorageDriver } from '../registry/index.js';
import { collectGarbageNow } from '../registry/index.js';

/**
 * `nv2 registry gc --online`: one collection through the metadata database while the
 * registry serves. The offline collector reads the driver's links, which a database-backed
 * registry does not keep: it would find everything unreferenced, so with a database only
 * this one runs.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT without a database, or with a bad flag.
 */
export async function collectOnline(
  driver: StorageDriver,
  metadata: MetadataConfig | undefined,
  flags: { online?: boolean; dryRun?: boolean; deleteUntagged?: boolean; graceSeconds?: string },
): Promise<{ skipped: boolean; manifests: number; links: number; blobs: number; bytes: number }> {
  if (metadata === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      '--online needs storage.metadata.database in --config (the embedded store is collected offline)',
    );
  }
  if (flags.online !== true) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'this registry keeps its metadata in a database: collect with nv2 registry gc --online',
    );
  }
  if (flags.dryRun === true || flags.deleteUntagged === true) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      '--online always deletes untagged manifests past the grace period and has no --dry-run',
    );
  }
  let grace = metadata.gc.graceSeconds;
  if (flags.graceSeconds !== undefined) {
    if (!/^\d+$/.test(flags.graceSeconds)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        '--grace-seconds takes a whole number of seconds',
      );
    }
    grace = Number(flags.graceSeconds);
  }
  return collectGarbageNow(driver, metadata, grace);
}
