import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { InvalidInputError, VerificationInconclusiveError, isNv2Error } from '../errors.js';
import type { ImageCheck, ImageChecks } from './checks.js';
import { parseProviderRequest, providerItem, providerResponse } from './provider.js';
import {
  type AdmissionRequest,
  type AdmissionResponse,
  type PatchOperation,
  checksRequest,
  describeObject,
  parseAdmissionReview,
  pinnedImage,
  refusalMessage,
  requestImages,
  reviewResponse,
  warningText,
} from './review.js';

/** Largest request body read: AdmissionReviews carry whole objects (etcd's limit is 1.5 MiB). */
export const MAX_REVIEW_BYTES = 4 * 1024 * 1024;

/** How long one review may take by default: Kubernetes' webhook timeout is 10 s. */
export const DEFAULT_DEADLINE_MS = 8_000;

/** One structured log line: a decision, or a server event. */
export type LogEntry = Readonly<Record<string, unknown>>;

/** Options of `createAdmissionHandler`. */
export interface AdmissionHandlerOptions {
  readonly checks: ImageChecks;
  /**
   * Namespaces never checked. AdmissionReviews carry the namespace's name but not its labels,
   * so exclusion by label is the webhook configuration's `namespaceSelector`; this is the
   * server-side backstop by name (the webhook's own namespace, kube-system).
   */
  readonly excludedNamespaces?: readonly string[];
  /** How long verifying one request's images may take (default `DEFAULT_DEADLINE_MS`). */
  readonly deadlineMs?: number;
  /** Receives one entry per decision. */
  readonly log?: (entry: LogEntry) => void;
  /** Whether the server is ready (TLS and trust policy loaded); default always. */
  readonly ready?: () => boolean;
}

/** A request handler for `node:http`/`node:https`, with its metrics. */
export interface AdmissionHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** The Prometheus registry served at `/metrics`. */
  readonly metrics: Registry;
}

type Endpoint = 'validate' | 'mutate' | 'provider';

function createMetrics(): {
  registry: Registry;
  reviews: Counter<'endpoint' | 'decision'>;
  duration: Histogram<'endpoint'>;
  images: Counter<'result' | 'cache'>;
} {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'nv2_admission_' });
  return {
    registry,
    reviews: new Counter({
      name: 'nv2_admission_reviews_total',
      help: 'Admission decisions, by endpoint and decision (allowed, denied, skipped, error)',
      labelNames: ['endpoint', 'decision'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'nv2_admission_review_duration_seconds',
      help: 'Time to answer a review or provider request',
      labelNames: ['endpoint'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    images: new Counter({
      name: 'nv2_admission_image_verifications_total',
      help: 'Image verdicts, by result (verified, refused, inconclusive) and cache (hit, miss)',
      labelNames: ['result', 'cache'],
      registers: [registry],
    }),
  };
}

function tooLarge(): InvalidInputError {
  return new InvalidInputError(
    'NV2_ERR_FILE_TOO_LARGE',
    `request body larger than ${MAX_REVIEW_BYTES} bytes`,
  );
}

/**
 * Reads the JSON body, bounded by `MAX_REVIEW_BYTES`: a declared `Content-Length` over it is
 * refused before reading, a streamed body as soon as it passes it (answered 413; Node discards
 * the rest of the body after the answer).
 */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_REVIEW_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > MAX_REVIEW_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', 'the request body is not JSON');
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Whether a signature of the image verified: one did under an enforcing level (`strict`,
 * `permissive`), or under `audit` with nothing logged against it. An image `audit` let through
 * unsigned or with an untrusted signature, or one `skip` never looked at, was not verified.
 */
function signatureVerified(check: ImageCheck): boolean {
  if (check.error !== undefined || check.signer === undefined) return false;
  return check.level !== 'audit' || check.warnings.length === 0;
}

/** The warning for an admitted image named by tag: the tag may move before the pull. */
function tagWarning(check: ImageCheck): string {
  const what = signatureVerified(check)
    ? `nv2 verified ${check.digest!}`
    : `it names ${check.digest!}, admitted without a verified signature${check.policy !== undefined ? ` (${check.level ?? 'its'} policy "${check.policy}")` : ''}`;
  return `${check.image} is named by tag: ${what}, and the tag may move before the pull; pin the digest`;
}

function imageLog(check: ImageCheck): LogEntry {
  return {
    image: check.image,
    ...(check.digest !== undefined ? { digest: check.digest } : {}),
    ...(check.signer !== undefined ? { signer: check.signer } : {}),
    ...(check.policy !== undefined ? { policy: check.policy, level: check.level } : {}),
    ...(check.warnings.length > 0 ? { warnings: check.warnings } : {}),
    cached: check.cached,
    ...(check.error !== undefined ? { error: check.error.code, reason: check.error.message } : {}),
  };
}

/**
 * The admission server's routes: `POST /validate` and `POST /mutate` (AdmissionReview v1),
 * `POST /provider` (Gatekeeper external data), `GET /healthz`, `/readyz` and `/metrics`.
 */
export function createAdmissionHandler(options: AdmissionHandlerOptions): AdmissionHandler {
  const excluded = new Set(options.excludedNamespaces ?? []);
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const log = options.log ?? (() => undefined);
  const ready = options.ready ?? (() => true);
  const metrics = createMetrics();

  const checkAll = async (images: readonly string[]): Promise<Map<string, ImageCheck>> => {
    const signal = AbortSignal.timeout(deadlineMs);
    const unique = [...new Set(images)];
    const checks = await Promise.all(unique.map((image) => options.checks.check(image, signal)));
    for (const check of checks) {
      metrics.images.inc({
        result:
          check.error === undefined
            ? 'verified'
            : check.error instanceof VerificationInconclusiveError
              ? 'inconclusive'
              : 'refused',
        cache: check.cached ? 'hit' : 'miss',
      });
    }
    return new Map(unique.map((image, i) => [image, checks[i]!]));
  };

  const review = async (
    endpoint: 'validate' | 'mutate',
    request: AdmissionRequest,
  ): Promise<{
    response: AdmissionResponse;
    entry: LogEntry;
  }> => {
    const base = {
      uid: request.uid,
      operation: request.operation,
      object: describeObject(request),
      dryRun: request.dryRun === true,
    };
    if (request.namespace !== undefined && excluded.has(request.namespace)) {
      return {
        response: { uid: request.uid, allowed: true },
        entry: { ...base, decision: 'skipped', reason: 'namespace excluded' },
      };
    }
    if (!checksRequest(request)) {
      return {
        response: { uid: request.uid, allowed: true },
        entry: { ...base, decision: 'skipped', reason: 'no pod spec to check' },
      };
    }
    const sites = requestImages(request);
    const checks = await checkAll(sites.map((s) => s.image));
    const refused = sites
      .map((site) => ({ site, check: checks.get(site.image)! }))
      .filter(({ check }) => check.error !== undefined);
    // The policy's findings name the signature, not the image: say which image they are about.
    const warnings = [
      ...new Set([...checks.values()].flatMap((c) => c.warnings.map((w) => `${c.image}: ${w}`))),
    ];
    if (endpoint === 'validate' && refused.length === 0) {
      // Without the mutating webhook, a tag checked now may name other bytes when the
      // kubelet pulls: say so, once per image.
      for (const image of new Set(sites.map((s) => s.image))) {
        if (!image.includes('@')) warnings.push(tagWarning(checks.get(image)!));
      }
    }
    const images = [...checks.values()].map(imageLog);
    if (refused.length > 0) {
      const message = refusalMessage(request, refused);
      return {
        response: {
          uid: request.uid,
          allowed: false,
          status: { code: 403, reason: 'Forbidden', message },
          ...(warnings.length > 0 ? { warnings: warnings.map(warningText) } : {}),
        },
        entry: { ...base, decision: 'denied', images },
      };
    }
    let patch: PatchOperation[] = [];
    if (endpoint === 'mutate') {
      patch = sites
        .filter((site) => !site.image.includes('@'))
        .map((site) => ({
          op: 'replace',
          path: site.pointer,
          value: pinnedImage(site.image, checks.get(site.image)!.digest!),
        }));
    }
    return {
      response: {
        uid: request.uid,
        allowed: true,
        ...(warnings.length > 0 ? { warnings: warnings.map(warningText) } : {}),
        ...(patch.length > 0
          ? {
              patchType: 'JSONPatch' as const,
              patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
            }
          : {}),
      },
      entry: {
        ...base,
        decision: 'allowed',
        images,
        ...(patch.length > 0 ? { patched: patch.length } : {}),
      },
    };
  };

  const provide = async (keys: readonly string[]): Promise<{ body: unknown; entry: LogEntry }> => {
    const checks = await checkAll(keys);
    const items = keys.map((key) => {
      const check = checks.get(key)!;
      return providerItem(
        check,
        check.digest !== undefined && check.error === undefined
          ? pinnedImage(key, check.digest)
          : undefined,
      );
    });
    const refused = items.filter((i) => i.error !== undefined).length;
    return {
      body: providerResponse(items),
      entry: {
        decision: refused > 0 ? 'denied' : 'allowed',
        keys: keys.length,
        images: [...checks.values()].map(imageLog),
      },
    };
  };

  const handle = async (
    endpoint: Endpoint,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> => {
    const started = performance.now();
    const finish = (decision: string, entry: LogEntry): void => {
      const seconds = (performance.now() - started) / 1000;
      metrics.duration.observe({ endpoint }, seconds);
      metrics.reviews.inc({ endpoint, decision });
      log({
        time: new Date().toISOString(),
        level: decision === 'error' ? 'warn' : 'info',
        msg: 'admission decision',
        endpoint,
        decision,
        ...entry,
        durationMs: Math.round(seconds * 10_000) / 10,
      });
    };
    let body: unknown;
    try {
      body = await readJson(req);
      if (endpoint === 'provider') {
        const { body: answer, entry } = await provide(parseProviderRequest(body));
        finish(String(entry['decision']), entry);
        send(res, 200, answer);
        return;
      }
      const request = parseAdmissionReview(body);
      const { response, entry } = await review(endpoint, request);
      finish(String(entry['decision']), entry);
      send(res, 200, reviewResponse(response));
    } catch (err) {
      if (!isNv2Error(err)) throw err;
      const message = `${err.code}: ${err.message}`;
      finish('error', { error: err.code, reason: err.message });
      const status = err.code === 'NV2_ERR_FILE_TOO_LARGE' ? 413 : 400;
      if (endpoint === 'provider') send(res, status, providerResponse([], message));
      else send(res, status, { error: message });
    }
  };

  const handler = ((req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const route: Endpoint | undefined =
      path === '/validate'
        ? 'validate'
        : path === '/mutate'
          ? 'mutate'
          : path === '/provider'
            ? 'provider'
            : undefined;
    if (route !== undefined) {
      if (req.method !== 'POST') {
        res.writeHead(405, { Allow: 'POST' }).end();
        return;
      }
      handle(route, req, res).catch((err: unknown) => {
        log({
          time: new Date().toISOString(),
          level: 'error',
          msg: 'internal error',
          endpoint: route,
          decision: 'error',
          error: String(err),
        });
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
        else res.destroy();
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ok = ready();
      res
        .writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' })
        .end(ok ? 'ok\n' : 'not ready\n');
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text);
        },
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    }
  }) as AdmissionHandler;
  Object.defineProperty(handler, 'metrics', { value: metrics.registry });
  return handler;
}
