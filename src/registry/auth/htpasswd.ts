import { createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import { InvalidInputError } from '../../errors.js';

/**
 * Users and their passwords, as bcrypt hashes: the htpasswd format (`name:hash` per line, as
 * `htpasswd -B` writes it and distribution's htpasswd access controller reads it), or a map
 * from a config file. Only bcrypt is accepted: the other htpasswd hashes (`{SHA}`, `$apr1$`,
 * crypt, plain text) are fast to brute-force, and a file holding one is refused at start-up
 * rather than silently locking that user out.
 */

/** bcrypt's modular-crypt prefixes: `$2y$` (htpasswd), `$2b$` (OpenBSD, bcryptjs), `$2a$`. */
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** A user name: what docker's login accepts, without `:` (the htpasswd separator). */
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

/** The bcrypt cost `hashPassword` uses by default: about 0.1 s per check in pure JS. */
export const DEFAULT_BCRYPT_COST = 10;

/** Longest password accepted; bcrypt only reads the first 72 bytes anyway. */
export const MAX_PASSWORD_BYTES = 1024;

/** Whether `name` can be a user name. */
export function isUserName(name: string): boolean {
  return USER_NAME.test(name);
}

/** Why `hash` is not a bcrypt hash this registry accepts, or undefined when it is one. */
function hashProblem(hash: string): string | undefined {
  if (BCRYPT.test(hash)) return undefined;
  if (hash.startsWith('{SHA}')) return 'a SHA-1 hash';
  if (hash.startsWith('$apr1$')) return 'an MD5 (apr1) hash';
  if (hash.startsWith('$1$') || hash.startsWith('$5$') || hash.startsWith('$6$')) {
    return 'a crypt(3) hash';
  }
  return 'not a bcrypt hash (plain text or crypt)';
}

/**
 * Checks a user table (name → bcrypt hash) and returns it as a map.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT naming the user with an invalid name or a
 *   hash that is not bcrypt
 */
export function checkUsers(
  users: Readonly<Record<string, string>> | ReadonlyMap<string, string>,
  source: string,
): Map<string, string> {
  const out = new Map<string, string>();
  const entries = users instanceof Map ? [...users] : Object.entries(users);
  for (const [name, hash] of entries) {
    if (!isUserName(name)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `${source}: invalid user name ${JSON.stringify(name.slice(0, 64))}`,
      );
    }
    const problem = typeof hash === 'string' ? hashProblem(hash) : 'not a string';
    if (problem !== undefined) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `${source}: the password of user ${name} is ${problem}; only bcrypt is accepted (nv2 registry user add, or htpasswd -B)`,
      );
    }
    out.set(name, hash);
  }
  return out;
}

/**
 * Parses an htpasswd file: `name:hash` lines; blank lines and `#` comments are skipped.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT for a malformed line (by number), a
 *   duplicate user or a hash that is not bcrypt
 */
export function parseHtpasswd(text: string, source = 'htpasswd'): Map<string, string> {
  const users: [string, string][] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `${source}:${i + 1}: expected NAME:HASH`,
      );
    }
    const name = line.slice(0, colon);
    if (seen.has(name)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `${source}:${i + 1}: user ${name} is listed twice`,
      );
    }
    seen.add(name);
    users.push([name, line.slice(colon + 1)]);
  });
  return checkUsers(new Map(users), source);
}

/**
 * Reads and parses an htpasswd file.
 *
 * @throws InvalidInputError NV2_ERR_FILE_NOT_FOUND when it cannot be read, else as `parseHtpasswd`
 */
export async function readHtpasswd(path: string): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new InvalidInputError('NV2_ERR_FILE_NOT_FOUND', `htpasswd file ${path} cannot be read`);
  }
  return parseHtpasswd(text, path);
}

/** Writes users back in htpasswd form, sorted, one `name:hash` per line. */
export function formatHtpasswd(users: ReadonlyMap<string, string>): string {
  return [...users]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, hash]) => `${name}:${hash}\n`)
    .join('');
}

/**
 * A bcrypt hash of `password` in htpasswd's `$2y$` spelling (what `htpasswd -B` writes; the
 * same algorithm as `$2b$`).
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT for an empty or over-long password or a
 *   cost outside 4–17
 */
export async function hashPassword(
  password: string,
  options: { cost?: number } = {},
): Promise<string> {
  const cost = options.cost ?? DEFAULT_BCRYPT_COST;
  if (!Number.isInteger(cost) || cost < 4 || cost > 17) {
    throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', 'the bcrypt cost must be 4 to 17');
  }
  if (password === '' || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `a password must have 1 to ${MAX_PASSWORD_BYTES} bytes`,
    );
  }
  const hash = await bcrypt.hash(password, cost);
  return hash.replace(/^\$2[ab]\$/, '$2y$');
}

/** How long a successful password check is remembered, so basic auth does not cost a bcrypt per request. */
const VERIFIED_TTL_MS = 60_000;
/** Most remembered checks (a bound on memory); the oldest is forgotten first. */
const MAX_VERIFIED = 4096;

/**
 * Checks passwords against a user table. A successful check is remembered for a minute under
 * an HMAC of the name and password with a key of this process (the password itself is never
 * kept), because basic auth sends the password with every request and a bcrypt check costs
 * tens of milliseconds. An unknown user costs a bcrypt check too, against a throw-away hash,
 * so that timing does not tell which users exist.
 */
export class PasswordChecker {
  readonly #users: ReadonlyMap<string, string>;
  readonly #now: () => number;
  readonly #key = randomBytes(32);
  readonly #verified = new Map<string, number>();
  #dummy: Promise<string> | undefined;

  constructor(users: ReadonlyMap<string, string>, now: () => number = Date.now) {
    this.#users = users;
    this.#now = now;
  }

  /** Whether `name` is a known user. */
  has(name: string): boolean {
    return this.#users.has(name);
  }

  /** Whether `password` is `name`'s password. */
  async check(name: string, password: string): Promise<boolean> {
    if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return false;
    const mac = createHmac('sha256', this.#key)
      .update(name)
      .update('\0')
      .update(password)
      .digest('base64');
    const until = this.#verified.get(mac);
    const now = this.#now();
    if (until !== undefined && until > now) return true;
    this.#verified.delete(mac);
    const hash = this.#users.get(name);
    if (hash === undefined) {
      this.#dummy ??= bcrypt.hash(randomBytes(16).toString('hex'), DEFAULT_BCRYPT_COST);
      await bcrypt.compare(password, await this.#dummy);
      return false;
    }
    // bcryptjs reads `$2a$`/`$2b$`; `$2y$` is the same algorithm under PHP's name.
    const ok = await bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2b$'));
    if (ok) {
      this.#verified.set(mac, now + VERIFIED_TTL_MS);
      if (this.#verified.size > MAX_VERIFIED) {
        this.#verified.delete(this.#verified.keys().next().value!);
      }
    }
    return ok;
  }
}
