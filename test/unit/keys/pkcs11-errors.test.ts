/**
 * The PKCS#11 error mapping on its own: every return value about the PIN becomes one line
 * with a stable code, whatever module raised it (SoftHSM cannot lock a PIN or let one
 * expire, so these states are checked here; the integration tests drive the ones it has).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../src/errors.js';
import { CKF, CKR, pkcs11Error, userPinProblem } from '../../../src/keys/pkcs11-errors.js';

/** An error as the pkcs11js binding throws it: the CKR_ name first, the value as `code`. */
function bindingError(name: string, code: number): Error {
  return Object.assign(new Error(`${name}:${code}\nNative stack`), { code });
}

const WHAT = 'logging in to token "release"';

describe('pkcs11Error', () => {
  const cases: [string, number, string, RegExp][] = [
    [
      'CKR_PIN_INCORRECT',
      CKR.PIN_INCORRECT,
      'NV2_ERR_PKCS11_PIN_INCORRECT',
      /the token refused the PIN$/,
    ],
    [
      'CKR_PIN_INVALID',
      CKR.PIN_INVALID,
      'NV2_ERR_PKCS11_PIN_INCORRECT',
      /the token refused the PIN$/,
    ],
    [
      'CKR_PIN_LEN_RANGE',
      CKR.PIN_LEN_RANGE,
      'NV2_ERR_PKCS11_PIN_INCORRECT',
      /its length is outside the token's limits$/,
    ],
    [
      'CKR_PIN_LOCKED',
      CKR.PIN_LOCKED,
      'NV2_ERR_PKCS11_PIN_LOCKED',
      /user PIN is locked after too many wrong PINs; the token's security officer must set a new one/,
    ],
    [
      'CKR_PIN_EXPIRED',
      CKR.PIN_EXPIRED,
      'NV2_ERR_PKCS11_PIN_EXPIRED',
      /user PIN has expired; set a new one .*--change-pin/,
    ],
    [
      'CKR_USER_PIN_NOT_INITIALIZED',
      CKR.USER_PIN_NOT_INITIALIZED,
      'NV2_ERR_PKCS11_PIN_NOT_INITIALIZED',
      /user PIN was never set/,
    ],
    ['CKR_DEVICE_ERROR', 0x30, 'NV2_ERR_PKCS11_FAILED', /the token answered CKR_DEVICE_ERROR$/],
  ];
  for (const [name, code, expected, message] of cases) {
    it(`${name} is ${expected}, in one line`, () => {
      const err = pkcs11Error(bindingError(name, code), WHAT);
      assert.ok(err instanceof InvalidInputError);
      assert.equal(err.code, expected);
      assert.ok(err.message.startsWith(`${WHAT}: `), err.message);
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /\n/);
      assert.equal((err.cause as { code: number }).code, code);
    });
  }

  it('says how many tries are left when the token flags it', () => {
    const wrong = bindingError('CKR_PIN_INCORRECT', CKR.PIN_INCORRECT);
    assert.match(pkcs11Error(wrong, WHAT, CKF.USER_PIN_COUNT_LOW).message, /few tries left$/);
    assert.match(
      pkcs11Error(wrong, WHAT, CKF.USER_PIN_COUNT_LOW | CKF.USER_PIN_FINAL_TRY).message,
      /one more wrong PIN locks it$/,
    );
    assert.match(pkcs11Error(wrong, WHAT, CKF.USER_PIN_INITIALIZED).message, /refused the PIN$/);
  });

  it('passes nv2 errors through and names anything else by its first line', () => {
    const own = new InvalidInputError('NV2_ERR_PKCS11_PIN_REQUIRED', 'x');
    assert.equal(pkcs11Error(own, WHAT), own);
    assert.equal(pkcs11Error('gone', WHAT).message, `${WHAT}: the token answered gone`);
  });
});

describe('userPinProblem', () => {
  it('refuses a locked or never-set user PIN before a PIN is asked for', () => {
    assert.equal(
      userPinProblem('release', CKF.USER_PIN_INITIALIZED | CKF.USER_PIN_LOCKED)?.code,
      'NV2_ERR_PKCS11_PIN_LOCKED',
    );
    assert.equal(userPinProblem('release', 0)?.code, 'NV2_ERR_PKCS11_PIN_NOT_INITIALIZED');
    assert.equal(
      userPinProblem('release', CKF.USER_PIN_INITIALIZED | CKF.USER_PIN_COUNT_LOW),
      undefined,
    );
  });
});
