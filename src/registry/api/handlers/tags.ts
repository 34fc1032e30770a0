import { parsePageSize } from '../request.js';
import { nextLink, sendBytes, sendJson } from '../respond.js';
import type { Handler, PatternParams } from '../handler.js';

/**
 * The largest tag page served. `n` above it is answered with this many tags and a `Link` to
 * the rest (the spec allows fewer than `n` when a `Link` follows), so one request can never
 * make the registry build an unbounded response.
 */
export const MAX_TAGS_PAGE = 10_000;

/**
 * `GET /v2/<name>/tags/list[?n=<int>&last=<tag>]` (end-8a, end-8b): the tags in lexical order,
 * `{"name", "tags"}`. Without `n`, every tag (the spec's "if not present, all entries will be
 * returned"); with `n`, at most `n` after `last`, and `Link: <…?n=…&last=…>; rel="next"` when
 * more follow. `n=0` is an empty list without `Link`. NAME_UNKNOWN for a repository that does
 * not exist.
 */
export const listTags: Handler<PatternParams['/v2/<name>/tags/list']> = async (ctx) => {
  const { name } = ctx.params;
  const n = parsePageSize(ctx.query, MAX_TAGS_PAGE);
  const last = ctx.query.get('last') ?? undefined;
  // n=0 still asks the store (for one tag), so that an unknown repository is NAME_UNKNOWN.
  const page = await ctx.store.tags.list(name, {
    ...(n !== undefined ? { n: Math.max(n, 1) } : {}),
    ...(last !== undefined ? { last } : {}),
  });
  const tags = n === 0 ? [] : page.tags;
  const lastTag = tags.at(-1);
  const headers: Record<string, string> = {};
  if (n !== undefined && n > 0 && page.more && lastTag !== undefined) {
    headers['Link'] = nextLink(`/v2/${name}/tags/list`, { n: String(n), last: lastTag });
  }
  if (n === undefined && last === undefined) {
    // The whole list: the store shares one frozen array until the tags change, so its JSON
    // is built once per change, not per request.
    sendBytes(ctx, 200, wholeListBody(name, tags), JSON_HEADERS);
    return;
  }
  sendJson(ctx, 200, { name, tags }, headers);
};

const JSON_HEADERS = Object.freeze({ 'Content-Type': 'application/json' });

/** Bodies of whole tag lists, by the store's (frozen, shared) array and repository name. */
const wholeListBodies = new WeakMap<readonly string[], { name: string; body: Buffer }>();

function wholeListBody(name: string, tags: readonly string[]): Buffer {
  const known = wholeListBodies.get(tags);
  if (known !== undefined && known.name === name) return known.body;
  const body = Buffer.from(JSON.stringify({ name, tags }));
  // Only a shared array can be a key: a fresh one would never be asked for again.
  if (Object.isFrozen(tags)) wholeListBodies.set(tags, { name, body });
  return body;
}
