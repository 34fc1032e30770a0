import { InvalidInputError } from '../errors.js';
import { type Digest, isDigest } from './digest.js';

/**
 * A parsed, normalized image reference: `registry/repository[:tag][@digest]`.
 * `docker.io` references are normalized as docker does (`ubuntu` → `docker.io/library/ubuntu`).
 */
export interface Reference {
  /** Registry host, with its port when one was given (`registry.io:5000`). */
  readonly registry: string;
  /** Repository path inside the registry (`library/ubuntu`). */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

/** The registry a reference without a host is on (Docker normalization). */
export const DEFAULT_REGISTRY = 'docker.io';
const LEGACY_DEFAULT_REGISTRY = 'index.docker.io';
const OFFICIAL_REPOSITORY_PREFIX = 'library/';

// The grammar of distribution/reference (regexp.go), anchored. Kept as data so that each
// piece can be read against the original.
const ALPHANUMERIC = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6_ADDRESS = '\\[[a-fA-F0-9:]+\\]';
const DOMAIN = `(?:${DOMAIN_NAME}|${IPV6_ADDRESS})(?::[0-9]+)?`;
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE_PATTERN = new RegExp(
  `^(${DOMAIN})/(${REMOTE_NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);
const DOMAIN_PATTERN = new RegExp(`^${DOMAIN}$`);
const TAG_PATTERN = new RegExp(`^${TAG}$`);
const REPOSITORY_NAME_PATTERN = new RegExp(`^${REMOTE_NAME}$`);
const BARE_HEX_PATTERN = /^[a-f0-9]{64}$/;

/**
 * distribution/reference's RepositoryNameTotalLengthMax: the repository path may have at most
 * 255 characters (since v0.6 the registry host no longer counts against it).
 */
export const MAX_NAME_LENGTH = 255;

/** Longest reference accepted at all, checked before parsing. */
const MAX_REFERENCE_LENGTH = 2048;

function invalid(input: string, why: string): InvalidInputError {
  return new InvalidInputError(
    'NV2_ERR_INVALID_REFERENCE',
    `invalid reference ${JSON.stringify(input)}: ${why}`,
  );
}

/** Splits off the registry the way docker's `splitDockerDomain` does. */
function splitRegistry(name: string): [registry: string, remainder: string] {
  const slash = name.indexOf('/');
  let registry: string;
  let remainder: string;
  const first = slash === -1 ? '' : name.slice(0, slash);
  if (
    slash === -1 ||
    (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)
  ) {
    registry = DEFAULT_REGISTRY;
    remainder = name;
  } else {
    registry = first;
    remainder = name.slice(slash + 1);
  }
  if (registry === LEGACY_DEFAULT_REGISTRY) registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && !remainder.includes('/')) {
    remainder = OFFICIAL_REPOSITORY_PREFIX + remainder;
  }
  return [registry, remainder];
}

/**
 * Parses a reference in the Docker grammar and normalizes it: a name without a registry is on
 * `docker.io`, and single-component names there are under `library/`. The tag is left unset
 * when none was given (see `withDefaultTag`).
 *
 * @example parseReference('ubuntu:22.04') // { registry: 'docker.io', repository: 'library/ubuntu', tag: '22.04' }
 * @throws InvalidInputError NV2_ERR_INVALID_REFERENCE
 */
export function parseReference(input: string): Reference {
  if (input.length === 0) throw invalid(input, 'empty');
  // A bound before any regular expression runs; valid references are far shorter.
  if (input.length > MAX_REFERENCE_LENGTH) throw invalid(input, 'too long');
  if (BARE_HEX_PATTERN.test(input)) {
    throw invalid(input, 'a 64-character hexadecimal string is not a repository name');
  }
  const [registry, remainder] = splitRegistry(input);
  const nameEnd = remainder.search(/[:@]/);
  const repositoryPart = nameEnd === -1 ? remainder : remainder.slice(0, nameEnd);
  if (repositoryPart.toLowerCase() !== repositoryPart) {
    throw invalid(input, 'repository name must be lowercase');
  }
  const m = REFERENCE_PATTERN.exec(`${registry}/${remainder}`);
  if (m === null) throw invalid(input, 'not in the docker reference grammar');
  const repository = m[2]!;
  if (repository.length > MAX_NAME_LENGTH) {
    throw invalid(input, `repository name longer than ${MAX_NAME_LENGTH} characters`);
  }
  const tag = m[3];
  const digest = m[4];
  if (digest !== undefined && !isDigest(digest)) {
    throw invalid(input, 'digest must be sha256:<64 hex> or sha512:<128 hex>');
  }
  return {
    registry,
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/**
 * Whether `name` is a repository name (distribution-spec v1.1 `<name>`, "Pulling manifests"):
 * the path grammar, at most 255 characters (checked first, so the expression only ever runs on
 * short input). Registry paths, access rules and the UI check names with it.
 */
export function isRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && REPOSITORY_NAME_PATTERN.test(name);
}

/** Returns whether a string is a valid tag. */
export function isTag(value: string): boolean {
  return TAG_PATTERN.test(value);
}

/** Returns whether a string is a valid registry host with optional port. */
export function isRegistryHost(value: string): boolean {
  return DOMAIN_PATTERN.test(value);
}

/** Gives a reference without tag or digest the tag `latest`, as docker does. */
export function withDefaultTag(ref: Reference): Reference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

/**
 * Formats a reference in its normalized, fully qualified form.
 *
 * @example formatReference(parseReference('ubuntu')) // 'docker.io/library/ubuntu'
 */
export function formatReference(ref: Reference): string {
  let out = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/**
 * The registry host without its port (`registry.io:5000` → `registry.io`,
 * `[::1]:5000` → `[::1]`).
 */
export function registryHostname(registry: string): string {
  const colon = registry.lastIndexOf(':');
  if (colon === -1 || registry.endsWith(']')) return registry;
  return registry.slice(0, colon);
}
