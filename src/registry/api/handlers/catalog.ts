import { parsePageSize } from '../request.js';
import { nextLink, sendJson } from '../respond.js';
import type { Handler } from '../handler.js';

/** Repositories per catalog page when the client gives no `n` (distribution's default). */
export const DEFAULT_CATALOG_PAGE = 100;

/** The largest catalog page served; a larger `n` gets this many and a `Link` to the rest. */
export const MAX_CATALOG_PAGE = 1000;

/**
 * `GET /v2/_catalog[?n=<int>&last=<repo>]`: repository names in lexical order,
 * `{"repositories": [...]}`, paginated like tags (the spec reserves the endpoint; this is
 * distribution's behaviour), always in pages so the answer stays bounded.
 */
export const listCatalog: Handler<Record<string, never>> = async (ctx) => {
  const n = parsePageSize(ctx.query, MAX_CATALOG_PAGE) ?? DEFAULT_CATALOG_PAGE;
  const last = ctx.query.get('last') ?? undefined;
  const page =
    n === 0
      ? { repositories: [], more: false }
      : await ctx.store.catalog.list({ n, ...(last !== undefined ? { last } : {}) });
  const lastRepository = page.repositories.at(-1);
  const headers: Record<string, string> = {};
  if (page.more && lastRepository !== undefined) {
    headers['Link'] = nextLink('/v2/_catalog', { n: String(n), last: lastRepository });
  }
  sendJson(ctx, 200, { repositories: page.repositories }, headers);
};
