import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { type FileHandle, open, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it, mock } from 'node:test';
import { readBoundedFile, readBoundedStream } from '../../../src/content/index.js';
import { tempDir } from '../../helpers/fixtures.js';

/** FileHandle.prototype, so that a test can count the reads readBoundedFile makes. */
async function fileHandlePrototype(path: string): Promise<FileHandle> {
  const handle = await open(path, 'r');
  const proto = Object.getPrototypeOf(handle) as FileHandle;
  await handle.close();
  return proto;
}

describe('readBoundedFile', async () => {
  const dir = await tempDir();
  const small = join(dir, 'small');
  await writeFile(small, 'hello');

  it('reads a file up to and including the limit', async () => {
    assert.deepEqual(await readBoundedFile(small, 5, 'file'), Buffer.from('hello'));
    assert.deepEqual(await readBoundedFile(small, 1000, 'file'), Buffer.from('hello'));
  });

  it('reads an empty file as no bytes', async () => {
    const empty = join(dir, 'empty');
    await writeFile(empty, '');
    assert.equal((await readBoundedFile(empty, 10, 'file')).length, 0);
  });

  it('reads files larger than one internal chunk whole', async () => {
    const path = join(dir, 'chunks');
    const data = Buffer.alloc(200 * 1024 + 7);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    await writeFile(path, data);
    assert.deepEqual(await readBoundedFile(path, data.length, 'file'), data);
  });

  it('refuses a file one byte over the limit', async () => {
    await assert.rejects(readBoundedFile(small, 4, 'file'), { code: 'NV2_ERR_FILE_TOO_LARGE' });
  });

  it('refuses an oversize file before reading any of it', async () => {
    const big = join(dir, 'big');
    await writeFile(big, '');
    await truncate(big, 64 * 1024 * 1024); // sparse: large on stat, cheap on disk
    const read = mock.method(await fileHandlePrototype(big), 'read');
    try {
      await assert.rejects(readBoundedFile(big, 1024, 'file'), { code: 'NV2_ERR_FILE_TOO_LARGE' });
      assert.equal(read.mock.callCount(), 0);
      // The control: the same spy does see the reads of a file within the limit.
      await readBoundedFile(small, 1024, 'file');
      assert.ok(read.mock.callCount() > 0);
    } finally {
      read.mock.restore();
    }
  });

  it('refuses a missing file with NV2_ERR_FILE_NOT_FOUND', async () => {
    await assert.rejects(readBoundedFile(join(dir, 'missing'), 10, 'file'), {
      code: 'NV2_ERR_FILE_NOT_FOUND',
    });
  });

  it('refuses a directory with NV2_ERR_INVALID_ARGUMENT', async () => {
    await assert.rejects(readBoundedFile(dir, 10, 'file'), { code: 'NV2_ERR_INVALID_ARGUMENT' });
  });

  it(
    'refuses an endless character device once past the limit',
    { skip: !existsSync('/dev/zero') },
    async () => {
      // /dev/zero reports size 0 on stat, so only the chunked read can stop it.
      await assert.rejects(readBoundedFile('/dev/zero', 100 * 1024, 'file'), {
        code: 'NV2_ERR_FILE_TOO_LARGE',
      });
    },
  );

  it(
    'reads an empty character device as no bytes',
    { skip: !existsSync('/dev/null') },
    async () => {
      assert.equal((await readBoundedFile('/dev/null', 10, 'file')).length, 0);
    },
  );
});

describe('readBoundedStream', () => {
  it('concatenates chunks up to and including the limit', async () => {
    const out = await readBoundedStream(
      Readable.from([Buffer.from('ab'), Buffer.from('cd')]),
      4,
      'in',
    );
    assert.deepEqual(out, Buffer.from('abcd'));
  });

  it('reads an empty stream as no bytes', async () => {
    assert.equal((await readBoundedStream(Readable.from([]), 4, 'in')).length, 0);
  });

  it('refuses one byte over the limit, even when it arrives in a later chunk', async () => {
    await assert.rejects(
      readBoundedStream(Readable.from([Buffer.from('ab'), Buffer.from('cde')]), 4, 'in'),
      {
        code: 'NV2_ERR_FILE_TOO_LARGE',
      },
    );
    await assert.rejects(readBoundedStream(Readable.from([Buffer.alloc(5)]), 4, 'in'), {
      code: 'NV2_ERR_FILE_TOO_LARGE',
    });
  });

  it('counts string chunks in UTF-8 bytes, not characters', async () => {
    // 'é' is two bytes in UTF-8.
    const iterable = async function* (): AsyncGenerator<string> {
      yield 'éé';
    };
    assert.deepEqual(await readBoundedStream(iterable(), 4, 'in'), Buffer.from('éé'));
    await assert.rejects(readBoundedStream(iterable(), 3, 'in'), {
      code: 'NV2_ERR_FILE_TOO_LARGE',
    });
  });

  it('accepts Uint8Array chunks that are views into larger buffers', async () => {
    const whole = Buffer.from('xxabyy');
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 2, 2);
    const iterable = async function* (): AsyncGenerator<Uint8Array> {
      yield view;
    };
    assert.deepEqual(await readBoundedStream(iterable(), 2, 'in'), Buffer.from('ab'));
  });

  it('stops pulling from an endless stream once past the limit, and closes it', async () => {
    let pulled = 0;
    let closed = false;
    const endless = async function* (): AsyncGenerator<Uint8Array> {
      try {
        for (;;) {
          pulled++;
          yield Buffer.alloc(1000);
        }
      } finally {
        closed = true;
      }
    };
    await assert.rejects(readBoundedStream(endless(), 10_000, 'in'), {
      code: 'NV2_ERR_FILE_TOO_LARGE',
    });
    assert.equal(pulled, 11);
    assert.equal(closed, true);
  });
});
