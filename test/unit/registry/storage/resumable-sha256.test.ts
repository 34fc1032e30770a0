import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ResumableSha256 } from '../../../../src/registry/storage/resumable-sha256.js';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('ResumableSha256', () => {
  it('agrees with node for lengths around the block and padding edges', () => {
    for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 70_001]) {
      const data = randomBytes(length);
      assert.equal(new ResumableSha256().update(data).hex(), sha256(data), `length ${length}`);
    }
  });

  it('resumes from a saved state, in another object, after uneven pieces', () => {
    const data = randomBytes(300_000);
    let hash = new ResumableSha256();
    for (const [start, end] of [
      [0, 3],
      [3, 64],
      [64, 100_001],
      [100_001, 299_999],
      [299_999, 300_000],
    ] as const) {
      hash.update(data.subarray(start, end));
      hash = ResumableSha256.resume(JSON.parse(JSON.stringify(hash.save())));
    }
    assert.equal(hash.hex(), sha256(data));
  });

  it('refuses a malformed state', () => {
    const saved = new ResumableSha256().update(randomBytes(10)).save();
    assert.throws(() => ResumableSha256.resume({ ...saved, length: 11 }));
    assert.throws(() => ResumableSha256.resume({ ...saved, h: [1, 2, 3] }));
  });
});
