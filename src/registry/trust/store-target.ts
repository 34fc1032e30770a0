import { Readable } from 'node:stream';
import type { ReadOnlyTarget, ReferrerLister } from '../../content/index.js';
import { InvalidInputError } from '../../errors.js';
import { type Descriptor, MediaTypes } from '../../oci/index.js';
import type { RegistryStore } from '../storage/store.js';

const MANIFEST_TYPES: ReadonlySet<string> = new Set([
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
]);

/**
 * One repository of the registry's own store as a read-only content target, so that the
 * verification workflows (`notary.verifyWithPolicy`) read signatures straight from storage,
 * with no HTTP round trip and no access control in between (the registry judges content for
 * every client alike).
 */
export function repositoryTarget(
  store: RegistryStore,
  repository: string,
): ReadOnlyTarget & ReferrerLister {
  const missing = (what: string): InvalidInputError =>
    new InvalidInputError('NV2_ERR_CONTENT_NOT_FOUND', `${repository}: ${what} not found`);
  return {
    async resolve(reference: string): Promise<Descriptor> {
      const found = await store.manifests.stat(repository, reference);
      if (found === undefined) throw missing(reference);
      return found;
    },
    async fetch(target: Descriptor): Promise<Readable> {
      if (MANIFEST_TYPES.has(target.mediaType)) {
        const stored = await store.manifests.get(repository, target.digest);
        if (stored === undefined) throw missing(target.digest);
        return Readable.from([stored.content]);
      }
      if ((await store.blobs.stat(repository, target.digest)) === undefined) {
        throw missing(target.digest);
      }
      return store.blobs.open(repository, target.digest);
    },
    async exists(target: Descriptor): Promise<boolean> {
      return MANIFEST_TYPES.has(target.mediaType)
        ? (await store.manifests.stat(repository, target.digest)) !== undefined
        : (await store.blobs.stat(repository, target.digest)) !== undefined;
    },
    referrers(subject: Descriptor, options?: { artifactType?: string }): Promise<Descriptor[]> {
      return store.referrers.list(
        repository,
        subject.digest,
        options?.artifactType !== undefined ? { artifactType: options.artifactType } : {},
      );
    },
  };
}
