import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { ApiError } from '../api/errors.js';

/**
 * What a request needs, what access control learned about it, and the 401 challenge that tells a client how to get it: `Basic`, or
 * `Bearer` with the token realm, service and scopes (distribution `docs/spec/auth/token.md`;
 * RFC 6750 `error` for a token that is invalid or lacks a scope).
 */

/** What a request needs. */
export type Need =
  | {
      readonly type: 'repository';
      readonly name: string;
      readonly action: 'pull' | 'push' | 'delete';
    }
  | { readonly type: 'catalog' }
  | { readonly type: 'authenticated' };

/** Where the token endpoint is served. */
export const TOKEN_PATH = '/auth/token';

/** What access control learned about one request, for its log record (never secrets). */
export interface AuthState {
  /** The authenticated user. */
  user?: string;
  /** Why credentials or a token were refused, or why access was not granted. */
  failure?: string;
}

/** What a challenge names besides the needs. */
export interface ChallengeSettings {
  readonly mode: 'token' | 'basic';
  readonly service: string;
  /** The configured token realm, when there is one. */
  readonly realm: string | undefined;
}

/** The challenge scope of a need (`repository:NAME:pull,push` for a push, as clients ask). */
export function scopeOf(need: Need): string | undefined {
  if (need.type === 'catalog') return 'registry:catalog:*';
  if (need.type === 'authenticated') return undefined;
  return `repository:${need.name}:${need.action === 'push' ? 'pull,push' : need.action}`;
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** The `WWW-Authenticate` value asking for basic credentials. */
export function basicChallenge(service: string): string {
  return `Basic realm=${quote(service)}, charset="UTF-8"`;
}

/** A host header we are willing to echo into a realm URL. */
const HOST = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/;

/**
 * The token realm a challenge names: the configured one, else `<scheme>://<Host>/auth/token`
 * (the socket's own address when the Host header is not one we are willing to echo).
 */
export function realmFor(req: IncomingMessage, configured: string | undefined): string {
  if (configured !== undefined) return configured;
  const scheme = (req.socket as TLSSocket).encrypted === true ? 'https' : 'http';
  const host = req.headers.host;
  if (host !== undefined && HOST.test(host)) return `${scheme}://${host}${TOKEN_PATH}`;
  const local = req.socket.localAddress ?? '127.0.0.1';
  const name = local.includes(':') ? `[${local}]` : local;
  return `${scheme}://${name}:${req.socket.localPort ?? 80}${TOKEN_PATH}`;
}

/** 401 with the challenge of `mode` for `needs`. */
export function challenge(
  settings: ChallengeSettings,
  req: IncomingMessage,
  needs: readonly Need[],
  error?: 'invalid_token' | 'insufficient_scope',
): ApiError {
  let header: string;
  if (settings.mode === 'basic') {
    header = basicChallenge(settings.service);
  } else {
    const scopes = needs.map(scopeOf).filter((s): s is string => s !== undefined);
    header =
      `Bearer realm=${quote(realmFor(req, settings.realm))},service=${quote(settings.service)}` +
      (scopes.length > 0 ? `,scope=${quote(scopes.join(' '))}` : '') +
      (error !== undefined ? `,error=${quote(error)}` : '');
  }
  const detail = needs
    .filter((n) => n.type !== 'authenticated')
    .map((n) =>
      n.type === 'catalog'
        ? { Type: 'registry', Name: 'catalog', Action: '*' }
        : { Type: 'repository', Name: n.name, Action: n.action },
    );
  return new ApiError('UNAUTHORIZED', {
    ...(detail.length > 0 ? { detail } : {}),
    headers: { 'WWW-Authenticate': header },
  });
}
