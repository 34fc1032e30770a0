import type { IncomingMessage } from 'node:http';
import { ApiError } from '../api/errors.js';
import type { AuthState } from './challenge.js';
import type { PasswordChecker } from './htpasswd.js';
import type { FailureLimiter } from './limiter.js';

/**
 * Users and their passwords at the door: basic credentials (every request in basic mode, the
 * token endpoint in token mode, the web UI's sign-in form), each failure counted per client
 * and a client that fails too often slowed down (`limiter.ts`).
 */

/** The address a request comes from (the socket's: forwarded headers can be forged). */
export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** Checks passwords, counting failures per client. */
export class BasicAuthenticator {
  readonly #passwords: PasswordChecker;
  readonly #limiter: FailureLimiter;

  constructor(passwords: PasswordChecker, limiter: FailureLimiter) {
    this.#passwords = passwords;
    this.#limiter = limiter;
  }

  /** Records a failure of `client` (a refused token counts too). */
  fail(client: string): void {
    this.#limiter.fail(client);
  }

  /**
   * Refuses a client that failed too often, for now.
   *
   * @throws ApiError TOOMANYREQUESTS (429, with Retry-After)
   */
  throttle(client: string, state: AuthState): void {
    const wait = this.#limiter.retryAfter(client);
    if (wait > 0) {
      state.failure = 'too many failed attempts from this client';
      throw new ApiError('TOOMANYREQUESTS', {
        message: `too many failed authentication attempts; retry in ${wait} s`,
        headers: { 'Retry-After': String(wait) },
      });
    }
  }

  /** The user of basic credentials, or undefined for a request without any; throws on bad ones. */
  async user(
    req: IncomingMessage,
    state: AuthState,
    onFailure: () => ApiError,
  ): Promise<string | undefined> {
    const header = req.headers.authorization;
    if (header === undefined) return undefined;
    const m = /^Basic +([A-Za-z0-9+/=]{1,4096})$/i.exec(header);
    const client = clientAddress(req);
    this.throttle(client, state);
    const decoded = m === null ? '' : Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) {
      state.failure = 'malformed basic credentials';
      this.fail(client);
      throw onFailure();
    }
    const user = decoded.slice(0, colon);
    if (!(await this.#passwords.check(user, decoded.slice(colon + 1)))) {
      // The name is logged only when it is a user: a password typed into the name field must
      // not end up in the logs.
      state.failure = this.#passwords.has(user)
        ? `wrong password for user ${user}`
        : 'unknown user';
      this.fail(client);
      throw onFailure();
    }
    state.user = user;
    return user;
  }

  /**
   * Checks a user's password for the web UI's sign-in form, under the same failure limits
   * as basic credentials. True when it is right; the failure is recorded in `state`.
   *
   * @throws ApiError TOOMANYREQUESTS (429, with Retry-After) after too many failures
   */
  async signIn(
    req: IncomingMessage,
    user: string,
    password: string,
    state: AuthState,
  ): Promise<boolean> {
    const client = clientAddress(req);
    this.throttle(client, state);
    if (user !== '' && (await this.#passwords.check(user, password))) {
      state.user = user;
      return true;
    }
    state.failure = this.#passwords.has(user) ? `wrong password for user ${user}` : 'unknown user';
    this.fail(client);
    return false;
  }
}
