import { ApiError } from '../errors.js';
import { sendJson } from '../respond.js';
import type { Handler } from '../handler.js';

/**
 * `GET /auth/token` (distribution `docs/spec/auth/token.md`): a registry token for the
 * requested scopes, issued by the registry's access control in token mode; 404 otherwise.
 * Tokens are credentials: the answer must not be cached (RFC 6749 §5.1).
 */
export const getToken: Handler<Record<string, never>> = async (ctx) => {
  if (ctx.auth === undefined || ctx.auth.mode !== 'token') {
    throw new ApiError('UNSUPPORTED', { status: 404, message: 'no such endpoint' });
  }
  const body = await ctx.auth.issue(ctx.req, ctx.query, ctx.authState);
  sendJson(ctx, 200, body, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
};
