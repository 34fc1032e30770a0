import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStoreCaches } from '../../../../src/registry/storage/caches.js';
import { KeyedMutex } from '../../../../src/registry/storage/locks.js';
import { createMemoryDriver } from '../../../../src/registry/storage/memory.js';

/** A promise settled from outside, to hold a critical section open without timers. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise job run (no timers involved). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('KeyedMutex', () => {
  it('runs calls for one key one at a time, in call order', async () => {
    const locks = new KeyedMutex();
    const events: string[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const runs = gates.map((gate, i) =>
      locks.run('k', async () => {
        events.push(`start ${i}`);
        await gate.promise;
        events.push(`end ${i}`);
        return i;
      }),
    );
    await settle();
    assert.deepEqual(events, ['start 0']);
    // Release out of order: the second call still waits for the first.
    gates[2]!.resolve();
    gates[1]!.resolve();
    await settle();
    assert.deepEqual(events, ['start 0']);
    gates[0]!.resolve();
    assert.deepEqual(await Promise.all(runs), [0, 1, 2]);
    assert.deepEqual(events, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('runs calls for different keys concurrently', async () => {
    const locks = new KeyedMutex();
    const gate = deferred();
    const started: string[] = [];
    const a = locks.run('a', async () => {
      started.push('a');
      await gate.promise;
    });
    const b = locks.run('b', async () => {
      started.push('b');
      await gate.promise;
    });
    await settle();
    assert.deepEqual(started, ['a', 'b']);
    assert.equal(locks.size, 2);
    gate.resolve();
    await Promise.all([a, b]);
  });

  it('passes on the result or the error, and a failure releases the key', async () => {
    const locks = new KeyedMutex();
    const failing = locks.run('k', async () => {
      throw Object.assign(new Error('boom'), { code: 'E_TEST' });
    });
    const next = locks.run('k', async () => 'after');
    await assert.rejects(failing, { code: 'E_TEST' });
    assert.equal(await next, 'after');
  });

  it('a synchronous throw inside fn releases the key too', async () => {
    const locks = new KeyedMutex();
    await assert.rejects(
      locks.run('k', () => {
        throw Object.assign(new Error('sync'), { code: 'E_SYNC' });
      }),
      { code: 'E_SYNC' },
    );
    assert.equal(locks.isLocked('k'), false);
    assert.equal(await locks.run('k', async () => 1), 1);
  });

  it('retains no key once idle', async () => {
    const locks = new KeyedMutex();
    const gate = deferred();
    const first = locks.run('k', () => gate.promise);
    const second = locks.run('k', async () => undefined);
    assert.equal(locks.isLocked('k'), true);
    assert.equal(locks.size, 1);
    gate.resolve();
    await Promise.all([first, second]);
    assert.equal(locks.isLocked('k'), false);
    assert.equal(locks.size, 0);
    await Promise.all(Array.from({ length: 100 }, (_, i) => locks.run(`key-${i}`, async () => i)));
    assert.equal(locks.size, 0);
  });

  it('keeps later waiters queued when a middle call fails', async () => {
    const locks = new KeyedMutex();
    const gate = deferred();
    const order: number[] = [];
    const first = locks.run('k', async () => {
      await gate.promise;
      order.push(1);
    });
    const second = locks.run('k', async () => {
      order.push(2);
      throw Object.assign(new Error('middle'), { code: 'E_MIDDLE' });
    });
    const third = locks.run('k', async () => {
      order.push(3);
    });
    gate.resolve();
    await first;
    await assert.rejects(second, { code: 'E_MIDDLE' });
    await third;
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(locks.size, 0);
  });
});

describe('store locks', () => {
  it('belong to one store: each StoreCaches has its own, one per purpose', () => {
    const driver = createMemoryDriver();
    const caches = createStoreCaches(driver);
    assert.ok(caches.locks.uploadSessions instanceof KeyedMutex);
    assert.notEqual(caches.locks.uploadSessions, caches.locks.blobPublish);
    assert.notEqual(createStoreCaches(driver).locks.uploadSessions, caches.locks.uploadSessions);
  });

  it('callers holding the same caches exclude each other', async () => {
    const caches = createStoreCaches(createMemoryDriver());
    const gate = deferred();
    const events: string[] = [];
    const first = caches.locks.blobPublish.run('k', async () => {
      events.push('first');
      await gate.promise;
    });
    const second = caches.locks.blobPublish.run('k', async () => {
      events.push('second');
    });
    await settle();
    assert.deepEqual(events, ['first']);
    gate.resolve();
    await Promise.all([first, second]);
    assert.deepEqual(events, ['first', 'second']);
  });
});
