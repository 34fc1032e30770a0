/** Semantic versions as verification plugins' versions are compared (semver 2.0.0 precedence). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareSemver, isSemver } from '../../../src/notation/verification-plugin.js';

describe('isSemver', () => {
  it('accepts MAJOR.MINOR.PATCH with pre-release and build, nothing looser', () => {
    for (const v of [
      '0.0.0',
      '1.2.3',
      '10.20.30',
      '1.0.0-rc.1',
      '1.0.0-alpha-a.b-c',
      '1.0.0+build.5',
    ]) {
      assert.ok(isSemver(v), v);
    }
    for (const v of ['v1.0.0', '1.0', '1', '01.0.0', '1.0.0-01', '1.0.0-', 'latest', '']) {
      assert.ok(!isSemver(v), v);
    }
  });
});

describe('compareSemver', () => {
  it('orders versions by precedence', () => {
    const ordered = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.2.0',
      '1.10.0',
      '2.0.0',
    ];
    for (let i = 0; i + 1 < ordered.length; i++) {
      assert.ok(
        compareSemver(ordered[i]!, ordered[i + 1]!) < 0,
        `${ordered[i]} < ${ordered[i + 1]}`,
      );
      assert.ok(compareSemver(ordered[i + 1]!, ordered[i]!) > 0);
    }
  });

  it('ignores build metadata', () => {
    assert.equal(compareSemver('1.0.0+a', '1.0.0+b'), 0);
  });
});
