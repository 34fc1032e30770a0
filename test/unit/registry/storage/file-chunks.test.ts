import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileChunks, hasReleasableChunks } from '../../../../src/registry/storage/file-chunks.js';
import { tempDir } from '../../../helpers/fixtures.js';

const CHUNK = 4096;

async function fileWith(content: Buffer): Promise<string> {
  const path = join(await tempDir(), 'data');
  await writeFile(path, content);
  return path;
}

describe('fileChunks', () => {
  it('streams a range in chunks, reusing the buffers handed back', async () => {
    const content = randomBytes(CHUNK * 5 + 100);
    const handle = await open(await fileWith(content), 'r');
    const stream = fileChunks(handle, 10, content.length - 7, CHUNK);
    assert.ok(hasReleasableChunks(stream));
    const copies: Buffer[] = [];
    const backing = new Set<ArrayBufferLike>();
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      assert.ok(chunk.byteLength <= CHUNK);
      copies.push(Buffer.from(chunk));
      backing.add(chunk.buffer);
      stream.releaseChunk(chunk);
    }
    assert.deepEqual(Buffer.concat(copies), content.subarray(10, content.length - 7));
    // Six chunks through at most two buffers: one being read while one is consumed.
    assert.ok(backing.size <= 2, `${backing.size} buffers`);
  });

  it('gives a consumer that keeps its chunks a fresh buffer each time', async () => {
    const content = randomBytes(CHUNK * 3);
    const handle = await open(await fileWith(content), 'r');
    const kept: Buffer[] = [];
    for await (const chunk of fileChunks(handle, 0, content.length, CHUNK)) kept.push(chunk);
    assert.equal(new Set(kept.map((c) => c.buffer)).size, 3);
    assert.deepEqual(Buffer.concat(kept), content);
  });

  it('ends early when the file is shorter than the range, and closes the file', async () => {
    const content = randomBytes(100);
    const handle = await open(await fileWith(content), 'r');
    const got: Buffer[] = [];
    for await (const chunk of fileChunks(handle, 0, 1000, CHUNK)) got.push(Buffer.from(chunk));
    assert.deepEqual(Buffer.concat(got), content);
    await assert.rejects(handle.stat(), { code: 'EBADF' });
  });

  it('closes the file when destroyed half-way', async () => {
    const handle = await open(await fileWith(randomBytes(CHUNK * 4)), 'r');
    const stream = fileChunks(handle, 0, CHUNK * 4, CHUNK);
    for await (const chunk of stream) {
      assert.equal(chunk.byteLength, CHUNK);
      break;
    }
    // Closed once the read ahead in flight has finished.
    if (!stream.closed) await new Promise((resolve) => stream.once('close', resolve));
    await assert.rejects(handle.stat(), { code: 'EBADF' });
  });
});
