import type { OutgoingHttpHeaders } from 'node:http';
import { MAX_MANIFEST_BYTES, MediaTypes, isDigest } from '../../../oci/index.js';
import type { Descriptor, Digest } from '../../../oci/index.js';
import { ApiError } from '../errors.js';
import { contentLength, etagMatches } from '../request.js';
import { sendBytes, sendEmpty, sendHeaders } from '../respond.js';
import type { Handler, PatternParams } from '../handler.js';

type Params = PatternParams['/v2/<name>/manifests/<reference>'];

/**
 * `GET` and `HEAD /v2/<name>/manifests/<reference>` (end-3), by tag or digest: the exact bytes
 * pushed, with `Content-Type` (the media type pushed), `Content-Length`,
 * `Docker-Content-Digest` and an `ETag` (a matching `If-None-Match` is 304).
 *
 * Content negotiation follows distribution: an OCI manifest or index is served only to a
 * client that accepts its media type, else 404 MANIFEST_UNKNOWN ("OCI manifest found, but
 * accept header does not support OCI manifests"); Docker manifests and lists are served
 * whatever `Accept` says (distribution would rewrite a list fetched by tag for old clients;
 * this registry never rewrites). Unlike distribution, a request without `Accept`, or accepting
 * `*\/*` or `application/*`, gets any type (RFC 9110 §12.5.1).
 */
export const getManifest: Handler<Params> = async (ctx) => {
  const { name, reference } = ctx.params;
  let descriptor: Descriptor | undefined;
  let content: Buffer | undefined;
  const enforced = ctx.trust?.enforcementOf(name) !== undefined;
  if (ctx.req.method === 'HEAD' && !enforced) {
    descriptor = await ctx.store.manifests.stat(name, reference);
  } else {
    const stored = await ctx.store.manifests.get(name, reference);
    descriptor = stored?.descriptor;
    content = stored?.content;
    if (stored !== undefined && enforced) {
      const referrer = stored.subject !== undefined && !runsAsImage(stored.content);
      await enforce(ctx, stored.descriptor, stored.content, referrer);
    }
    if (ctx.req.method === 'HEAD') content = undefined;
  }
  if (descriptor === undefined) throw new ApiError('MANIFEST_UNKNOWN');
  const refusal = negotiateCached(ctx.req.headers.accept, descriptor.mediaType);
  if (refusal !== undefined) throw new ApiError('MANIFEST_UNKNOWN', { message: refusal });
  const headers = responseHeaders(descriptor);
  if (etagMatches(ctx.req, descriptor.digest)) {
    sendEmpty(ctx, 304, headers.entity);
    return;
  }
  if (content === undefined) {
    sendHeaders(ctx, 200, headers.withLength);
    return;
  }
  sendBytes(ctx, 200, content, headers.entity);
};

/**
 * Enforcement at pull (registry/trust/verdicts.ts): refuses content that does not pass the
 * trust policy with 403 DENIED and the reason, which docker, containerd and skopeo print.
 * Referrers that are not runnable images, and users who may push or sign in the repository,
 * are exempt; `audit` lets it through.
 */
async function enforce(
  ctx: Parameters<Handler<Params>>[0],
  descriptor: Descriptor,
  content: Buffer,
  hasSubject: boolean,
): Promise<void> {
  const digest = descriptor.digest;
  const { name } = ctx.params;
  // Who may put content into the repository (writer, signer, admin) may read all of it: one
  // reads back what one pushed, and must read unsigned content to sign it. A registry without
  // access control grants everything to everyone: nobody is exempt there.
  // The roles come from the rules, not from the token: a client resolving before it signs
  // asks for a pull token only.
  const user = ctx.grant.user;
  const roles = user !== undefined && ctx.auth !== undefined ? ctx.auth.grantFor(user) : ctx.grant;
  const mayBypass =
    user !== undefined && (roles.allows(name, 'sign') || roles.allows(name, 'push'));
  const children = INDEX_TYPES.has(descriptor.mediaType) ? childrenOf(content) : undefined;
  const decision = await ctx.trust!.decide(name, digest, {
    hasSubject,
    mayBypass,
    ...(children !== undefined ? { children } : {}),
  });
  if (decision === undefined) return;
  ctx.notes.enforcement = decision;
  if (decision.decision === 'deny') {
    throw new ApiError('DENIED', {
      message: `${name}@${digest} is refused by the registry's trust policy: ${decision.reason ?? decision.status}`,
      detail: { repository: name, digest, status: decision.status },
    });
  }
}

/** Config media types of runnable images: what docker and containerd run. */
const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

/**
 * Whether a manifest is an image a runtime would run (its config is an image config). A
 * referrer exempt from enforcement must not be one: otherwise setting `subject` on an
 * unsigned image would carry it past enforcement.
 */
function runsAsImage(content: Buffer): boolean {
  try {
    const doc = JSON.parse(content.toString('utf8')) as { config?: { mediaType?: unknown } };
    const type = doc.config?.mediaType;
    return typeof type === 'string' && IMAGE_CONFIG_TYPES.has(type);
  } catch {
    return false;
  }
}

const INDEX_TYPES: ReadonlySet<string> = new Set([
  MediaTypes.ociIndex,
  MediaTypes.dockerManifestList,
]);

/** The digests an index lists (the store validated it on push). */
function childrenOf(content: Buffer): Digest[] {
  try {
    const doc = JSON.parse(content.toString('utf8')) as { manifests?: unknown };
    if (!Array.isArray(doc.manifests)) return [];
    return doc.manifests.flatMap((m: unknown) => {
      const digest = (m as { digest?: unknown } | null)?.digest;
      return typeof digest === 'string' && isDigest(digest) ? [digest] : [];
    });
  } catch {
    return [];
  }
}

/** The response headers of a manifest, without and with its `Content-Length`. */
interface ManifestHeaders {
  readonly entity: OutgoingHttpHeaders;
  readonly withLength: OutgoingHttpHeaders;
}

/**
 * Headers built once per stored descriptor (the store shares one descriptor object per cached
 * manifest): a GET of a popular manifest formats nothing. Never modified (Node copies them).
 */
const headersByDescriptor = new WeakMap<Descriptor, ManifestHeaders>();

function responseHeaders(descriptor: Descriptor): ManifestHeaders {
  let headers = headersByDescriptor.get(descriptor);
  if (headers === undefined) {
    const entity = Object.freeze({
      'Content-Type': descriptor.mediaType,
      'Docker-Content-Digest': descriptor.digest,
      ETag: `"${descriptor.digest}"`,
    });
    headers = { entity, withLength: { ...entity, 'Content-Length': String(descriptor.size) } };
    headersByDescriptor.set(descriptor, headers);
  }
  return headers;
}

/** Answers of `negotiate` remembered, by Accept and media type (clients send few distinct ones). */
const negotiated = new Map<string, string | null>();
const NEGOTIATED_MAX = 1024;

/** `negotiate`, remembered. */
function negotiateCached(accept: string | undefined, mediaType: string): string | undefined {
  if (accept === undefined || NEGOTIATED[mediaType] === undefined) return undefined;
  const key = `${mediaType}\n${accept}`;
  let answer = negotiated.get(key);
  if (answer === undefined) {
    answer = negotiate(accept, mediaType) ?? null;
    if (negotiated.size >= NEGOTIATED_MAX) negotiated.clear();
    negotiated.set(key, answer);
  }
  return answer ?? undefined;
}

/** The OCI types distribution serves only on request, with its refusal message. */
const NEGOTIATED: Readonly<Record<string, string>> = {
  [MediaTypes.ociManifest]: 'OCI manifest found, but accept header does not support OCI manifests',
  [MediaTypes.ociIndex]: 'OCI index found, but accept header does not support OCI indexes',
};

/** Why `mediaType` cannot be served to a client sending `accept`; undefined when it can. */
function negotiate(accept: string | undefined, mediaType: string): string | undefined {
  const refusal = NEGOTIATED[mediaType];
  if (refusal === undefined || accept === undefined) return undefined;
  const ranges = accept
    .split(',')
    .map((entry) => {
      const [range = '', ...params] = entry.split(';').map((p) => p.trim());
      const q = params.find((p) => /^q=/i.test(p));
      return { range: range.toLowerCase(), q: q === undefined ? 1 : Number(q.slice(2)) };
    })
    .filter((entry) => entry.range !== '');
  if (ranges.length === 0) return undefined;
  const [type] = mediaType.split('/');
  const accepted = ranges.some(
    ({ range, q }) => q > 0 && (range === mediaType || range === '*/*' || range === `${type}/*`),
  );
  return accepted ? undefined : refusal;
}

/**
 * `PUT /v2/<name>/manifests/<reference>` (end-7): stores the body exactly as sent, under a tag
 * or its digest. 201 with `Location` (by digest), `Docker-Content-Digest` and, when the
 * manifest has a `subject`, `OCI-Subject` (telling the client this registry maintains the
 * referrers index, so it must not fall back to the referrers tag schema).
 *
 * The body is read into memory, bounded: more than `MAX_MANIFEST_BYTES` (4 MiB, what the spec
 * says registries should accept at least) is 413 with MANIFEST_INVALID, refused from
 * `Content-Length` before reading when declared, else as soon as the limit is passed. The
 * `Content-Type` parameters are dropped (the spec says registries should ignore them).
 */
export const putManifest: Handler<Params> = async (ctx) => {
  const { name, reference } = ctx.params;
  const declared = contentLength(ctx.req);
  if (declared !== undefined && declared > MAX_MANIFEST_BYTES) throw manifestTooLarge(declared);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of ctx.body) {
    total += chunk.byteLength;
    if (total > MAX_MANIFEST_BYTES) throw manifestTooLarge(undefined);
    chunks.push(chunk);
  }
  const content = Buffer.concat(chunks, total);
  // Only signers store signature artifacts, and besides them only referrers indexes under
  // referrers tags (the rule lives in registry/auth/grant.ts).
  await ctx.grant.checkManifestPush(
    name,
    { tag: ctx.params.digest === undefined ? reference : undefined },
    content,
    (repository, digest) => ctx.store.manifests.get(repository, digest),
  );
  const contentType = (ctx.req.headers['content-type'] ?? '').split(';')[0]!.trim();
  const stored = await ctx.store.manifests.put(name, reference, content, contentType);
  const digest = stored.descriptor.digest;
  // A new referrer (a signature, an SBOM) can change its subject's verdict.
  if (stored.subject !== undefined) ctx.trust?.referrersChanged(name, stored.subject.digest);
  sendEmpty(ctx, 201, {
    Location: `/v2/${name}/manifests/${digest}`,
    'Docker-Content-Digest': digest,
    ...(stored.subject !== undefined ? { 'OCI-Subject': stored.subject.digest } : {}),
  });
};

/**
 * 413 for an oversized manifest. The connection is closed after the answer, so that a client
 * streaming a huge body is not read to its end.
 */
function manifestTooLarge(declared: number | undefined): ApiError {
  return new ApiError('MANIFEST_INVALID', {
    status: 413,
    message: `manifest larger than ${MAX_MANIFEST_BYTES} bytes`,
    detail: { limit: MAX_MANIFEST_BYTES, ...(declared !== undefined ? { size: declared } : {}) },
    headers: { Connection: 'close' },
  });
}

/**
 * `DELETE /v2/<name>/manifests/<reference>` (end-9): by digest, the manifest, every tag
 * pointing at it and its entry in its subject's referrers; by tag, the tag only (v1.1). 202.
 */
export const deleteManifest: Handler<Params> = async (ctx) => {
  const { name, reference } = ctx.params;
  // The subject of a referrer being deleted gets a new verdict: read it first.
  const before =
    ctx.trust !== undefined && ctx.params.digest !== undefined
      ? await ctx.store.manifests.get(name, reference)
      : undefined;
  if (!(await ctx.store.manifests.delete(name, reference))) {
    throw new ApiError('MANIFEST_UNKNOWN');
  }
  if (before !== undefined) {
    ctx.trust!.forget(name, before.descriptor.digest);
    if (before.subject !== undefined) ctx.trust!.referrersChanged(name, before.subject.digest);
  }
  sendEmpty(ctx, 202);
};
