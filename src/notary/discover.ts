import type { ReadOnlyTarget, ReferrerLister } from '../content/index.js';
import type { Descriptor } from '../oci/index.js';
import { requireReferrers } from './list.js';
import { plain } from './manifest.js';

/** How deep `discover` goes by default: subject → SBOM → signature of the SBOM, and more. */
export const DEFAULT_DISCOVER_DEPTH = 8;

/** Options of `discover`. */
export interface DiscoverOptions {
  /** List only referrers of this artifact type at the first level (deeper levels list all). */
  readonly artifactType?: string;
  /**
   * Where the referrers are, when not beside the artifact (a signature repository): the tree
   * is listed there, at every level, instead of in `target`.
   */
  readonly referrersTarget?: ReferrerLister;
  /** Levels of referrers to follow (default `DEFAULT_DISCOVER_DEPTH`), at least 1. */
  readonly maxDepth?: number;
}

/** A node of the referrers tree. */
export interface ReferrerNode {
  /** The manifest, with `artifactType` and `annotations` when the listing gave them. */
  readonly descriptor: Descriptor;
  readonly referrers: readonly ReferrerNode[];
}

async function children(
  target: ReferrerLister,
  subject: Descriptor,
  depth: number,
  maxDepth: number,
  seen: Set<string>,
  artifactType: string | undefined,
): Promise<ReferrerNode[]> {
  if (depth > maxDepth) return [];
  const found = await target.referrers(
    plain(subject),
    artifactType !== undefined ? { artifactType } : {},
  );
  const kept: Descriptor[] = [];
  for (const descriptor of found) {
    const type = descriptor.artifactType;
    if (artifactType !== undefined && type !== undefined && type !== artifactType) continue;
    if (seen.has(descriptor.digest)) continue;
    seen.add(descriptor.digest);
    kept.push(descriptor);
  }
  // Siblings' subtrees are listed at once: one round trip per level, not per referrer.
  return Promise.all(
    kept.map(async (descriptor) => ({
      descriptor,
      referrers: await children(target, descriptor, depth + 1, maxDepth, seen, undefined),
    })),
  );
}

/**
 * The referrers tree of what `reference` names: its referrers (signatures, SBOMs, …), theirs,
 * and so on to `maxDepth` levels.
 *
 * @example
 * const tree = await discover(repo, 'v1', { artifactType: 'application/vnd.cncf.notary.v2' });
 */
export async function discover(
  target: ReadOnlyTarget & ReferrerLister,
  reference: string,
  options: DiscoverOptions = {},
): Promise<ReferrerNode> {
  const lister = requireReferrers(options.referrersTarget ?? target);
  const descriptor = await target.resolve(reference);
  const maxDepth = options.maxDepth ?? DEFAULT_DISCOVER_DEPTH;
  const seen = new Set<string>([descriptor.digest]);
  return {
    descriptor,
    referrers: await children(lister, descriptor, 1, maxDepth, seen, options.artifactType),
  };
}
