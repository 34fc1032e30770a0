import { InvalidInputError } from '../errors.js';
import type { Descriptor, Digest } from '../oci/index.js';
import {
  FOREIGN_LAYER_MEDIA_TYPES,
  MAX_MANIFEST_BYTES,
  isDigest,
  isManifestMediaType,
  isTag,
  parseManifest,
  verifyStream,
} from '../oci/index.js';
import { readBoundedStream } from './bounded-read.js';
import type { ReadOnlyTarget, ReferrerLister, Target } from './target.js';
import { hasReferrers } from './target.js';

/**
 * How many transfers (`fetch`+`push` of a blob, a manifest fetch, a push, an `exists` or a
 * `referrers` call) run at once by default: oras-go's default, enough to overlap round trips
 * to a registry without opening many connections.
 */
export const DEFAULT_COPY_CONCURRENCY = 3;

/** What `copy` reports as it goes: one event per node, once it is done. */
export interface CopyProgressEvent {
  /** `copied`: pushed to the destination; `skipped`: the destination had it already. */
  readonly type: 'copied' | 'skipped';
  readonly kind: 'blob' | 'manifest';
  readonly descriptor: Descriptor;
}

/** Options of `copy`. */
export interface CopyOptions {
  /**
   * Copy the referrers of every manifest copied, recursively (subject → SBOM → signature of
   * the SBOM), when the source can list them (`hasReferrers`). Default true.
   */
  readonly referrers?: boolean;
  /**
   * Copy only referrers of these artifact types, at every level: a referrer left out is not
   * followed either, so `[nv2 signature type]` copies the signatures of the artifact but not
   * an SBOM nor the SBOM's signatures. Default: every referrer.
   */
  readonly artifactTypes?: readonly string[];
  /**
   * Where the referrers are (a signature repository, as cosign's `COSIGN_REPOSITORY`): they
   * are listed and read there instead of in `src`, at every level. Default `src`.
   */
  readonly referrersSource?: ReadOnlyTarget & ReferrerLister;
  /** Transfers at once (default `DEFAULT_COPY_CONCURRENCY`), at least 1. */
  readonly concurrency?: number;
  /** Called after each node is copied or skipped. It must not throw. */
  readonly onProgress?: (event: CopyProgressEvent) => void;
}

/** What `copy` did. */
export interface CopyResult {
  /** The root: what `srcRef` resolved to, as `src.resolve` returned it. */
  readonly descriptor: Descriptor;
  /** Every referrer copied or found already there, at any depth, in discovery order. */
  readonly referrers: readonly Descriptor[];
  readonly blobsCopied: number;
  readonly blobsSkipped: number;
  readonly manifestsCopied: number;
  readonly manifestsSkipped: number;
  /** Bytes pushed (blobs and manifests copied; nothing for those skipped). */
  readonly bytesCopied: number;
}

/** Runs at most `n` tasks at once; once one has failed, tasks not yet started fail at once. */
function createLimiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  let failure: { error: unknown } | undefined;
  return async (task) => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      if (failure !== undefined) throw failure.error;
      return await task();
    } catch (err) {
      failure ??= { error: err };
      throw err;
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/** Waits for every promise (nothing keeps running after a failure is reported), then throws the first failure. */
async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/** What `dstRef` (or, by default, `srcRef`) says to tag at the destination: a tag, or nothing. */
function destinationTag(root: Descriptor, srcRef: string, dstRef: string | undefined) {
  if (dstRef === undefined) return isTag(srcRef) ? srcRef : undefined;
  if (isTag(dstRef)) return dstRef;
  if (isDigest(dstRef)) {
    if (dstRef === root.digest) return undefined;
    throw new InvalidInputError(
      'NV2_ERR_INVALID_REFERENCE',
      `destination reference ${dstRef} is not the digest of ${srcRef} (${root.digest})`,
    );
  }
  throw new InvalidInputError(
    'NV2_ERR_INVALID_REFERENCE',
    `destination reference ${JSON.stringify(dstRef)} is neither a tag nor a digest`,
  );
}

/**
 * Copies the artifact `srcRef` names from `src` to `dst`, with its referrers (oras-go's
 * `oras.Copy` and `ExtendedCopy`): between any two stores (registry, OCI layout, memory).
 *
 * - `srcRef` (a tag or a digest) is resolved once; everything else goes by digest.
 * - The manifest graph is walked depth first (index → manifests → config and layers). A node
 *   is pushed only after all its children, so a destination never holds a manifest whose
 *   content it lacks, and content the destination has already (`dst.exists`) is not copied
 *   again. Manifests are still read from the source, to find their children and referrers.
 * - Then, unless `referrers: false`, the referrers of every manifest copied (children of an
 *   index included) are copied the same way, and theirs, until none are left. A subject is
 *   always at the destination before its referrers.
 * - Last, the root is tagged: `dstRef` if it is a tag; by default `srcRef` if that is a tag.
 *
 * Bytes are copied exactly as they are, so every digest, and with it every signature, stays
 * valid. Blobs are streamed from `fetch` to `push` (both verify size and digest), never held
 * whole in memory; manifests are read whole, up to `MAX_MANIFEST_BYTES`.
 *
 * @example
 * const layout = await openOciLayout('./airgap', { create: true });
 * const result = await copy(registry, 'v1', layout); // the image, its signatures, and theirs
 * result.descriptor.digest; // the same digest at both ends
 * @throws InvalidInputError NV2_ERR_CONTENT_NOT_FOUND (`srcRef`, or content it points at, is
 *   not in `src`), NV2_ERR_INVALID_REFERENCE (`dstRef`), NV2_ERR_INVALID_MANIFEST,
 *   NV2_ERR_FILE_TOO_LARGE (a manifest over the limit)
 * @throws VerificationFailedError NV2_ERR_CONTENT_DIGEST_MISMATCH / NV2_ERR_CONTENT_SIZE_MISMATCH
 *   (the source served content other than its descriptor says); and whatever `src` and `dst` throw
 */
export async function copy(
  src: ReadOnlyTarget,
  srcRef: string,
  dst: Target,
  dstRef?: string,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const concurrency = options.concurrency ?? DEFAULT_COPY_CONCURRENCY;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `concurrency must be a positive integer, not ${String(concurrency)}`,
    );
  }
  const root = await src.resolve(srcRef);
  const tag = destinationTag(root, srcRef, dstRef);
  const limit = createLimiter(concurrency);
  const counts = {
    blobsCopied: 0,
    blobsSkipped: 0,
    manifestsCopied: 0,
    manifestsSkipped: 0,
    bytesCopied: 0,
  };
  /** One copy per digest, however many parents share it. */
  const nodes = new Map<Digest, Promise<void>>();
  /** Every manifest walked, in the order finished: the subjects whose referrers to copy. */
  const manifests: Descriptor[] = [];

  function report(type: CopyProgressEvent['type'], kind: 'blob' | 'manifest', d: Descriptor) {
    if (kind === 'blob') counts[type === 'copied' ? 'blobsCopied' : 'blobsSkipped']++;
    else counts[type === 'copied' ? 'manifestsCopied' : 'manifestsSkipped']++;
    if (type === 'copied') counts.bytesCopied += d.size;
    options.onProgress?.({ type, kind, descriptor: d });
  }

  async function copyBlob(blob: Descriptor, from: ReadOnlyTarget): Promise<void> {
    if (await limit(() => dst.exists(blob))) return report('skipped', 'blob', blob);
    if (
      FOREIGN_LAYER_MEDIA_TYPES.has(blob.mediaType) &&
      'urls' in blob &&
      !(await limit(() => from.exists(blob)))
    ) {
      return report('skipped', 'blob', blob);
    }
    await limit(async () => {
      const stream = await from.fetch(blob);
      try {
        await dst.push(blob, stream);
      } finally {
        stream.destroy();
      }
    });
    report('copied', 'blob', blob);
  }

  async function copyManifest(manifest: Descriptor, from: ReadOnlyTarget): Promise<void> {
    if (manifest.size > MAX_MANIFEST_BYTES) {
      throw new InvalidInputError(
        'NV2_ERR_FILE_TOO_LARGE',
        `manifest ${manifest.digest} is ${manifest.size} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`,
      );
    }
    const bytes = await limit(async () => {
      const stream = await from.fetch(manifest);
      try {
        // Verified here too: the children about to be copied come from these bytes.
        return await readBoundedStream(
          verifyStream(stream, manifest),
          MAX_MANIFEST_BYTES,
          `manifest ${manifest.digest}`,
        );
      } finally {
        stream.destroy();
      }
    });
    const facts = parseManifest(bytes, manifest.mediaType);
    await settleAll(facts.children.map((child) => copyNode(child, from)));
    if (await limit(() => dst.exists(manifest))) report('skipped', 'manifest', manifest);
    else {
      await limit(() => dst.push(manifest, bytes));
      report('copied', 'manifest', manifest);
    }
    manifests.push(manifest);
  }

  function copyNode(node: Descriptor, from: ReadOnlyTarget): Promise<void> {
    let done = nodes.get(node.digest);
    if (done === undefined) {
      done = isManifestMediaType(node.mediaType) ? copyManifest(node, from) : copyBlob(node, from);
      nodes.set(node.digest, done);
    }
    return done;
  }

  async function referrersOf(lister: ReferrerLister, subject: Descriptor): Promise<Descriptor[]> {
    const types = options.artifactTypes;
    const found = await limit(() =>
      types?.length === 1
        ? lister.referrers(subject, { artifactType: types[0]! })
        : lister.referrers(subject),
    );
    return types === undefined ? found : found.filter((r) => types.includes(r.artifactType ?? ''));
  }

  await copyNode(root, src);
  const referrers: Descriptor[] = [];
  const lister = options.referrersSource ?? src;
  if (options.referrers !== false && hasReferrers(lister)) {
    // `manifests` grows while this runs: each referrer's graph adds its own manifests, whose
    // referrers are then listed in turn. Digests make cycles impossible; `nodes` skips repeats.
    for (let i = 0; i < manifests.length; i++) {
      const found = (await referrersOf(lister, manifests[i]!)).filter(
        (r, j, all) => !nodes.has(r.digest) && all.findIndex((o) => o.digest === r.digest) === j,
      );
      referrers.push(...found);
      await settleAll(found.map((r) => copyNode(r, lister)));
    }
  }
  if (tag !== undefined) await dst.tag(root, tag);
  return { descriptor: root, referrers, ...counts };
}
