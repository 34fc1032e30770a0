/** Shared flag parsers of the commands. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maxSignatures } from '../../../src/cli/commands/options.js';
import { InvalidInputError } from '../../../src/errors.js';

describe('--max-signatures', () => {
  it('takes a positive integer and refuses anything else in one line', () => {
    assert.equal(maxSignatures('1'), 1);
    assert.equal(maxSignatures('250'), 250);
    for (const bad of ['0', '-1', '1.5', '1e3', '', 'ten', '99999999999999999999']) {
      assert.throws(
        () => maxSignatures(bad),
        (err: unknown) =>
          err instanceof InvalidInputError &&
          err.code === 'NV2_ERR_INVALID_ARGUMENT' &&
          err.message.startsWith('--max-signatures must be a positive integer'),
        bad,
      );
    }
  });
});
