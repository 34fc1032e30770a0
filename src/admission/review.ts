import { InvalidInputError } from '../errors.js';
import type { ImageCheck } from './checks.js';
import { type ImageSite, hasPodSpec, imageSites } from './workload.js';

/** The AdmissionReview API version served. */
export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/** The parts of an `AdmissionRequest` this webhook reads. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  readonly resource?: {
    readonly group: string;
    readonly version: string;
    readonly resource: string;
  };
  readonly subResource?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly operation: string;
  readonly object?: unknown;
  /** The object before an UPDATE. */
  readonly oldObject?: unknown;
  readonly dryRun?: boolean;
}

/** An `AdmissionResponse`. */
export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: { readonly code: number; readonly reason?: string; readonly message: string };
  readonly warnings?: readonly string[];
  readonly patchType?: 'JSONPatch';
  /** base64 of the JSONPatch document. */
  readonly patch?: string;
}

/** A whole `AdmissionReview` as answered. */
export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

/** One JSONPatch (RFC 6902) operation. */
export interface PatchOperation {
  readonly op: 'replace';
  readonly path: string;
  readonly value: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bad(message: string): InvalidInputError {
  return new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `AdmissionReview: ${message}`);
}

/**
 * Reads an `AdmissionReview` request document (`admission.k8s.io/v1`).
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT when it is not one
 */
export function parseAdmissionReview(body: unknown): AdmissionRequest {
  if (!isRecord(body)) throw bad('the body is not a JSON object');
  if (body['apiVersion'] !== ADMISSION_API_VERSION) {
    throw bad(
      `apiVersion must be ${ADMISSION_API_VERSION}, not ${JSON.stringify(body['apiVersion'])}`,
    );
  }
  if (body['kind'] !== 'AdmissionReview') {
    throw bad(`kind must be AdmissionReview, not ${JSON.stringify(body['kind'])}`);
  }
  const request = body['request'];
  if (!isRecord(request)) throw bad('request is missing');
  if (typeof request['uid'] !== 'string' || request['uid'] === '')
    throw bad('request.uid is missing');
  const kind = request['kind'];
  if (!isRecord(kind) || typeof kind['kind'] !== 'string') throw bad('request.kind is missing');
  if (typeof request['operation'] !== 'string') throw bad('request.operation is missing');
  return request as unknown as AdmissionRequest;
}

/**
 * The subresource through which `kubectl debug` adds ephemeral containers to a running Pod. An
 * UPDATE through it may change `spec.ephemeralContainers` and nothing else: the API server
 * refuses a patch touching any other field, so only those images are checked and pinned.
 */
export const EPHEMERAL_CONTAINERS_SUBRESOURCE = 'ephemeralcontainers';

/**
 * Whether a request's object is one this webhook checks (kind, operation, subresource). Of the
 * subresources only `ephemeralcontainers` can change images; the others (`status`, `binding`,
 * …) are not checked, since a patch of their object's images would be refused or ignored.
 */
export function checksRequest(request: AdmissionRequest): boolean {
  return (
    (request.operation === 'CREATE' || request.operation === 'UPDATE') &&
    hasPodSpec(request.kind.kind) &&
    request.object !== undefined &&
    (request.subResource === undefined ||
      request.subResource === '' ||
      request.subResource === EPHEMERAL_CONTAINERS_SUBRESOURCE)
  );
}

/**
 * The images a request may change: every image of its object, or on the `ephemeralcontainers`
 * subresource only those of the ephemeral containers it adds. The Pod's other containers
 * cannot change there and were checked when the Pod was admitted; an ephemeral container
 * already in `oldObject` (same name, same image) cannot change either (the API server refuses
 * any change to an existing one) and was checked when it was added.
 */
export function requestImages(request: AdmissionRequest): ImageSite[] {
  if (!checksRequest(request)) return [];
  const sites = imageSites(request.kind.kind, request.object);
  if (request.subResource !== EPHEMERAL_CONTAINERS_SUBRESOURCE) return sites;
  const existing = new Set(
    imageSites(request.kind.kind, request.oldObject)
      .filter((site) => site.list === 'ephemeralContainers')
      .map((site) => `${site.container}\n${site.image}`),
  );
  return sites.filter(
    (site) =>
      site.list === 'ephemeralContainers' && !existing.has(`${site.container}\n${site.image}`),
  );
}

/** `Pod/default/web` for messages and logs. */
export function describeObject(request: AdmissionRequest): string {
  const name =
    request.name ??
    (isRecord(request.object) && isRecord(request.object['metadata'])
      ? String(
          request.object['metadata']['name'] ?? request.object['metadata']['generateName'] ?? '',
        )
      : '');
  return `${request.kind.kind}/${request.namespace !== undefined ? `${request.namespace}/` : ''}${name}`;
}

/** `name@digest`: the image as written, its tag replaced by the verified digest. */
export function pinnedImage(image: string, digest: string): string {
  const at = image.indexOf('@');
  let name = at === -1 ? image : image.slice(0, at);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) name = name.slice(0, colon);
  return `${name}@${digest}`;
}

/** One line per refused image: `containers[web] nginx:1.25: unsigned: …`. */
export function refusalMessage(
  request: AdmissionRequest,
  refused: readonly { readonly site: ImageSite; readonly check: ImageCheck }[],
): string {
  const lines = refused.map(
    ({ site, check }) =>
      `${site.list}[${site.container}] ${site.image}${check.digest !== undefined && !site.image.includes('@') ? ` (${check.digest})` : ''}: ${check.error!.code}: ${check.error!.message}`,
  );
  return `nv2 refused ${describeObject(request)}: ${refused.length} image${refused.length === 1 ? '' : 's'} failed verification: ${lines.join('; ')}`;
}

/** The response document for `response`. */
export function reviewResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

/** Kubernetes shows warnings up to this length; longer ones are cut, so cut them sensibly here. */
export const MAX_WARNING_LENGTH = 256;

export function warningText(text: string): string {
  return text.length <= MAX_WARNING_LENGTH ? text : `${text.slice(0, MAX_WARNING_LENGTH - 1)}…`;
}
