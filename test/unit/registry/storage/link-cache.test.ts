import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Digest } from '../../../../src/oci/index.js';
import { createRepositoryLinks } from '../../../../src/registry/storage/link-cache.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('repository links', () => {
  const digest = `sha256:${'a'.repeat(64)}` as Digest;
  const other = `sha256:${'b'.repeat(64)}` as Digest;

  it('keeps what was read when nothing changed meanwhile', () => {
    const links = createRepositoryLinks(false);
    const seen = links.generation('r');
    links.rememberTag('r', 'v1', digest, seen);
    links.rememberRevision('r', digest, seen);
    assert.equal(links.tag('r', 'v1'), digest);
    assert.equal(links.hasRevision('r', digest), true);
    assert.equal(links.hasRevision('other/repo', digest), false);
  });

  it('drops what was read while a change of the repository ran or after one started', async () => {
    const links = createRepositoryLinks(false);
    const before = links.generation('r');
    let release!: () => void;
    const change = links.change('r', 'tag:v1', async () => {
      // Read while the change runs: the link may not be durable yet.
      const during = links.generation('r');
      links.rememberTag('r', 'v1', digest, during);
      links.rememberLayer('r', digest, during);
      await new Promise<void>((resolve) => (release = resolve));
      links.setTag('r', 'v1', other);
    });
    await tick();
    assert.equal(links.tag('r', 'v1'), undefined);
    assert.equal(links.hasLayer('r', digest), false);
    release();
    await change;
    assert.equal(links.tag('r', 'v1'), other);
    // Read before the change started, remembered after it: stale, dropped.
    links.rememberTag('r', 'v2', digest, before);
    assert.equal(links.tag('r', 'v2'), undefined);
  });

  it('orders changes of one link, and keeps the tag list in step with them', async () => {
    const links = createRepositoryLinks(false);
    links.rememberTagList('r', Object.freeze(['a', 'c']), links.generation('r'));
    const order: string[] = [];
    await Promise.all([
      links.change('r', 'tag:b', async () => {
        await tick();
        order.push('first');
        links.setTag('r', 'b', digest);
      }),
      links.change('r', 'tag:b', async () => {
        order.push('second');
        links.setTag('r', 'b', other);
      }),
    ]);
    assert.deepEqual(order, ['first', 'second']);
    assert.equal(links.tag('r', 'b'), other);
    assert.deepEqual(links.tagList('r'), ['a', 'b', 'c']);
    await links.change('r', 'tag:a', async () => links.setTag('r', 'a', undefined));
    assert.deepEqual(links.tagList('r'), ['b', 'c']);
    assert.ok(Object.isFrozen(links.tagList('r')));
  });

  it('forgets everything on clear, including values read before it', () => {
    const links = createRepositoryLinks(false);
    const seen = links.generation('r');
    links.rememberRevision('r', digest, seen);
    links.clear();
    assert.equal(links.hasRevision('r', digest), false);
    links.rememberRevision('r', other, seen);
    assert.equal(links.hasRevision('r', other), false);
  });
});
