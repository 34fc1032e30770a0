import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.js';
import { type AttachedBlob, attachArtifact } from '../../notary/index.js';
import { type Descriptor, hashingStream } from '../../oci/index.js';
import { print, printJson, type OutputFormat } from '../output.js';
import { type RemoteFlags, addRemoteOptions, requireReference, withTargets } from '../target.js';
import { collect, outputFormat } from './options.js';

interface AttachFlags extends RemoteFlags {
  artifactType: string;
  annotation: string[];
  output: OutputFormat;
}

/** The annotation ORAS and other tools use for a layer's file name. */
const TITLE_ANNOTATION = 'org.opencontainers.image.title';

/** `FILE[:MEDIATYPE]`, split at the last colon that is followed by a type/subtype. */
function parseFileArgument(argument: string): { path: string; mediaType: string } {
  const match = /^(.+):([A-Za-z0-9][\w!#$&^.+-]*\/[A-Za-z0-9][\w!#$&^.+-]*)$/.exec(argument);
  return match !== null
    ? { path: match[1]!, mediaType: match[2]! }
    : { path: argument, mediaType: 'application/octet-stream' };
}

function parseAnnotation(value: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq <= 0) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `annotation ${JSON.stringify(value)} is not KEY=VALUE`,
    );
  }
  return [value.slice(0, eq), value.slice(eq + 1)];
}

/** Hashes a file by streaming it once; the push streams it again (large SBOMs stay on disk). */
async function describeFile(path: string, mediaType: string): Promise<AttachedBlob> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new InvalidInputError('NV2_ERR_FILE_NOT_FOUND', `cannot read ${path}`, { cause: err });
  }
  if (!info.isFile()) {
    throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `${path} is not a regular file`);
  }
  const hashing = hashingStream('sha256');
  await pipeline(
    createReadStream(path),
    hashing.transform,
    new Writable({ write: (_chunk, _encoding, callback) => callback() }),
  );
  const descriptor: Descriptor = {
    mediaType,
    digest: hashing.digest(),
    size: hashing.size,
    annotations: { [TITLE_ANNOTATION]: basename(path) },
  };
  return { descriptor, content: () => createReadStream(path) };
}

/**
 * `nv2 attach`: push files as an artifact that refers to REF (an SBOM, a scan report), as
 * `oras attach` does; it is then listed by `discover` and can be signed like any manifest.
 */
export function registerAttach(program: Command): void {
  const command = program
    .command('attach')
    .description(
      'attach files (an SBOM, a report) to an artifact as a referrer; prints the new manifest digest',
    )
    .argument('<target>', 'REF, docker://REF, oci://REF or oci-layout:DIR:TAG|@DIGEST')
    .argument('<files...>', 'files to attach, each FILE or FILE:MEDIATYPE')
    .requiredOption('--artifact-type <type>', 'the artifact type, e.g. application/spdx+json')
    .option('-a, --annotation <key=value>', 'manifest annotation (repeatable)', collect, [])
    .option('--output <format>', 'text or json', outputFormat, 'text')
    .action(async (target: string, files: string[], flags: AttachFlags) => {
      const annotations = Object.fromEntries(flags.annotation.map(parseAnnotation));
      const blobs: AttachedBlob[] = [];
      for (const file of files) {
        const { path, mediaType } = parseFileArgument(file);
        blobs.push(await describeFile(path, mediaType));
      }
      await withTargets(flags, async (opener) => {
        const opened = await opener.open(target);
        const subject = await opened.target.resolve(requireReference(opened));
        const manifest = await attachArtifact(opened.target, subject, {
          artifactType: flags.artifactType,
          blobs,
          annotations,
        });
        if (flags.output === 'json') {
          printJson({ subject: subject.digest, manifest });
        } else {
          print(manifest.digest);
        }
      });
    });
  addRemoteOptions(command);
}
