import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ResumableSha256 } from '../../../../src/registry/storage/resumable-sha256.js';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('ResumableSha256', () => {
  it('agrees with node for lengths around the block and padding edges', async () => {
    for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 70_001]) {
      const data = randomBytes(length);
      const hash = await ResumableSha256.create();
      assert.equal(hash.update(data).hex(), sha256(data), `length ${length}`);
    }
  });

  it('resumes from a saved state, in another object, after uneven pieces', async () => {
    const data = randomBytes(300_000);
    let hash = await ResumableSha256.create();
    for (const [start, end] of [
      [0, 3],
      [3, 64],
      [64, 100_001],
      [100_001, 299_999],
      [299_999, 300_000],
    ] as const) {
      hash.update(data.subarray(start, end));
      hash = await ResumableSha256.resume(JSON.parse(JSON.stringify(hash.save())));
    }
    assert.equal(hash.hex(), sha256(data));
  });

  it('keeps hashes apart that update in turns through the one shared hasher', async () => {
    const a = randomBytes(5000);
    const b = randomBytes(7000);
    const ha = await ResumableSha256.create();
    const hb = await ResumableSha256.create();
    for (let i = 0; i < 7; i++) {
      ha.update(a.subarray(i * 1000, (i + 1) * 1000));
      hb.update(b.subarray(i * 1000, (i + 1) * 1000));
    }
    assert.equal(ha.hex(), sha256(a));
    assert.equal(hb.hex(), sha256(b));
  });

  it('refuses a malformed state or one of another format', async () => {
    const saved = (await ResumableSha256.create()).update(randomBytes(10)).save();
    await assert.rejects(ResumableSha256.resume({ ...saved, length: -1 }));
    await assert.rejects(
      ResumableSha256.resume({ ...saved, format: 'other' as unknown as typeof saved.format }),
    );
    await assert.rejects(ResumableSha256.resume({ ...saved, state: 'AAAA' }));
  });
});
