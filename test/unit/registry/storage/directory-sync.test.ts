import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDirectorySyncer } from '../../../../src/registry/storage/directory-sync.js';

/** An fsync stand-in that records calls and settles when the test says. */
function controlledFsync() {
  const calls: { dir: string; settle: (err?: Error) => void }[] = [];
  const fsync = (dir: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      calls.push({ dir, settle: (err) => (err === undefined ? resolve() : reject(err)) });
    });
  return { calls, fsync };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('directory fsync group commit', () => {
  it('starts at once when idle, and makes callers during a running fsync share the next one', async () => {
    const { calls, fsync } = controlledFsync();
    const sync = createDirectorySyncer(fsync);
    const settled: string[] = [];
    const first = sync('/d').then(() => settled.push('first'));
    assert.equal(calls.length, 1);
    // Changes made after the first fsync started: it may not cover them.
    const later = [1, 2, 3].map((i) => sync('/d').then(() => settled.push(`later${i}`)));
    // Another directory is independent.
    const other = sync('/e').then(() => settled.push('other'));
    assert.deepEqual(
      calls.map((c) => c.dir),
      ['/d', '/e'],
    );
    calls[0]!.settle();
    await first;
    await tick();
    assert.deepEqual(settled, ['first']);
    // One more fsync of /d, started after the first finished, for all three.
    assert.deepEqual(
      calls.map((c) => c.dir),
      ['/d', '/e', '/d'],
    );
    calls[2]!.settle();
    await Promise.all(later);
    assert.deepEqual(settled, ['first', 'later1', 'later2', 'later3']);
    calls[1]!.settle();
    await other;
    // Idle again: the next call starts its own fsync at once.
    const again = sync('/d');
    assert.equal(calls.length, 4);
    calls[3]!.settle();
    await again;
  });

  it('fails every caller of a failed fsync, and starts afresh after it', async () => {
    const { calls, fsync } = controlledFsync();
    const sync = createDirectorySyncer(fsync);
    const first = sync('/d');
    const shared = [sync('/d'), sync('/d')];
    calls[0]!.settle(new Error('EIO one'));
    await assert.rejects(first, /EIO one/);
    await tick();
    calls[1]!.settle(new Error('EIO two'));
    for (const p of shared) await assert.rejects(p, /EIO two/);
    const next = sync('/d');
    assert.equal(calls.length, 3);
    calls[2]!.settle();
    await next;
  });
});
