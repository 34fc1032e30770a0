import {
  type KeyObject,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
} from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { InvalidInputError, StorageError } from '../../errors.js';
import type { RepositoryAction } from './rules.js';

/**
 * Registry tokens (distribution `docs/spec/auth/jwt.md`): JWTs signed by this registry's token
 * endpoint and checked by the registry on every request. Claims: `iss` (the issuer), `sub` (the
 * user, empty for anonymous), `aud` (the service), `exp`, `nbf`, `iat`, `jti`, and `access`, a
 * list of `{type, name, actions}` granted.
 *
 * The key is ES256 (P-256) or RS256 (RSA ≥ 2048 bits); verification accepts exactly the
 * algorithm of the key, so `alg: none`, HMAC with the public key as secret, and any other
 * algorithm are refused before anything else is looked at.
 */

/** One entry of a token's `access` claim. */
export interface AccessEntry {
  readonly type: 'repository' | 'registry';
  readonly name: string;
  readonly actions: readonly string[];
}

/** A token signing key and the algorithm it is pinned to. */
export interface TokenSigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly alg: 'ES256' | 'RS256';
  /** The `kid` header: a SHA-256 thumbprint of the public key (SPKI). */
  readonly kid: string;
}

/** Longest token accepted: real ones are well under 4 KiB; headers are limited anyway. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

/** Clock difference tolerated on `exp` and `nbf`, as distribution's leeway. */
export const TOKEN_CLOCK_TOLERANCE_SECONDS = 30;

/** Most entries read from a token's `access` claim (a bound on work per request). */
const MAX_ACCESS_ENTRIES = 64;

/**
 * Pins the algorithm to a key: P-256 → ES256, RSA of at least 2048 bits → RS256.
 *
 * @throws InvalidInputError NV2_ERR_UNSUPPORTED_KEY for any other key
 */
export function tokenSigningKey(
  privateKey: KeyObject,
  source = 'the token signing key',
): TokenSigningKey {
  if (privateKey.type !== 'private') {
    throw new InvalidInputError('NV2_ERR_UNSUPPORTED_KEY', `${source} is not a private key`);
  }
  const details = privateKey.asymmetricKeyDetails ?? {};
  let alg: TokenSigningKey['alg'];
  if (privateKey.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') alg = 'ES256';
  else if (privateKey.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048)
    alg = 'RS256';
  else {
    throw new InvalidInputError(
      'NV2_ERR_UNSUPPORTED_KEY',
      `${source} must be an EC P-256 or an RSA (2048 bits or more) key`,
    );
  }
  const publicKey = createPublicKey(privateKey);
  const kid = createHash('sha256')
    .update(publicKey.export({ format: 'der', type: 'spki' }))
    .digest('base64url');
  return { privateKey, publicKey, alg, kid };
}

/** A new ES256 token signing key (kept in memory only). */
export function generateTokenSigningKey(): TokenSigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return tokenSigningKey(privateKey);
}

/**
 * Loads the token signing key from a PEM file; with `create`, generates an ES256 key there
 * first when there is none (mode 0600, written to a temporary file and renamed, so a crash
 * never leaves half a key). A key file other users can read is refused: whoever reads it can
 * mint tokens.
 *
 * @throws InvalidInputError NV2_ERR_FILE_NOT_FOUND, NV2_ERR_INVALID_KEY (unreadable PEM, or
 *   readable by group or others), NV2_ERR_UNSUPPORTED_KEY
 * @throws StorageError NV2_ERR_STORAGE_IO when a new key cannot be written
 */
export async function loadTokenSigningKey(
  path: string,
  options: { create?: boolean } = {},
): Promise<TokenSigningKey> {
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || options.create !== true) {
      throw new InvalidInputError(
        'NV2_ERR_FILE_NOT_FOUND',
        `token signing key ${path} cannot be read`,
      );
    }
    return createKeyFile(path);
  }
  if (process.platform !== 'win32') {
    const mode = (await stat(path)).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_KEY',
        `token signing key ${path} is accessible by other users (mode ${mode.toString(8)}): chmod 600 ${path}`,
      );
    }
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_KEY',
      `token signing key ${path} is not a PEM private key`,
    );
  }
  return tokenSigningKey(key, `token signing key ${path}`);
}

async function createKeyFile(path: string): Promise<TokenSigningKey> {
  const key = generateTokenSigningKey();
  const pem = key.privateKey.export({ format: 'pem', type: 'pkcs8' });
  const temp = `${path}.${randomUUID()}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(pem);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temp, 0o600);
    // A concurrent first start may have written one already: keep whichever landed first.
    try {
      await stat(path);
      await rm(temp, { force: true });
      return loadTokenSigningKey(path);
    } catch {
      await rename(temp, path);
    }
  } catch (err) {
    await rm(temp, { force: true });
    if (err instanceof InvalidInputError) throw err;
    throw new StorageError('NV2_ERR_STORAGE_IO', `cannot write token signing key ${path}`, {
      cause: err,
    });
  }
  return key;
}

/** What to put in a token. */
export interface TokenClaims {
  readonly issuer: string;
  readonly service: string;
  /** The user; undefined for an anonymous token. */
  readonly subject: string | undefined;
  readonly access: readonly AccessEntry[];
  readonly expiresInSeconds: number;
  /** Issue time, ms since the epoch. */
  readonly now: number;
}

/** Signs a token. */
export function issueToken(key: TokenSigningKey, claims: TokenClaims): Promise<string> {
  const iat = Math.floor(claims.now / 1000);
  return new SignJWT({ access: claims.access })
    .setProtectedHeader({ alg: key.alg, typ: 'JWT', kid: key.kid })
    .setIssuer(claims.issuer)
    .setSubject(claims.subject ?? '')
    .setAudience(claims.service)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + claims.expiresInSeconds)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(key.privateKey);
}

/** A token that passed every check. */
export interface VerifiedToken {
  readonly subject: string | undefined;
  /** Granted actions by resource: `repository:NAME` → actions. */
  readonly access: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Why a token was refused (for logs; clients only see `invalid_token`). */
export type TokenRejection =
  | 'malformed'
  | 'too-long'
  | 'algorithm'
  | 'signature'
  | 'expired'
  | 'not-yet-valid'
  | 'issuer'
  | 'audience'
  | 'claims';

/** A refused token. */
export class TokenRejectedError extends Error {
  readonly reason: TokenRejection;
  constructor(reason: TokenRejection) {
    super(`token refused: ${reason}`);
    this.name = 'TokenRejectedError';
    this.reason = reason;
  }
}

/**
 * Verifies a token: the pinned algorithm, the signature, `iss`, `aud`, `exp` (required) and
 * `nbf` with `TOKEN_CLOCK_TOLERANCE_SECONDS`, and the shape of `access`.
 *
 * @throws TokenRejectedError
 */
export async function verifyToken(
  key: TokenSigningKey,
  token: string,
  expected: { issuer: string; service: string; now: number },
): Promise<VerifiedToken> {
  if (token.length > MAX_TOKEN_LENGTH) throw new TokenRejectedError('too-long');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key.publicKey, {
      algorithms: [key.alg],
      issuer: expected.issuer,
      audience: expected.service,
      requiredClaims: ['exp'],
      currentDate: new Date(expected.now),
      clockTolerance: TOKEN_CLOCK_TOLERANCE_SECONDS,
    }));
  } catch (err) {
    throw new TokenRejectedError(rejection(err));
  }
  const access = new Map<string, Set<string>>();
  const claim = payload['access'];
  if (claim !== undefined) {
    if (!Array.isArray(claim) || claim.length > MAX_ACCESS_ENTRIES)
      throw new TokenRejectedError('claims');
    for (const entry of claim as unknown[]) {
      const e = entry as Partial<Record<string, unknown>>;
      if (
        typeof e !== 'object' ||
        e === null ||
        typeof e['type'] !== 'string' ||
        typeof e['name'] !== 'string' ||
        !Array.isArray(e['actions']) ||
        !(e['actions'] as unknown[]).every((a) => typeof a === 'string')
      ) {
        throw new TokenRejectedError('claims');
      }
      const resource = `${e['type']}:${e['name']}`;
      const set = access.get(resource) ?? new Set<string>();
      for (const a of e['actions'] as string[]) set.add(a);
      access.set(resource, set);
    }
  }
  const sub = payload['sub'];
  return { subject: typeof sub === 'string' && sub !== '' ? sub : undefined, access };
}

function rejection(err: unknown): TokenRejection {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return 'issuer';
    if (err.claim === 'aud') return 'audience';
    if (err.claim === 'nbf' || err.claim === 'iat') return 'not-yet-valid';
    return 'claims';
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
    return 'algorithm';
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature';
  return 'malformed';
}

/** The actions `token` grants on a repository. */
export function grantedActions(token: VerifiedToken, repository: string): Set<RepositoryAction> {
  const out = new Set<RepositoryAction>();
  for (const a of token.access.get(`repository:${repository}`) ?? []) {
    if (a === 'pull' || a === 'push' || a === 'sign' || a === 'delete') out.add(a);
  }
  return out;
}
