import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import {
  openOciLayout,
  parseOciLayoutLocator,
  readBoundedStream,
  writeFileAtomic,
} from '../../content/index.js';
// The docker module (and its tar reader) loads only when the command runs.
import type { GeneratedManifest } from '../../docker/index.js';
import { InvalidInputError } from '../../errors.js';
import { MAX_MANIFEST_BYTES } from '../../oci/index.js';

interface GenerateFlags {
  output?: string;
  image?: string;
}

function openFile(path: string): Readable {
  const stream = createReadStream(path);
  stream.on('error', () => undefined);
  return stream;
}

async function fromTarball(input: Readable, image: string | undefined): Promise<GeneratedManifest> {
  const { readImageArchive } = await import('../../docker/index.js');
  return readImageArchive(input, image !== undefined ? { image } : {});
}

async function fromOciLayout(argument: string): Promise<{ content: Buffer; digest: string }> {
  const locator = parseOciLayoutLocator(argument);
  if (locator.reference === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_TARGET',
      `${argument} names no tag or digest: add :TAG or @DIGEST`,
    );
  }
  const layout = await openOciLayout(locator.dir);
  const descriptor = await layout.resolve(locator.reference);
  const content = await readBoundedStream(
    await layout.fetch(descriptor),
    MAX_MANIFEST_BYTES,
    'manifest',
  );
  return { content, digest: descriptor.digest };
}

function recompressionNote(generated: GeneratedManifest): string {
  const n = generated.uncompressedLayers;
  const layers = `${n} layer${n === 1 ? '' : 's'}`;
  const keep =
    generated.format === 'oci-archive'
      ? 'the archive is an OCI image layout: unpack it (mkdir image && tar -xf image.tar -C image), sign it with nv2 sign oci-layout:image:TAG, and push it with nv2 copy oci-layout:image:TAG REGISTRY/REPOSITORY:TAG, which keeps every digest and carries the signature along'
      : 'sign after pushing instead (docker nv2 notary sign --remote IMAGE), or save the image with a docker that writes OCI archives (25 or later), unpack it, sign it with nv2 sign oci-layout:DIR:TAG and push it with nv2 copy, which keeps every digest';
  return `note: ${layers} of this image ${n === 1 ? 'is' : 'are'} stored uncompressed; docker push compresses them, so the manifest it pushes will have another digest than ${generated.descriptor.digest} and a signature of this one will not apply there. To keep digests: ${keep}\n`;
}

/** `nv2 generate manifest`: the image manifest a docker save archive or an OCI layout describes. */
export function registerGenerate(program: Command): void {
  const generate = program
    .command('generate')
    .description('generate offline artifacts to sign before pushing');
  generate
    .command('manifest')
    .description(
      'write the image manifest a docker save archive (classic or OCI) or an OCI image layout describes, so that it can be signed (nv2 sign file:FILE) before it is pushed',
    )
    .argument(
      '[image]',
      'IMAGE to run docker save on, - (default) for an archive on standard input, file:PATH for an archive file, or oci-layout:DIR:TAG|@DIGEST',
    )
    .option('-o, --output <file>', 'write the manifest here (default: standard output)')
    .option('--image <name>', 'the image to use when an archive holds several')
    .action(async (argument: string | undefined, flags: GenerateFlags) => {
      const source = argument ?? '-';
      let content: Buffer;
      if (source.startsWith('oci-layout:')) {
        content = (await fromOciLayout(source)).content;
      } else {
        let generated: GeneratedManifest;
        if (source === '-' || source === 'file:-') {
          if (process.stdin.isTTY) {
            throw new InvalidInputError(
              'NV2_ERR_INVALID_ARGUMENT',
              'standard input is a terminal: pipe a docker save archive in, or name an IMAGE',
            );
          }
          generated = await fromTarball(process.stdin, flags.image);
        } else if (source.startsWith('file:')) {
          generated = await fromTarball(openFile(source.slice('file:'.length)), flags.image);
        } else {
          const { createDockerCommand, manifestFromDockerSave } =
            await import('../../docker/index.js');
          generated = await manifestFromDockerSave(createDockerCommand(process.env), source);
        }
        content = generated.content;
        if (generated.uncompressedLayers > 0) process.stderr.write(recompressionNote(generated));
      }
      if (flags.output !== undefined) await writeFileAtomic(flags.output, content);
      else process.stdout.write(content);
    });
}
