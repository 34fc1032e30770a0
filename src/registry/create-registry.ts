import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ErrorCode } from '../oci/index.js';
import { isRepositoryName } from '../oci/index.js';
import { ApiError, writeError } from './api/errors.js';
import { countedBody } from './api/request.js';
import type { HandlerContext, Meter, RequestNotes } from './api/handler.js';
import type { RawParams } from './api/params.js';
import type { AnyRoute } from './api/routes.js';
import { validateParams } from './api/params.js';
import { matchRoute } from './api/routes.js';
import type { AccessControl } from './auth/access.js';
import type { AuthState, Need } from './auth/challenge.js';
import { Grant } from './auth/grant.js';
import type { RegistryStore } from './storage/store.js';
import type { EnforcementDecision, RegistryTrust } from './trust/verdicts.js';
import { RegistryUi } from './ui/ui.js';

/** One finished request, as the server face logs it and counts it in metrics. */
export interface RequestRecord {
  readonly method: string;
  /** The path as requested, without the query string (which may carry anything). */
  readonly path: string;
  /** The route name (`manifest`, `blob-upload-chunk`, …), when the path is an endpoint. */
  readonly route?: string;
  /**
   * The status sent; 499 when the client went away before any response was sent (the
   * convention nginx uses for it).
   */
  readonly status: number;
  /** Request body bytes the registry read. */
  readonly bytesIn: number;
  /** Response body bytes the registry wrote (0 for HEAD). */
  readonly bytesOut: number;
  readonly durationMs: number;
  /** The distribution-spec code of an error response. */
  readonly errorCode?: string;
  /** The authenticated user (basic credentials, or the subject of a token). */
  readonly user?: string;
  /**
   * Why access control refused credentials, a token or access (`wrong password for user
   * alice`, `token refused: expired`, `insufficient scope: …`). Never holds a secret.
   */
  readonly authFailure?: string;
  /** What enforcement at pull decided, for a manifest GET or HEAD of an enforced repository. */
  readonly enforcement?: EnforcementDecision;
  /**
   * The failure behind a 5xx (or a stream broken after the response started), for the logs.
   * Clients never see it: it may name storage paths.
   */
  readonly cause?: unknown;
}

/** Options of `createRegistry`. */
export interface CreateRegistryOptions {
  /** Where content lives (`createStore(driver)`). */
  readonly store: RegistryStore;
  /**
   * Called once per finished request (answered, failed or abandoned by the client). Errors it
   * throws are ignored: observing a request must not break serving it.
   */
  readonly onRequest?: (record: RequestRecord) => void;
  /**
   * Access control (`createAccessControl`): users, roles, token or basic auth, and the signer
   * rule. Without it every request may do everything.
   */
  readonly auth?: AccessControl;
  /**
   * The trust policy judgement (`createRegistryTrust`): verdicts kept fresh as referrers are
   * pushed and deleted, and enforcement at pull for the repositories its rules name.
   */
  readonly trust?: RegistryTrust;
  /**
   * Serve the web UI under `/ui/` (pages of repositories, tags, artifacts with their
   * referrers and trust verdicts; sign-in with the users of `auth`). Default false; the
   * `nv2 registry serve` face turns it on unless its config says `ui: false`.
   */
  readonly ui?: boolean;
}

/** The API version header distribution sets on every response; clients check it on `/v2/`. */
const API_VERSION_HEADER = 'Docker-Distribution-API-Version';

/**
 * Creates the registry's request handler: an OCI distribution-spec v1.1 registry (pull, push,
 * content discovery with the referrers API, content management) over `store`, plus
 * `GET /healthz`. It does not listen: the caller puts it in an `http.createServer` (or
 * `https`), as the CLI's `registry serve` does, and tests do on 127.0.0.1:0.
 *
 * @example
 * import { createServer } from 'node:http';
 * import { createMemoryDriver, createRegistry, createStore } from 'nv2/registry';
 *
 * const server = createServer(createRegistry({ store: createStore(createMemoryDriver()) }));
 * server.listen(5000, '127.0.0.1');
 */
export function createRegistry(
  options: CreateRegistryOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { store, onRequest, auth, trust } = options;
  const ui =
    options.ui === true
      ? new RegistryUi({
          store,
          ...(auth !== undefined ? { auth } : {}),
          ...(trust !== undefined ? { trust } : {}),
        })
      : undefined;
  return (req, res) => {
    void serve(store, auth, trust, ui, req, res, onRequest);
  };
}

async function serve(
  store: RegistryStore,
  auth: AccessControl | undefined,
  trust: RegistryTrust | undefined,
  ui: RegistryUi | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  onRequest: ((record: RequestRecord) => void) | undefined,
): Promise<void> {
  const started = performance.now();
  const method = req.method ?? 'GET';
  const { path, query } = splitUrl(req.url ?? '/');
  const meter: Meter = { bytesIn: 0, bytesOut: 0 };
  let routeName: string | undefined;
  let errorCode: ErrorCode | undefined;
  let cause: unknown;
  const authState: AuthState = {};
  const notes: RequestNotes = {};

  // A client that goes away makes these streams error; the handler in flight sees it through
  // its own reads and writes, so the events themselves need nothing more than a listener
  // (without one, the error would be thrown at the process).
  req.on('error', () => undefined);
  res.on('error', () => undefined);
  // The record is made when the response closes, once it has ended normally; a response that
  // closed before it ended (a blob stream that failed half-way, a client that went away) is
  // recorded when the handler has settled too, because on Node 22 and later it closes before
  // the handler's error path has run, and the record must carry that error. The status is the
  // one at closing: a client that went away before any response was sent is 499, and what the
  // handler then fails on (its request gone) is no error of the registry.
  let closedWith: number | undefined;
  let settled = false;
  let recorded = false;
  const record = (): void => {
    if (onRequest === undefined || closedWith === undefined || recorded) return;
    recorded = true;
    const abandoned = closedWith === 499;
    const entry: RequestRecord = {
      method,
      path,
      ...(routeName !== undefined ? { route: routeName } : {}),
      status: closedWith,
      bytesIn: meter.bytesIn,
      bytesOut: meter.bytesOut,
      durationMs: performance.now() - started,
      ...(errorCode !== undefined && !abandoned ? { errorCode } : {}),
      ...(authState.user !== undefined ? { user: authState.user } : {}),
      ...(authState.failure !== undefined ? { authFailure: authState.failure } : {}),
      ...(notes.enforcement !== undefined ? { enforcement: notes.enforcement } : {}),
      ...(cause !== undefined && !abandoned ? { cause } : {}),
    };
    try {
      onRequest(entry);
    } catch {
      // Observers must not break serving; see CreateRegistryOptions.onRequest.
    }
  };
  res.once('close', () => {
    closedWith = res.headersSent ? res.statusCode : 499;
    if (settled || res.writableFinished) record();
  });

  res.setHeader(API_VERSION_HEADER, 'registry/2.0');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  let route: AnyRoute | undefined;
  if (ui !== undefined && (path === '/ui' || path.startsWith('/ui/'))) {
    routeName = 'ui';
    try {
      await ui.serve(req, res, path, query, authState, meter);
    } catch (err) {
      cause = err;
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('internal error\n');
      } else {
        res.destroy();
      }
    } finally {
      if (!req.complete) req.resume();
    }
    return;
  }
  try {
    const match = matchRoute(method, path);
    if (match.kind === 'not-found') {
      throw new ApiError('UNSUPPORTED', { status: 404, message: 'no such endpoint' });
    }
    if (match.kind === 'method-not-allowed') {
      routeName = match.name;
      throw new ApiError('UNSUPPORTED', {
        message: `method ${method} not allowed`,
        headers: { Allow: match.allowed.join(', ') },
      });
    }
    route = match.route;
    routeName = route.name;
    const params = validateParams(route.pattern, match.raw, route.method);
    let grant = Grant.unrestricted;
    const needs = needsOf(route, params);
    if (auth !== undefined && needs.length > 0) {
      grant = await auth.authorize(req, needs, authState);
      // A mount reads the source repository: without pull there it is ignored and a plain
      // upload session starts, so the answer says nothing about the source (end-11 allows it).
      const from = query.get('from');
      if (route.name === 'blob-upload' && from !== null && query.has('mount')) {
        if (!isRepositoryName(from) || !grant.allows(from, 'pull')) {
          query.delete('mount');
          query.delete('from');
        }
      }
    }
    await invoke(route, params, {
      req,
      res,
      store,
      query,
      body: countedBody(req, meter),
      meter,
      grant,
      auth,
      authState,
      trust,
      notes,
    });
  } catch (err) {
    const written = writeError(res, err, {
      ...(route?.notFound !== undefined ? { notFound: route.notFound } : {}),
      head: method === 'HEAD',
    });
    errorCode = written.code;
    cause = written.cause;
    meter.bytesOut += written.bytes;
  } finally {
    // A body the handler stopped reading (a refused chunk, an oversized manifest) is drained so
    // that the connection can carry the next request; Node only does this by itself for bodies
    // nobody started to read.
    if (!req.complete) req.resume();
    settled = true;
    record();
  }
}

/** Runs the handler with validated parameters (the one place the union is cast). */
function invoke(
  route: AnyRoute,
  params: unknown,
  ctx: Omit<HandlerContext<unknown>, 'params'>,
): Promise<void> {
  return (route.handler as (ctx: HandlerContext<unknown>) => Promise<void>)({ ...ctx, params });
}

/** What a route needs of access control, from its `access` and its repository. */
function needsOf(route: AnyRoute, params: unknown): Need[] {
  const name = (params as Partial<RawParams>).name;
  switch (route.access) {
    case 'none':
      return [];
    case 'authenticate':
      return [{ type: 'authenticated' }];
    case 'catalog':
      return [{ type: 'catalog' }];
    default:
      return [{ type: 'repository', name: name!, action: route.access }];
  }
}

/**
 * The path and query of a request target. The path is kept as sent (segments are decoded by
 * the router); an absolute-form target (`GET http://host/v2/`, from proxies) is reduced to its
 * path.
 */
function splitUrl(target: string): { path: string; query: URLSearchParams } {
  let rest = target;
  if (/^https?:\/\//i.test(rest)) {
    const slash = rest.indexOf('/', rest.indexOf('//') + 2);
    rest = slash === -1 ? '/' : rest.slice(slash);
  }
  const q = rest.indexOf('?');
  return q === -1
    ? { path: rest, query: new URLSearchParams() }
    : { path: rest.slice(0, q), query: new URLSearchParams(rest.slice(q + 1)) };
}
