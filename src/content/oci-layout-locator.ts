import { InvalidInputError } from '../errors.js';
import { isDigest, isTag } from '../oci/index.js';

/** Where an `oci-layout:` locator points: a layout directory and, optionally, a tag or digest. */
export interface OciLayoutLocator {
  readonly dir: string;
  /** A tag or a digest (`sha256:…`); absent when the locator names only the directory. */
  readonly reference?: string;
}

const LOCATOR_PREFIX = 'oci-layout:';

/**
 * Parses `oci-layout:DIR`, `oci-layout:DIR:TAG` or `oci-layout:DIR@DIGEST`.
 *
 * The rule, since DIR is a path and may itself contain `:` or `@`:
 * - a trailing `@sha256:…` or `@sha512:…` is a digest, and everything before its `@` is DIR;
 * - otherwise the text after the LAST `:` is a tag (tags cannot contain `:`) and everything
 *   before it is DIR;
 * - otherwise (no `:`) all of it is DIR.
 *
 * So a DIR containing `:` must be followed by a tag or a digest (`oci-layout:a:b` is DIR `a`,
 * tag `b`; write `oci-layout:a:b:latest` for DIR `a:b`). A tag and a digest together are not
 * supported (`oci-layout:d:v1@sha256:…` is DIR `d:v1`). This is skopeo's `oci:` syntax except
 * that skopeo splits at the FIRST `:`, so DIRs with `:` differ.
 *
 * @example parseOciLayoutLocator('oci-layout:./out:v1') // { dir: './out', reference: 'v1' }
 * @throws InvalidInputError NV2_ERR_INVALID_TARGET (no `oci-layout:` prefix, empty DIR),
 *   NV2_ERR_INVALID_REFERENCE (an invalid tag), NV2_ERR_INVALID_DIGEST (an invalid digest)
 */
export function parseOciLayoutLocator(input: string): OciLayoutLocator {
  if (!input.startsWith(LOCATOR_PREFIX)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_TARGET',
      `${JSON.stringify(input)} is not an oci-layout:DIR[:TAG|@DIGEST] locator`,
    );
  }
  const rest = input.slice(LOCATOR_PREFIX.length);
  let dir = rest;
  let reference: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0 && /^sha(256|512):/.test(rest.slice(at + 1))) {
    reference = rest.slice(at + 1);
    if (!isDigest(reference)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_DIGEST',
        `invalid digest ${JSON.stringify(reference)} in ${JSON.stringify(input)}`,
      );
    }
    dir = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      reference = rest.slice(colon + 1);
      if (!isTag(reference)) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_REFERENCE',
          `invalid tag ${JSON.stringify(reference)} in ${JSON.stringify(input)} (the text after the last ":" is the tag)`,
        );
      }
      dir = rest.slice(0, colon);
    }
  }
  if (dir === '') {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_TARGET',
      `${JSON.stringify(input)} names no directory`,
    );
  }
  return reference === undefined ? { dir } : { dir, reference };
}
