import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { loadManifest, parseManifestLocator } from '../../../src/content/index.js';
import {
  DEFAULT_MANIFEST_MEDIA_TYPE,
  MAX_MANIFEST_BYTES,
  digestOf,
} from '../../../src/oci/index.js';
import { SAMPLE, SAMPLE_MANIFEST, tempDir } from '../../helpers/fixtures.js';

const INVALID_TARGET = { code: 'NV2_ERR_INVALID_TARGET' };

describe('parseManifestLocator', () => {
  it('reads file:PATH as a file, keeping the path verbatim', () => {
    assert.deepEqual(parseManifestLocator('file:./m.json'), { kind: 'file', path: './m.json' });
    assert.deepEqual(parseManifestLocator('file:/abs/m.json'), {
      kind: 'file',
      path: '/abs/m.json',
    });
    assert.deepEqual(parseManifestLocator('file:a b'), { kind: 'file', path: 'a b' });
    assert.deepEqual(parseManifestLocator('file:file:x'), { kind: 'file', path: 'file:x' });
    assert.deepEqual(parseManifestLocator('file:--'), { kind: 'file', path: '--' });
  });

  it('reads - and file:- as standard input', () => {
    assert.deepEqual(parseManifestLocator('-'), { kind: 'stdin' });
    assert.deepEqual(parseManifestLocator('file:-'), { kind: 'stdin' });
  });

  it('refuses file: without a path', () => {
    assert.throws(() => parseManifestLocator('file:'), INVALID_TARGET);
  });

  it('refuses registry locators and plain references', () => {
    for (const input of [
      'docker://x',
      'docker://registry.io/a:b',
      'oci://x',
      'oci-layout://dir',
      'ubuntu',
      'ubuntu:latest',
      'registry.io/a/b:c',
      'manifest.json',
      './manifest.json',
      'FILE:x',
      ' file:x',
      '',
      '--',
    ]) {
      assert.throws(() => parseManifestLocator(input), INVALID_TARGET, JSON.stringify(input));
    }
  });
});

describe('loadManifest', async () => {
  const dir = await tempDir();
  const manifestPath = join(dir, 'manifest.json');
  await writeFile(manifestPath, SAMPLE_MANIFEST);

  it('reads and describes a manifest from a file', async () => {
    const loaded = await loadManifest({ kind: 'file', path: manifestPath });
    assert.deepEqual(loaded.descriptor, SAMPLE.descriptor);
    assert.deepEqual(Buffer.from(loaded.content), SAMPLE_MANIFEST);
  });

  it('reads and describes a manifest from standard input, across chunks', async () => {
    const half = Math.floor(SAMPLE_MANIFEST.length / 2);
    const stdin = Readable.from([
      SAMPLE_MANIFEST.subarray(0, half),
      SAMPLE_MANIFEST.subarray(half),
    ]);
    const loaded = await loadManifest({ kind: 'stdin' }, { stdin });
    assert.deepEqual(loaded.descriptor, SAMPLE.descriptor);
    assert.deepEqual(Buffer.from(loaded.content), SAMPLE_MANIFEST);
  });

  it('uses the given media type over the manifest’s own', async () => {
    const mediaType = 'application/vnd.example+json';
    const fromFile = await loadManifest({ kind: 'file', path: manifestPath }, { mediaType });
    assert.equal(fromFile.descriptor.mediaType, mediaType);
    assert.equal(fromFile.descriptor.digest, SAMPLE.descriptor.digest);
    const fromStdin = await loadManifest(
      { kind: 'stdin' },
      { mediaType, stdin: Readable.from([SAMPLE_MANIFEST]) },
    );
    assert.equal(fromStdin.descriptor.mediaType, mediaType);
  });

  it('defaults to Docker schema 2 for a manifest without mediaType', async () => {
    const path = join(dir, 'untyped.json');
    await writeFile(path, '{"schemaVersion":2}');
    const loaded = await loadManifest({ kind: 'file', path });
    assert.equal(loaded.descriptor.mediaType, DEFAULT_MANIFEST_MEDIA_TYPE);
    assert.equal(loaded.descriptor.digest, digestOf(Buffer.from('{"schemaVersion":2}')));
  });

  it('refuses an empty manifest, from a file or from standard input', async () => {
    const path = join(dir, 'empty.json');
    await writeFile(path, '');
    await assert.rejects(loadManifest({ kind: 'file', path }), {
      code: 'NV2_ERR_INVALID_MANIFEST',
    });
    await assert.rejects(loadManifest({ kind: 'file', path }, { mediaType: 'application/x' }), {
      code: 'NV2_ERR_INVALID_MANIFEST',
    });
    await assert.rejects(loadManifest({ kind: 'stdin' }, { stdin: Readable.from([]) }), {
      code: 'NV2_ERR_INVALID_MANIFEST',
    });
  });

  it('refuses non-JSON content without a media type and accepts it with one', async () => {
    const path = join(dir, 'opaque');
    await writeFile(path, 'opaque bytes');
    await assert.rejects(loadManifest({ kind: 'file', path }), {
      code: 'NV2_ERR_INVALID_MANIFEST',
    });
    const loaded = await loadManifest(
      { kind: 'file', path },
      { mediaType: 'application/octet-stream' },
    );
    assert.equal(loaded.descriptor.size, 'opaque bytes'.length);
  });

  it('refuses standard input when none was passed in', async () => {
    await assert.rejects(loadManifest({ kind: 'stdin' }), INVALID_TARGET);
  });

  it('refuses a missing file and a directory', async () => {
    await assert.rejects(loadManifest({ kind: 'file', path: join(dir, 'missing.json') }), {
      code: 'NV2_ERR_FILE_NOT_FOUND',
    });
    await assert.rejects(loadManifest({ kind: 'file', path: dir }), {
      code: 'NV2_ERR_INVALID_ARGUMENT',
    });
  });

  it('refuses a manifest over 4 MiB from a file and from standard input', async () => {
    const path = join(dir, 'big.json');
    const big = Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20);
    big.write('{}', 0);
    await writeFile(path, big);
    await assert.rejects(loadManifest({ kind: 'file', path }), { code: 'NV2_ERR_FILE_TOO_LARGE' });
    await assert.rejects(loadManifest({ kind: 'stdin' }, { stdin: Readable.from([big]) }), {
      code: 'NV2_ERR_FILE_TOO_LARGE',
    });
  });

  it('accepts a manifest of exactly 4 MiB from a file', async () => {
    const path = join(dir, 'max.json');
    const max = Buffer.alloc(MAX_MANIFEST_BYTES, 0x20);
    max.write('{}', 0);
    await writeFile(path, max);
    assert.equal((await loadManifest({ kind: 'file', path })).descriptor.size, MAX_MANIFEST_BYTES);
  });
});
