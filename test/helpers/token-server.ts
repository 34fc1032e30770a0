/**
 * Docker token authentication for tests, on real loopback servers:
 *
 * - `startTokenServer`: a token realm (distribution `docs/spec/auth/token.md`). GET with
 *   `service` and `scope` parameters, basic auth optional; POST with an OAuth2 refresh-token
 *   grant. Issues opaque tokens and remembers what each grants. Counts every request.
 * - `startAuthProxy`: a front for a registry that demands those tokens with the right scope
 *   (or basic auth), answering 401 with the challenge a registry would, and forwards the rest.
 *   It can redirect blob GETs to a "storage" origin of its own, to test that credentials do
 *   not follow redirects.
 */
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a token grants: repository → actions. */
export type Grants = Map<string, Set<string>>;

/** One request to the token server. */
export interface TokenRequestRecord {
  readonly method: string;
  /** The authenticated user; undefined when anonymous. */
  readonly user?: string;
  readonly grantType: 'basic' | 'anonymous' | 'refresh_token';
  readonly service?: string;
  readonly scopes: readonly string[];
  /** Whether a token was issued. */
  readonly issued: boolean;
}

/** Options of `startTokenServer`. */
export interface TokenServerOptions {
  /** user → password. */
  readonly users?: Readonly<Record<string, string>>;
  /** identity (refresh) token → user. */
  readonly identityTokens?: Readonly<Record<string, string>>;
  /** Repositories anyone may pull with an anonymous token. */
  readonly publicRepositories?: readonly string[];
  /** `expires_in` of issued tokens (seconds); omitted from responses when undefined. */
  readonly expiresIn?: number;
  /** The service name the realm expects. */
  readonly service?: string;
}

/** A running token server. */
export interface TokenServer {
  /** The realm: `http://127.0.0.1:PORT/token`. */
  readonly realm: string;
  readonly service: string;
  readonly requests: TokenRequestRecord[];
  /** Issued tokens and their grants. */
  readonly tokens: Map<string, Grants>;
  close(): Promise<void>;
}

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': bytes.length });
  res.end(bytes);
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `repository:NAME:a,b` → [NAME, [a, b]]; undefined for other scopes. */
export function parseScope(scope: string): [string, string[]] | undefined {
  const m = /^repository:([^:]+):(.*)$/.exec(scope);
  return m === null ? undefined : [m[1]!, m[2]!.split(',').filter((a) => a !== '')];
}

/** Starts a token server on 127.0.0.1:0. */
export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const service = options.service ?? 'nv2-test-registry';
  const requests: TokenRequestRecord[] = [];
  const tokens = new Map<string, Grants>();
  const users = options.users ?? {};
  const publicRepositories = new Set(options.publicRepositories ?? []);

  const issue = (
    res: ServerResponse,
    user: string | undefined,
    scopes: string[],
    field: string,
  ) => {
    const grants: Grants = new Map();
    for (const scope of scopes) {
      const parsed = parseScope(scope);
      if (parsed === undefined) continue;
      const [name, actions] = parsed;
      // Users get what they ask; anonymous callers get pull on public repositories only.
      const allowed = user !== undefined ? actions : publicRepositories.has(name) ? ['pull'] : [];
      const granted = grants.get(name) ?? new Set<string>();
      for (const a of actions) if (allowed.includes(a)) granted.add(a);
      grants.set(name, granted);
    }
    // Opaque to clients, JWT-shaped like real ones.
    const token = [
      Buffer.from('{"alg":"none"}').toString('base64url'),
      Buffer.from(JSON.stringify({ sub: user ?? '', scopes })).toString('base64url'),
      randomBytes(16).toString('base64url'),
    ].join('.');
    tokens.set(token, grants);
    sendJson(res, 200, {
      [field]: token,
      ...(options.expiresIn !== undefined ? { expires_in: options.expiresIn } : {}),
      issued_at: new Date().toISOString(),
    });
  };

  const server = await listen((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== '/token') {
        sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
        return;
      }
      if (req.method === 'POST') {
        const form = new URLSearchParams((await readAll(req)).toString('utf8'));
        const user = options.identityTokens?.[form.get('refresh_token') ?? ''];
        const scopes = (form.get('scope') ?? '').split(' ').filter((s) => s !== '');
        const record = {
          method: 'POST',
          grantType: 'refresh_token' as const,
          scopes,
          ...(form.get('service') !== null ? { service: form.get('service')! } : {}),
          ...(user !== undefined ? { user } : {}),
        };
        if (form.get('grant_type') !== 'refresh_token' || user === undefined) {
          requests.push({ ...record, issued: false });
          sendJson(res, 401, { error: 'invalid_grant' });
          return;
        }
        requests.push({ ...record, issued: true });
        issue(res, user, scopes, 'access_token');
        return;
      }
      const scopes = url.searchParams.getAll('scope');
      const serviceParam = url.searchParams.get('service');
      const auth = req.headers.authorization;
      let user: string | undefined;
      if (auth !== undefined) {
        const m = /^Basic (.+)$/.exec(auth);
        const decoded = m === null ? '' : Buffer.from(m[1]!, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        const name = decoded.slice(0, colon);
        if (colon <= 0 || users[name] !== decoded.slice(colon + 1)) {
          requests.push({
            method: 'GET',
            grantType: 'basic',
            scopes,
            issued: false,
            ...(serviceParam !== null ? { service: serviceParam } : {}),
          });
          res.setHeader('WWW-Authenticate', 'Basic realm="token"');
          sendJson(res, 401, {
            errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }],
          });
          return;
        }
        user = name;
      }
      requests.push({
        method: 'GET',
        grantType: user !== undefined ? 'basic' : 'anonymous',
        scopes,
        issued: true,
        ...(serviceParam !== null ? { service: serviceParam } : {}),
        ...(user !== undefined ? { user } : {}),
      });
      issue(res, user, scopes, 'token');
    })();
  });
  return { realm: `${server.url}/token`, service, requests, tokens, close: server.close };
}

/** One request the proxy saw. */
export interface ProxyRecord {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The Authorization header the storage origin received (redirected blob reads). */
  readonly storageAuthorization?: string;
}

/** Options of `startAuthProxy`. */
export interface AuthProxyOptions {
  /** The registry behind the proxy (`http://127.0.0.1:PORT`). */
  readonly upstream: string;
  /** `bearer`: docker token auth with `tokens`; `basic`: `users`. */
  readonly mode: 'bearer' | 'basic';
  readonly tokens?: TokenServer;
  readonly users?: Readonly<Record<string, string>>;
  /** Redirect blob GETs to a second origin ("storage"), which serves them without auth. */
  readonly redirectBlobs?: boolean;
}

/** A running auth proxy. */
export interface AuthProxy {
  readonly url: string;
  /** `127.0.0.1:PORT`, the registry name clients use. */
  readonly host: string;
  readonly records: ProxyRecord[];
  close(): Promise<void>;
}

/** The access a registry request needs (distribution's `appendAccessRecords`). */
function requiredAccess(method: string, path: string, query: URLSearchParams): [string, string][] {
  const m = /^\/v2\/(.+?)\/(manifests|blobs|tags|referrers)\//.exec(path);
  if (m === null) return [];
  const name = m[1]!;
  const access: [string, string][] = [];
  if (method === 'GET' || method === 'HEAD') access.push([name, 'pull']);
  else if (method === 'DELETE') access.push([name, 'delete']);
  else access.push([name, 'pull'], [name, 'push']);
  const from = query.get('from');
  if (method === 'POST' && from !== null) access.push([from, 'pull']);
  return access;
}

function forward(
  upstream: string,
  req: IncomingMessage,
  res: ServerResponse,
  onDone: (status: number) => void,
): void {
  const headers = { ...req.headers };
  delete headers['authorization'];
  delete headers['host'];
  const out = request(
    `${upstream}${req.url ?? '/'}`,
    { method: req.method ?? 'GET', headers },
    (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
      upstreamRes.on('end', () => onDone(upstreamRes.statusCode ?? 502));
    },
  );
  out.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
    onDone(502);
  });
  req.pipe(out);
}

/** Starts an authenticating front for `upstream` on 127.0.0.1:0. */
export async function startAuthProxy(options: AuthProxyOptions): Promise<AuthProxy> {
  const records: ProxyRecord[] = [];
  const storage = await listen((req, res) => {
    const auth = req.headers.authorization;
    forward(options.upstream, req, res, (status) =>
      records.push({
        method: req.method ?? '',
        path: `storage:${new URL(req.url ?? '/', 'http://x').pathname}`,
        status,
        ...(auth !== undefined ? { storageAuthorization: auth } : {}),
      }),
    );
  });
  const front = await listen((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const record = (status: number) => records.push({ method, path: url.pathname, status });
    const access = requiredAccess(method, url.pathname, url.searchParams);
    const auth = req.headers.authorization ?? '';
    let allowed: boolean;
    let challenge: string;
    if (options.mode === 'basic') {
      const m = /^Basic (.+)$/.exec(auth);
      const decoded = m === null ? '' : Buffer.from(m[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      allowed =
        colon > 0 && (options.users ?? {})[decoded.slice(0, colon)] === decoded.slice(colon + 1);
      challenge = 'Basic realm="nv2 test registry"';
    } else {
      const tokens = options.tokens!;
      const m = /^Bearer (.+)$/.exec(auth);
      const grants = m === null ? undefined : tokens.tokens.get(m[1]!);
      allowed =
        grants !== undefined &&
        access.every(([name, action]) => grants.get(name)?.has(action) === true);
      const wanted = new Map<string, string[]>();
      for (const [name, action] of access) wanted.set(name, [...(wanted.get(name) ?? []), action]);
      const scope = [...wanted].map(([name, actions]) => `repository:${name}:${actions.join(',')}`);
      challenge =
        `Bearer realm="${tokens.realm}",service="${tokens.service}"` +
        (scope.length > 0 ? `,scope="${scope.join(' ')}"` : '') +
        (grants !== undefined ? ',error="insufficient_scope"' : '');
    }
    if (!allowed) {
      req.resume();
      res.setHeader('WWW-Authenticate', challenge);
      sendJson(res, 401, {
        errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: access }],
      });
      record(401);
      return;
    }
    if (
      options.redirectBlobs === true &&
      method === 'GET' &&
      /^\/v2\/.+\/blobs\/sha256:[a-f0-9]{64}$/.test(url.pathname)
    ) {
      req.resume();
      res.writeHead(307, { Location: `${storage.url}${url.pathname}` });
      res.end();
      record(307);
      return;
    }
    forward(options.upstream, req, res, record);
  });
  return {
    url: front.url,
    host: new URL(front.url).host,
    records,
    async close() {
      await front.close();
      await storage.close();
    },
  };
}
