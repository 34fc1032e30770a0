import { randomBytes } from 'node:crypto';

/** How long a UI session lasts after sign-in. */
export const SESSION_LIFETIME_MS = 8 * 3600_000;

/** Most sessions kept at once (the oldest is dropped first): bounds memory against floods. */
const MAX_SESSIONS = 10_000;

/** The session cookie's name. */
export const SESSION_COOKIE = 'nv2_ui_session';

interface Session {
  readonly user: string;
  readonly expiresAt: number;
}

/**
 * The web UI's sign-in sessions, in memory: an unguessable id (256 bits) in an HttpOnly,
 * SameSite=Strict cookie maps to a user. They end at sign-out, after `SESSION_LIFETIME_MS`,
 * or when the server restarts.
 */
export class Sessions {
  readonly #sessions = new Map<string, Session>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Starts a session for `user`; returns its id. */
  start(user: string): string {
    const id = randomBytes(32).toString('base64url');
    if (this.#sessions.size >= MAX_SESSIONS) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest !== undefined) this.#sessions.delete(oldest);
    }
    this.#sessions.set(id, { user, expiresAt: this.#now() + SESSION_LIFETIME_MS });
    return id;
  }

  /** The user of a live session, else undefined (an expired one is forgotten). */
  user(id: string | undefined): string | undefined {
    if (id === undefined) return undefined;
    const session = this.#sessions.get(id);
    if (session === undefined) return undefined;
    if (session.expiresAt <= this.#now()) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session.user;
  }

  /** Ends a session. */
  end(id: string | undefined): void {
    if (id !== undefined) this.#sessions.delete(id);
  }
}

/** The value of cookie `name` in a `Cookie` header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
