import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CODES,
  InvalidInputError,
  Nv2Error,
  VerificationFailedError,
  VerificationInconclusiveError,
  isNv2Error,
} from '../../src/errors.js';

const CLASSES = [
  ['Nv2Error', Nv2Error],
  ['InvalidInputError', InvalidInputError],
  ['VerificationFailedError', VerificationFailedError],
  ['VerificationInconclusiveError', VerificationInconclusiveError],
] as const;

describe('error classes', () => {
  for (const [name, Class] of CLASSES) {
    it(`${name} carries its code, name and message and is an Nv2Error`, () => {
      for (const code of CODES) {
        const err = new Class(code, 'msg');
        assert.equal(err.code, code);
        assert.equal(err.name, name);
        assert.equal(err.message, 'msg');
        assert.ok(err instanceof Class);
        assert.ok(err instanceof Nv2Error);
        assert.ok(err instanceof Error);
        assert.equal(isNv2Error(err), true);
      }
    });

    it(`${name} keeps its cause`, () => {
      const cause = new Error('underlying');
      assert.equal(new Class('NV2_ERR_IO', 'msg', { cause }).cause, cause);
      assert.equal('cause' in new Class('NV2_ERR_IO', 'msg'), false);
    });
  }

  it('the three audiences are distinct classes', () => {
    const failed = new VerificationFailedError('NV2_ERR_SIGNATURE_INVALID', 'x');
    assert.equal(failed instanceof VerificationInconclusiveError, false);
    assert.equal(failed instanceof InvalidInputError, false);
    const inconclusive = new VerificationInconclusiveError('NV2_ERR_IO', 'x');
    assert.equal(inconclusive instanceof VerificationFailedError, false);
  });

  it('a subclass of a subclass is named after itself', () => {
    class SpecialError extends InvalidInputError {}
    const err = new SpecialError('NV2_ERR_INVALID_ARGUMENT', 'x');
    assert.equal(err.name, 'SpecialError');
    assert.ok(err instanceof InvalidInputError);
  });

  it('isNv2Error refuses other errors and look-alikes', () => {
    assert.equal(isNv2Error(new Error('x')), false);
    assert.equal(isNv2Error({ code: 'NV2_ERR_IO', name: 'Nv2Error', message: 'x' }), false);
    assert.equal(isNv2Error(undefined), false);
    assert.equal(isNv2Error('NV2_ERR_IO'), false);
  });
});

describe('CODES', () => {
  it('has no duplicates', () => {
    const seen = new Set<string>();
    const duplicates = CODES.filter((c) => (seen.has(c) ? true : (seen.add(c), false)));
    assert.deepEqual(duplicates, []);
  });

  it('names every code NV2_ERR_ and upper-case words', () => {
    for (const code of CODES) assert.match(code, /^NV2_ERR_[A-Z0-9]+(?:_[A-Z0-9]+)*$/);
  });
});
