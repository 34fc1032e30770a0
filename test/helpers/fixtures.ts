/** Shared sample content and temporary directories for tests. */
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeManifest } from '../../src/oci/index.js';

/** A small OCI image manifest, exact bytes. */
export const SAMPLE_MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.empty.v1+json',
      digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
      size: 2,
    },
    layers: [],
  }),
);

/** The sample manifest described (OCI media type from its own field). */
export const SAMPLE = describeManifest(SAMPLE_MANIFEST);

/** The sample as a verification subject (bytes and media type). */
export const SAMPLE_SUBJECT = {
  mediaType: SAMPLE.descriptor.mediaType,
  content: SAMPLE.content,
} as const;

/** The test vectors (data copied into the repository; test/vectors/README.md says whence). */
export const VECTORS_DIR = new URL('../../../test/vectors/', import.meta.url);

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/**
 * A new temporary directory, removed when the test process exits. (Not an `after` hook:
 * hooks registered from inside another hook would run at that hook's end.)
 */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nv2-test-'));
  made.push(dir);
  return dir;
}
