import type { Descriptor } from '../../../oci/index.js';
import { MediaTypes } from '../../../oci/index.js';
import { parsePageSize } from '../request.js';
import { nextLink, sendJson } from '../respond.js';
import type { Handler, PatternParams } from '../handler.js';

/**
 * Referrers per page. A page is an image index held in memory; descriptors carry annotations,
 * so the count is kept well below what would make a page approach the 4 MiB manifest limit
 * for ordinary annotations. Clients follow `Link` for the rest (the spec requires them to).
 */
export const REFERRERS_PAGE_SIZE = 500;

/**
 * `GET /v2/<name>/referrers/<digest>[?artifactType=<type>]` (end-12a, end-12b): an OCI image
 * index of the manifests in the repository whose `subject` is `<digest>`, each descriptor with
 * its `artifactType` and `annotations`. Always 200 for a valid digest: an empty index when there
 * are none, the subject or even the repository being absent (the spec forbids 404 here).
 *
 * With `artifactType`, only referrers of that type, and `OCI-Filters-Applied: artifactType`.
 *
 * Pages: descriptors are ordered by digest; a page holds at most `REFERRERS_PAGE_SIZE` (or `n`
 * when smaller; `n=0` is an empty page without `Link`) and, when more follow, `Link: </v2/<name>/referrers/<digest>?n=…&last=<digest
 * of the last entry>[&artifactType=…]>; rel="next"`. Ordering by digest keeps the cursor valid
 * when referrers are added or deleted between pages.
 */
export const listReferrers: Handler<PatternParams['/v2/<name>/referrers/<digest>']> = async (
  ctx,
) => {
  const { name, digest } = ctx.params;
  const artifactType = ctx.query.get('artifactType') ?? '';
  const n = parsePageSize(ctx.query, REFERRERS_PAGE_SIZE) ?? REFERRERS_PAGE_SIZE;
  const last = ctx.query.get('last') ?? undefined;
  const all = await ctx.store.referrers.list(
    name,
    digest,
    artifactType !== '' ? { artifactType } : undefined,
  );
  const sorted = [...all].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  const after = last === undefined ? sorted : sorted.filter((d) => d.digest > last);
  const page = after.slice(0, n);
  const headers: Record<string, string> = {};
  if (artifactType !== '') headers['OCI-Filters-Applied'] = 'artifactType';
  const lastEntry = page.at(-1);
  if (n > 0 && after.length > page.length && lastEntry !== undefined) {
    headers['Link'] = nextLink(`/v2/${name}/referrers/${digest}`, {
      n: String(n),
      last: lastEntry.digest,
      ...(artifactType !== '' ? { artifactType } : {}),
    });
  }
  sendJson(
    ctx,
    200,
    { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: page.map(referrerEntry) },
    headers,
    MediaTypes.ociIndex,
  );
};

/** The fields of a referrer descriptor the spec lists, and nothing else the store may carry. */
function referrerEntry(d: Descriptor): Descriptor {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.artifactType !== undefined ? { artifactType: d.artifactType } : {}),
    ...(d.annotations !== undefined ? { annotations: d.annotations } : {}),
  };
}
