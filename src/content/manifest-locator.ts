import { InvalidInputError } from '../errors.js';
import { MAX_MANIFEST_BYTES, type ManifestContent, describeManifest } from '../oci/index.js';
import { readBoundedFile, readBoundedStream } from './bounded-read.js';

/**
 * Where a manifest to sign or verify comes from. Today: a file or standard input. Registry
 * locators (`docker://REF`, `oci://REF`, plain references) and OCI image layouts join this
 * union as variants of their own; callers switch on `kind`.
 */
export type ManifestLocator =
  { readonly kind: 'file'; readonly path: string } | { readonly kind: 'stdin' };

/**
 * Parses a TARGET argument: `file:PATH`, `file:-` or `-` (standard input).
 *
 * @example parseManifestLocator('file:./manifest.json') // { kind: 'file', path: './manifest.json' }
 * @throws InvalidInputError NV2_ERR_INVALID_TARGET
 */
export function parseManifestLocator(input: string): ManifestLocator {
  if (input === '-' || input === 'file:-') return { kind: 'stdin' };
  if (input.startsWith('file:')) {
    const path = input.slice('file:'.length);
    if (path === '') {
      throw new InvalidInputError('NV2_ERR_INVALID_TARGET', 'target "file:" names no file');
    }
    return { kind: 'file', path };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(input)?.[1];
  const what = scheme !== undefined ? `${scheme}:// targets` : 'registry references';
  throw new InvalidInputError(
    'NV2_ERR_INVALID_TARGET',
    `unsupported target ${JSON.stringify(input)}: ${what} are not supported by this version; use file:PATH or - (stdin)`,
  );
}

/** Options of `loadManifest`. */
export interface LoadManifestOptions {
  /** Media type to use instead of the manifest's own `mediaType` field. */
  readonly mediaType?: string | undefined;
  /** Standard input, for `{ kind: 'stdin' }`; faces pass process.stdin. */
  readonly stdin?: AsyncIterable<Uint8Array | string>;
}

/**
 * Reads the manifest a locator points at and describes it (digest and size from its exact
 * bytes; media type from `options.mediaType`, its `mediaType` field, or Docker schema 2).
 *
 * @throws InvalidInputError for unreadable, oversized or malformed manifests
 */
export async function loadManifest(
  locator: ManifestLocator,
  options: LoadManifestOptions = {},
): Promise<ManifestContent> {
  let content: Buffer;
  if (locator.kind === 'stdin') {
    if (options.stdin === undefined) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_TARGET',
        'reading the manifest from standard input is not possible here',
      );
    }
    content = await readBoundedStream(
      options.stdin,
      MAX_MANIFEST_BYTES,
      'manifest on standard input',
    );
  } else {
    content = await readBoundedFile(locator.path, MAX_MANIFEST_BYTES, 'manifest');
  }
  if (content.byteLength === 0)
    throw new InvalidInputError('NV2_ERR_INVALID_MANIFEST', 'manifest is empty');
  return describeManifest(content, { mediaType: options.mediaType });
}
