/**
 * PKCS#11 failures as the one-line, typed errors a user meets. The return values and token
 * flags are the PKCS#11 standard's numbers (v2.40 §3.2 CK_TOKEN_INFO, §11.1 return values),
 * the same for every module, so the mapping needs no loaded binding.
 */
import { InvalidInputError, type Nv2ErrorCode } from '../errors.js';

/** The return values nv2 explains. */
export const CKR = {
  PIN_INCORRECT: 0xa0,
  PIN_INVALID: 0xa1,
  PIN_LEN_RANGE: 0xa2,
  PIN_EXPIRED: 0xa3,
  PIN_LOCKED: 0xa4,
  USER_PIN_NOT_INITIALIZED: 0x102,
} as const;

/** Token flags about the user PIN. */
export const CKF = {
  USER_PIN_INITIALIZED: 0x8,
  USER_PIN_COUNT_LOW: 0x10000,
  USER_PIN_FINAL_TRY: 0x20000,
  USER_PIN_LOCKED: 0x40000,
  USER_PIN_TO_BE_CHANGED: 0x80000,
} as const;

function error(code: Nv2ErrorCode, message: string, cause?: unknown): InvalidInputError {
  return new InvalidInputError(code, message, cause === undefined ? undefined : { cause });
}

/** What the security officer must do, for the messages of a locked or unset PIN. */
const SO_INIT_PIN = 'pkcs11-tool --login --login-type so --init-pin';

/** Why the token will not let the user in, from its flags alone (before asking for a PIN). */
export function userPinProblem(label: string, flags: number): InvalidInputError | undefined {
  if ((flags & CKF.USER_PIN_LOCKED) !== 0) {
    return error(
      'NV2_ERR_PKCS11_PIN_LOCKED',
      `token "${label}": the user PIN is locked after too many wrong PINs; the token's security officer must set a new one (${SO_INIT_PIN})`,
    );
  }
  if ((flags & CKF.USER_PIN_INITIALIZED) === 0) {
    return error(
      'NV2_ERR_PKCS11_PIN_NOT_INITIALIZED',
      `token "${label}": its user PIN was never set; the token's security officer must set it (${SO_INIT_PIN})`,
    );
  }
  return undefined;
}

/** What the token's flags say about the tries left, after a PIN it refused. */
function triesLeft(flags: number | undefined): string {
  if (flags === undefined) return '';
  if ((flags & CKF.USER_PIN_FINAL_TRY) !== 0) return '; one more wrong PIN locks it';
  if ((flags & CKF.USER_PIN_COUNT_LOW) !== 0) return '; it reports few tries left';
  return '';
}

/**
 * Maps a failure of the PKCS#11 binding (an error with the `CKR_…` return value as `code`
 * and its name first in the message) to a typed error; `what` says what was being done,
 * `tokenFlags` (read after the failure) what the token says of the tries left.
 */
export function pkcs11Error(err: unknown, what: string, tokenFlags?: number): InvalidInputError {
  if (err instanceof InvalidInputError) return err;
  const code = (err as { code?: unknown } | undefined)?.code;
  const name = (err instanceof Error ? err.message : String(err)).split(/[:\n]/)[0]!;
  switch (code) {
    case CKR.PIN_INCORRECT:
    case CKR.PIN_INVALID:
      return error(
        'NV2_ERR_PKCS11_PIN_INCORRECT',
        `${what}: the token refused the PIN${triesLeft(tokenFlags)}`,
        err,
      );
    case CKR.PIN_LEN_RANGE:
      return error(
        'NV2_ERR_PKCS11_PIN_INCORRECT',
        `${what}: the token refused the PIN: its length is outside the token's limits`,
        err,
      );
    case CKR.PIN_LOCKED:
      return error(
        'NV2_ERR_PKCS11_PIN_LOCKED',
        `${what}: the token's user PIN is locked after too many wrong PINs; the token's security officer must set a new one (${SO_INIT_PIN})`,
        err,
      );
    case CKR.PIN_EXPIRED:
      return error(
        'NV2_ERR_PKCS11_PIN_EXPIRED',
        `${what}: the token's user PIN has expired; set a new one with the token's tools (pkcs11-tool --login --change-pin)`,
        err,
      );
    case CKR.USER_PIN_NOT_INITIALIZED:
      return error(
        'NV2_ERR_PKCS11_PIN_NOT_INITIALIZED',
        `${what}: the token's user PIN was never set; the token's security officer must set it (${SO_INIT_PIN})`,
        err,
      );
    default:
      return error('NV2_ERR_PKCS11_FAILED', `${what}: the token answered ${name}`, err);
  }
}
