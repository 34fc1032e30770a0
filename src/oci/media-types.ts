/** Media types nv2 reads and writes. The names are the specs' own. */
export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  /** The file holding an nv2 signature (a JWS compact serialization). */
  nv2Signature: 'application/vnd.cncf.notary.signature.v2+jwt',
  /** The artifactType of an nv2 signature manifest. */
  nv2ArtifactType: 'application/vnd.cncf.notary.v2',
  /** The artifactType of a Notary Project signature manifest (notation's). */
  notationSignature: 'application/vnd.cncf.notary.signature',
  /** A Notary Project signature envelope: JWS JSON serialization. */
  notationJws: 'application/jose+json',
  /** A Notary Project signature envelope: COSE_Sign1. */
  notationCose: 'application/cose',
} as const;

/**
 * The media type assumed for a manifest that names none, as the nv2 prototype did:
 * Docker schema 2 manifests carry `mediaType`, but many producers used to leave it out.
 */
export const DEFAULT_MANIFEST_MEDIA_TYPE = MediaTypes.dockerManifest;

// RFC 6838 §4.2 restricted-name: 1 to 127 characters, first alphanumeric. No parameters:
// OCI descriptors and JWS claims carry bare `type/subtype` strings.
const MEDIA_TYPE_PATTERN =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** Returns whether `value` is a syntactically valid media type (`type/subtype`, RFC 6838). */
export function isMediaType(value: unknown): value is string {
  return typeof value === 'string' && MEDIA_TYPE_PATTERN.test(value);
}

/**
 * Layer media types whose bytes may live elsewhere (`urls`): Docker foreign layers and OCI
 * non-distributable layers. A registry does not require them to be pushed when the descriptor
 * gives `urls` (as distribution), and a copy skips them when the source lacks them.
 */
export const FOREIGN_LAYER_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);
