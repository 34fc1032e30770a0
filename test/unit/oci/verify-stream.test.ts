import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import type { Digest } from '../../../src/oci/index.js';
import { digestOf, hashingStream, verifyStream } from '../../../src/oci/index.js';

const CONTENT = Buffer.from('hello, verified world');
const DIGEST = digestOf(CONTENT);

/** A source that yields `chunks` and records how many it was asked for and whether it was closed. */
function source(chunks: Uint8Array[]) {
  const state = { pulled: 0, returned: false };
  const iterable: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]() {
      let i = 0;
      return {
        async next() {
          if (i >= chunks.length) return { done: true, value: undefined };
          state.pulled++;
          return { done: false, value: chunks[i++]! };
        },
        async return() {
          state.returned = true;
          return { done: true, value: undefined };
        },
      };
    },
  };
  return { iterable, state };
}

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of iterable) out.push(Buffer.from(chunk));
  return Buffer.concat(out);
}

function split(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

describe('verifyStream', () => {
  it('passes matching content through unchanged, with or without a size', async () => {
    for (const size of [CONTENT.length, undefined]) {
      const { iterable } = source(split(CONTENT, 4));
      const expected = size === undefined ? { digest: DIGEST } : { digest: DIGEST, size };
      assert.deepEqual(await collect(verifyStream(iterable, expected)), CONTENT);
    }
  });

  it('verifies empty content', async () => {
    const empty = Buffer.alloc(0);
    const { iterable } = source([]);
    const out = await collect(verifyStream(iterable, { digest: digestOf(empty), size: 0 }));
    assert.equal(out.length, 0);
  });

  it('verifies sha512 digests', async () => {
    const digest = digestOf(CONTENT, 'sha512');
    const { iterable } = source(split(CONTENT, 3));
    assert.deepEqual(
      await collect(verifyStream(iterable, { digest, size: CONTENT.length })),
      CONTENT,
    );
  });

  it('fails at the end with NV2_ERR_CONTENT_DIGEST_MISMATCH for other content of the same size', async () => {
    const other = Buffer.from(CONTENT);
    other[0] = other[0]! ^ 1;
    const { iterable } = source(split(other, 4));
    const seen: Buffer[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of verifyStream(iterable, { digest: DIGEST, size: CONTENT.length }))
          seen.push(Buffer.from(chunk));
      })(),
      { code: 'NV2_ERR_CONTENT_DIGEST_MISMATCH', name: 'VerificationFailedError' },
    );
    // The mismatch is known only at the end: every chunk was passed on first.
    assert.deepEqual(Buffer.concat(seen), other);
  });

  it('fails with NV2_ERR_CONTENT_SIZE_MISMATCH when the content is short', async () => {
    const { iterable } = source(split(CONTENT.subarray(0, 10), 4));
    await assert.rejects(
      collect(verifyStream(iterable, { digest: DIGEST, size: CONTENT.length })),
      {
        code: 'NV2_ERR_CONTENT_SIZE_MISMATCH',
        name: 'VerificationFailedError',
      },
    );
  });

  it('reports a short stream as a size mismatch even when its digest is the expected one', async () => {
    const { iterable } = source([CONTENT]);
    await assert.rejects(
      collect(verifyStream(iterable, { digest: DIGEST, size: CONTENT.length + 1 })),
      { code: 'NV2_ERR_CONTENT_SIZE_MISMATCH' },
    );
  });

  it('stops reading as soon as the size is exceeded, without passing on the excess chunk', async () => {
    const chunks = [CONTENT, Buffer.from('trailing'), Buffer.from('never read'), Buffer.from('!')];
    const { iterable, state } = source(chunks);
    const seen: Buffer[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of verifyStream(iterable, { digest: DIGEST, size: CONTENT.length }))
          seen.push(Buffer.from(chunk));
      })(),
      { code: 'NV2_ERR_CONTENT_SIZE_MISMATCH' },
    );
    assert.deepEqual(Buffer.concat(seen), CONTENT);
    assert.equal(state.pulled, 2); // the content, then the chunk that passed the size
    assert.equal(state.returned, true); // the source was closed
  });

  it('refuses a chunk that crosses the size in its middle', async () => {
    const { iterable, state } = source([Buffer.concat([CONTENT, Buffer.from('x')])]);
    await assert.rejects(
      collect(verifyStream(iterable, { digest: DIGEST, size: CONTENT.length })),
      {
        code: 'NV2_ERR_CONTENT_SIZE_MISMATCH',
      },
    );
    assert.equal(state.pulled, 1);
  });

  it('destroys a Node stream source that runs past the size', async () => {
    let pushed = 0;
    const readable = new Readable({
      read() {
        pushed++;
        this.push(Buffer.alloc(1024)); // endless
      },
    });
    await assert.rejects(collect(verifyStream(readable, { digest: DIGEST, size: 4096 })), {
      code: 'NV2_ERR_CONTENT_SIZE_MISMATCH',
    });
    assert.equal(readable.destroyed, true);
    assert.ok(pushed < 100, `read ${pushed} chunks from an endless source`);
  });

  it('works as a stream.pipeline stage, and fails the pipeline on a mismatch', async () => {
    const received: Buffer[] = [];
    const sink = () =>
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          received.push(chunk);
          callback();
        },
      });
    await pipeline(
      Readable.from(split(CONTENT, 5)),
      (src: AsyncIterable<Uint8Array>) =>
        verifyStream(src, { digest: DIGEST, size: CONTENT.length }),
      sink(),
    );
    assert.deepEqual(Buffer.concat(received), CONTENT);
    await assert.rejects(
      pipeline(
        Readable.from([Buffer.from('tampered')]),
        (src: AsyncIterable<Uint8Array>) => verifyStream(src, { digest: DIGEST }),
        sink(),
      ),
      { code: 'NV2_ERR_CONTENT_DIGEST_MISMATCH' },
    );
  });

  it('checks its arguments at the call, before reading', () => {
    const { iterable, state } = source([CONTENT]);
    assert.throws(() => verifyStream(iterable, { digest: 'sha256:abc' as Digest }), {
      code: 'NV2_ERR_INVALID_DIGEST',
    });
    for (const size of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => verifyStream(iterable, { digest: DIGEST, size }), {
        code: 'NV2_ERR_INVALID_ARGUMENT',
      });
    }
    assert.equal(state.pulled, 0);
  });
});

describe('hashingStream', () => {
  it('passes content through and reports its digest and size', async () => {
    for (const algorithm of ['sha256', 'sha512'] as const) {
      const hashing = hashingStream(algorithm);
      const received: Buffer[] = [];
      await pipeline(
        Readable.from(split(CONTENT, 3)),
        hashing.transform,
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            received.push(chunk);
            callback();
          },
        }),
      );
      assert.deepEqual(Buffer.concat(received), CONTENT);
      assert.equal(hashing.digest(), digestOf(CONTENT, algorithm));
      assert.equal(hashing.digest(), digestOf(CONTENT, algorithm)); // may be asked again
      assert.equal(hashing.size, CONTENT.length);
    }
  });

  it('defaults to sha256 and reports the empty digest before anything passed', () => {
    const hashing = hashingStream();
    assert.equal(hashing.digest(), digestOf(Buffer.alloc(0)));
    assert.equal(hashing.size, 0);
  });

  it('reports the digest of what has passed so far', async () => {
    const hashing = hashingStream();
    const first = CONTENT.subarray(0, 7);
    await new Promise<void>((resolve, reject) =>
      hashing.transform.write(first, (err) => (err ? reject(err) : resolve())),
    );
    assert.equal(hashing.digest(), digestOf(first));
    assert.equal(hashing.size, first.length);
  });

  it('hashes a large stream chunk by chunk', async () => {
    const chunk = Buffer.alloc(64 * 1024, 7);
    const expected = createHash('sha256');
    const hashing = hashingStream();
    let count = 0;
    await pipeline(
      new Readable({
        read() {
          if (count++ === 64) this.push(null);
          else {
            expected.update(chunk);
            this.push(chunk);
          }
        },
      }),
      hashing.transform,
      new Writable({ write: (_chunk, _encoding, callback) => callback() }),
    );
    assert.equal(hashing.digest(), `sha256:${expected.digest('hex')}`);
    assert.equal(hashing.size, 64 * chunk.length);
  });

  it('refuses an unknown algorithm with NV2_ERR_INVALID_ARGUMENT', () => {
    assert.throws(() => hashingStream('md5' as 'sha256'), { code: 'NV2_ERR_INVALID_ARGUMENT' });
  });
});
