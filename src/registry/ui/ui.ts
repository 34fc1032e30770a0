import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  CREATED_ANNOTATION,
  type Descriptor,
  type Digest,
  MediaTypes,
  isDigest,
  isRepositoryName,
} from '../../oci/index.js';
import { ApiError } from '../api/errors.js';
import type { Meter } from '../api/handler.js';
import type { AccessControl } from '../auth/access.js';
import type { AuthState } from '../auth/challenge.js';
import { Grant } from '../auth/grant.js';
import type { RegistryStore } from '../storage/store.js';
import type {
  RegistryTrust,
  SignatureFinding,
  TrustStatus,
  TrustVerdict,
} from '../trust/verdicts.js';
import { ASSETS } from './assets.js';
import { Html, type Interpolation, html, pathOf } from './html.js';
import { SESSION_COOKIE, SESSION_LIFETIME_MS, Sessions, cookieValue } from './sessions.js';

/**
 * The registry's web UI, under `/ui/`: server-rendered pages (repositories with search, a
 * repository's tags with trust badges, an artifact with its manifest, referrer tree and
 * signature verdicts), sign-in with the registry's users, and two static assets. It only
 * reads: every page is a GET; the sign-in and sign-out POSTs are guarded by SameSite=Strict
 * cookies and an Origin check. A page shows only what its viewer may pull.
 */

/** Options of the UI. */
export interface UiOptions {
  readonly store: RegistryStore;
  readonly auth?: AccessControl;
  readonly trust?: RegistryTrust;
  /** The clock (ms since the epoch); for tests. */
  readonly now?: () => number;
}

/** Most repositories listed on one page of the repository list. */
const MAX_REPOSITORIES = 1000;

/** Most tags read for one repository page (pages past it say so). */
const MAX_TAGS = 5000;

/** Levels of the referrer tree followed (subject → SBOM → its signature, and deeper). */
const MAX_TREE_DEPTH = 8;

/** Most referrers shown in one artifact's tree. */
const MAX_TREE_NODES = 2000;

/** Most bytes of a sign-in form read. */
const MAX_FORM_BYTES = 8 * 1024;

/** Image config blobs read for the age column are at most this large. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Facts of manifests kept (content-addressed: they never change). */
const MAX_FACTS = 50_000;

const CSP =
  "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Headers of every UI response. */
const COMMON_HEADERS = {
  'Content-Security-Policy': CSP,
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

const SIGNATURE_TYPES: ReadonlySet<string> = new Set([
  MediaTypes.nv2ArtifactType,
  MediaTypes.notationSignature,
]);

const INDEX_TYPES: ReadonlySet<string> = new Set([
  MediaTypes.ociIndex,
  MediaTypes.dockerManifestList,
]);

/** What the UI shows of a manifest. */
interface ManifestView {
  readonly mediaType: string;
  readonly size: number;
  /** Config plus layers of an image; sum of children of an index. */
  readonly totalSize: number;
  readonly artifactType?: string;
  readonly config?: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly manifests: readonly (Descriptor & { platform?: Record<string, unknown> })[];
  readonly subject?: Descriptor;
  /** The image's creation time (config `created`, else the `created` annotation). */
  readonly created?: Date;
}

/** A request the UI serves. */
interface UiRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly state: AuthState;
  readonly meter: Meter;
  readonly grant: Grant;
  readonly user: string | undefined;
  readonly sessionId: string | undefined;
}

function isDescriptorLike(value: unknown): value is Descriptor {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as Record<string, unknown>;
  return (
    typeof d['mediaType'] === 'string' &&
    typeof d['digest'] === 'string' &&
    typeof d['size'] === 'number'
  );
}

function parseDate(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function formatAge(date: Date | undefined, now: number): string {
  if (date === undefined) return '';
  const s = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (s < 60) return `${s} seconds ago`;
  if (s < 3600) return `${Math.round(s / 60)} minutes ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} hours ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  return `${digest.slice(0, colon + 1)}${digest.slice(colon + 1, colon + 13)}`;
}

/** People's words for each status. */
const STATUS_LABELS: Readonly<Record<TrustStatus, string>> = {
  verified: 'verified',
  unsigned: 'unsigned',
  untrusted: 'untrusted signer',
  invalid: 'invalid',
  expired: 'expired',
  unreadable: 'unreadable',
  skipped: 'not checked',
  'no-policy': 'no policy',
  error: 'error',
};

function badge(status: TrustStatus): Html {
  return html`<span class="badge ${status}" data-status="${status}"
    >${STATUS_LABELS[status]}</span
  >`;
}

/** The web UI. */
export class RegistryUi {
  readonly #store: RegistryStore;
  readonly #auth: AccessControl | undefined;
  readonly #trust: RegistryTrust | undefined;
  readonly #now: () => number;
  readonly #sessions: Sessions;
  readonly #facts = new Map<string, Promise<ManifestView | undefined>>();

  constructor(options: UiOptions) {
    this.#store = options.store;
    this.#auth = options.auth;
    this.#trust = options.trust;
    this.#now = options.now ?? Date.now;
    this.#sessions = new Sessions(this.#now);
  }

  /**
   * Serves a request for `/ui` or below. Errors are thrown to the caller, which answers 500
   * and logs the cause.
   */
  async serve(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
    state: AuthState,
    meter: Meter,
  ): Promise<void> {
    const sessionId = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const user = this.#auth !== undefined ? this.#sessions.user(sessionId) : undefined;
    if (user !== undefined) state.user = user;
    const grant = this.#auth === undefined ? Grant.unrestricted : this.#auth.grantFor(user);
    const ui: UiRequest = { req, res, path, query, state, meter, grant, user, sessionId };
    const method = req.method ?? 'GET';
    if (path === '/ui') return this.#redirect(ui, '/ui/');
    if (path === '/ui/sign-in' && method === 'POST') return this.#signIn(ui);
    if (path === '/ui/sign-out' && method === 'POST') return this.#signOut(ui);
    if (method !== 'GET' && method !== 'HEAD') {
      return this.#send(ui, 405, this.#page(ui, 'Not allowed', html`<p>Method not allowed.</p>`), {
        Allow: 'GET, HEAD',
      });
    }
    if (path.startsWith('/ui/static/')) return this.#asset(ui, path.slice('/ui/static/'.length));
    if (path === '/ui/') return this.#repositories(ui);
    if (path === '/ui/sign-in') return this.#signInForm(ui, undefined);
    if (path.startsWith('/ui/repo/'))
      return this.#repository(ui, decodePath(path.slice('/ui/repo/'.length)));
    if (path.startsWith('/ui/artifact/')) {
      const rest = decodePath(path.slice('/ui/artifact/'.length));
      const at = rest?.lastIndexOf('@') ?? -1;
      if (rest !== undefined && at > 0)
        return this.#artifact(ui, rest.slice(0, at), rest.slice(at + 1));
    }
    return this.#notFound(ui);
  }

  // ---------------------------------------------------------------- responses

  #send(
    ui: UiRequest,
    status: number,
    page: Html,
    headers: Record<string, string | string[]> = {},
  ): void {
    const body = Buffer.from(page.text);
    ui.res.writeHead(status, {
      ...COMMON_HEADERS,
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': String(body.byteLength),
      ...headers,
    });
    if (ui.req.method === 'HEAD') {
      ui.res.end();
      return;
    }
    ui.meter.bytesOut += body.byteLength;
    ui.res.end(body);
  }

  #redirect(
    ui: UiRequest,
    location: string,
    headers: Record<string, string | string[]> = {},
  ): void {
    ui.res.writeHead(303, {
      ...COMMON_HEADERS,
      Location: location,
      'Content-Length': '0',
      ...headers,
    });
    ui.res.end();
  }

  #asset(ui: UiRequest, name: string): void {
    const asset = ASSETS.get(name);
    if (asset === undefined) return this.#notFound(ui);
    const headers = {
      ...COMMON_HEADERS,
      'Cache-Control': 'no-cache',
      'Content-Type': asset.contentType,
      ETag: asset.etag,
    };
    if (ui.req.headers['if-none-match'] === asset.etag) {
      ui.res.writeHead(304, headers);
      ui.res.end();
      return;
    }
    ui.res.writeHead(200, { ...headers, 'Content-Length': String(asset.body.byteLength) });
    if (ui.req.method === 'HEAD') {
      ui.res.end();
      return;
    }
    ui.meter.bytesOut += asset.body.byteLength;
    ui.res.end(asset.body);
  }

  #notFound(ui: UiRequest, what = 'Nothing is here.'): void {
    const hint =
      this.#auth !== undefined && ui.user === undefined
        ? html` <a href="/ui/sign-in">Sign in</a> to see what your account may pull.`
        : '';
    this.#send(
      ui,
      404,
      this.#page(
        ui,
        'Not found',
        html`<h1>Not found</h1>
          <p>${what}${hint}</p>`,
      ),
    );
  }

  #page(ui: UiRequest, title: string, body: Html): Html {
    let who: Interpolation = '';
    if (this.#auth !== undefined) {
      who =
        ui.user !== undefined
          ? html`<span class="who"
              ><span>Signed in as <strong id="user">${ui.user}</strong></span>
              <form method="post" action="/ui/sign-out">
                <button type="submit" id="sign-out">Sign out</button>
              </form></span
            >`
          : html`<span class="who"><a href="/ui/sign-in" id="sign-in">Sign in</a></span>`;
    }
    return html`<!doctype html>
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>${title} · nv2 registry</title>
          <link rel="stylesheet" href="/ui/static/style.css" />
          <script src="/ui/static/ui.js" defer></script>
        </head>
        <body>
          <header><a class="brand" href="/ui/">nv2 registry</a>${who}</header>
          <main>${body}</main>
        </body>
      </html> `;
  }

  // ---------------------------------------------------------------- sign-in

  /**
   * Whether a POST comes from a page of this registry: its `Origin` (or, without one, its
   * `Referer`) must be this server. With SameSite=Strict cookies this closes cross-site
   * request forgery, login CSRF included.
   */
  #sameOrigin(req: IncomingMessage): boolean {
    const scheme = (req.socket as TLSSocket).encrypted === true ? 'https' : 'http';
    const host = req.headers.host;
    if (host === undefined) return false;
    const expected = `${scheme}://${host}`;
    const origin = req.headers.origin;
    if (origin !== undefined) return origin === expected;
    const referer = req.headers.referer;
    return referer !== undefined && (referer === expected || referer.startsWith(`${expected}/`));
  }

  #cookie(ui: UiRequest, value: string, maxAgeSeconds: number): string {
    const secure = (ui.req.socket as TLSSocket).encrypted === true ? '; Secure' : '';
    return `${SESSION_COOKIE}=${value}; Path=/ui/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
  }

  #signInForm(ui: UiRequest, error: string | undefined, status = 200): void {
    if (this.#auth === undefined) return this.#redirect(ui, '/ui/');
    const body = html`<h1>Sign in</h1>
      ${error !== undefined ? html`<p class="error" id="sign-in-error">${error}</p>` : ''}
      <form class="signin card" method="post" action="/ui/sign-in">
        <label>User <input name="user" id="user-input" autocomplete="username" required /></label>
        <label
          >Password
          <input
            name="password"
            id="password-input"
            type="password"
            autocomplete="current-password"
            required
        /></label>
        <button type="submit" id="sign-in-submit">Sign in</button>
      </form>`;
    this.#send(ui, status, this.#page(ui, 'Sign in', body));
  }

  async #readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') return undefined;
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > MAX_FORM_BYTES) return undefined;
      chunks.push(chunk);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  }

  async #signIn(ui: UiRequest): Promise<void> {
    if (this.#auth === undefined) return this.#redirect(ui, '/ui/');
    if (!this.#sameOrigin(ui.req)) {
      ui.state.failure = 'sign-in refused: cross-origin form';
      return this.#refuseCrossOrigin(ui);
    }
    const form = await this.#readForm(ui.req);
    if (form === undefined) return this.#signInForm(ui, 'The form could not be read.', 400);
    const user = form.get('user') ?? '';
    const password = form.get('password') ?? '';
    let ok: boolean;
    try {
      ok = await this.#auth.signIn(ui.req, user, password, ui.state);
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== 'TOOMANYREQUESTS') throw err;
      return this.#signInForm(ui, 'Too many failed attempts; wait a moment and try again.', 429);
    }
    if (!ok) return this.#signInForm(ui, 'Wrong user name or password.', 401);
    this.#sessions.end(ui.sessionId);
    const id = this.#sessions.start(user);
    this.#redirect(ui, '/ui/', {
      'Set-Cookie': this.#cookie(ui, id, Math.floor(SESSION_LIFETIME_MS / 1000)),
    });
  }

  /** 403 for a sign-in or sign-out form posted from another origin (CSRF). */
  #refuseCrossOrigin(ui: UiRequest): void {
    this.#send(
      ui,
      403,
      this.#page(
        ui,
        'Refused',
        html`<h1>Refused</h1>
          <p>The form did not come from this registry.</p>`,
      ),
    );
  }

  #signOut(ui: UiRequest): void {
    if (!this.#sameOrigin(ui.req)) {
      return this.#refuseCrossOrigin(ui);
    }
    this.#sessions.end(ui.sessionId);
    this.#redirect(ui, '/ui/', { 'Set-Cookie': this.#cookie(ui, '', 0) });
  }

  // ---------------------------------------------------------------- content

  /** What the viewer may pull; a registry without access control shows everything. */
  #mayPull(ui: UiRequest, repository: string): boolean {
    return ui.grant.allows(repository, 'pull');
  }

  /** The name clients use for this registry in references. */
  #registryHost(ui: UiRequest): string {
    if (this.#trust !== undefined) return this.#trust.registryName;
    const host = ui.req.headers.host;
    if (
      host !== undefined &&
      /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/.test(host)
    ) {
      return host;
    }
    return `${ui.req.socket.localAddress ?? '127.0.0.1'}:${ui.req.socket.localPort ?? 80}`;
  }

  async #allRepositories(): Promise<string[]> {
    const out: string[] = [];
    let last: string | undefined;
    for (;;) {
      const page = await this.#store.catalog.list({
        n: 1000,
        ...(last !== undefined ? { last } : {}),
      });
      out.push(...page.repositories);
      if (!page.more || page.repositories.length === 0) return out;
      last = page.repositories[page.repositories.length - 1];
    }
  }

  async #repositories(ui: UiRequest): Promise<void> {
    const q = (ui.query.get('q') ?? '').trim().toLowerCase().slice(0, 255);
    const visible = (await this.#allRepositories()).filter(
      (name) => this.#mayPull(ui, name) && (q === '' || name.includes(q)),
    );
    const shown = visible.slice(0, MAX_REPOSITORIES);
    const rows = shown.map(
      (name) =>
        html`<tr>
          <td><a class="repo" href="/ui/repo/${pathOf(name)}">${name}</a></td>
          <td>${this.#trust?.enforcementOf(name) ?? ''}</td>
        </tr>`,
    );
    const body = html`<h1>Repositories</h1>
      <form class="search" method="get" action="/ui/">
        <input
          type="search"
          name="q"
          id="search"
          value="${q}"
          placeholder="Search repositories"
          aria-label="Search repositories"
        /><button type="submit">Search</button>
      </form>
      ${
        shown.length === 0
          ? html`<p class="muted" id="empty">
              ${q !== '' ? 'No repository matches.' : 'No repositories to show.'}
            </p>`
          : html`<table id="repositories">
              <thead>
                <tr>
                  <th>Repository</th>
                  <th>Enforcement at pull</th>
                </tr>
              </thead>
              <tbody>
                ${rows}
              </tbody>
            </table>`
      }
      ${visible.length > shown.length ? html`<p class="muted">${visible.length - shown.length} more; narrow the search.</p>` : ''}`;
    this.#send(ui, 200, this.#page(ui, 'Repositories', body));
  }

  /** A manifest's facts, cached by repository and digest (content never changes). */
  #factsOf(repository: string, digest: Digest): Promise<ManifestView | undefined> {
    const key = `${repository}@${digest}`;
    let facts = this.#facts.get(key);
    if (facts === undefined) {
      facts = this.#readFacts(repository, digest);
      if (this.#facts.size >= MAX_FACTS) {
        const oldest = this.#facts.keys().next().value;
        if (oldest !== undefined) this.#facts.delete(oldest);
      }
      this.#facts.set(key, facts);
      facts.then(
        (f) => {
          if (f === undefined) this.#facts.delete(key);
        },
        () => this.#facts.delete(key),
      );
    }
    return facts;
  }

  async #readFacts(repository: string, digest: Digest): Promise<ManifestView | undefined> {
    const stored = await this.#store.manifests.get(repository, digest);
    if (stored === undefined) return undefined;
    let doc: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(stored.content.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null) doc = parsed as Record<string, unknown>;
    } catch {
      // Stored manifests were validated on push; an unreadable one shows as bytes only.
    }
    const config = isDescriptorLike(doc['config']) ? doc['config'] : undefined;
    const layers = Array.isArray(doc['layers']) ? doc['layers'].filter(isDescriptorLike) : [];
    const manifests = Array.isArray(doc['manifests'])
      ? doc['manifests'].filter(isDescriptorLike)
      : [];
    const annotations =
      typeof doc['annotations'] === 'object' && doc['annotations'] !== null
        ? (doc['annotations'] as Record<string, unknown>)
        : {};
    let created = parseDate(annotations[CREATED_ANNOTATION]);
    if (
      config !== undefined &&
      config.size <= MAX_CONFIG_BYTES &&
      config.mediaType !== MediaTypes.ociEmpty
    ) {
      const info = await this.#store.blobs.stat(repository, config.digest);
      if (info !== undefined) {
        const chunks: Buffer[] = [];
        for await (const chunk of await this.#store.blobs.open(repository, config.digest)) {
          chunks.push(chunk as Buffer);
        }
        try {
          const cfg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          created = parseDate(cfg['created']) ?? created;
        } catch {
          // Not a JSON config (an artifact's): no creation time from it.
        }
      }
    }
    const artifactType =
      stored.descriptor.artifactType ??
      (config !== undefined &&
      config.mediaType !== MediaTypes.ociEmpty &&
      !config.mediaType.includes('image.config')
        ? config.mediaType
        : undefined);
    const children = [...(config !== undefined ? [config] : []), ...layers, ...manifests];
    return {
      mediaType: stored.descriptor.mediaType,
      size: stored.descriptor.size,
      totalSize: children.reduce((sum, d) => sum + d.size, 0),
      ...(artifactType !== undefined ? { artifactType } : {}),
      ...(config !== undefined ? { config } : {}),
      layers,
      manifests,
      ...(stored.subject !== undefined ? { subject: stored.subject } : {}),
      ...(created !== undefined ? { created } : {}),
    };
  }

  async #verdictOf(repository: string, digest: Digest): Promise<TrustVerdict | undefined> {
    if (this.#trust === undefined) return undefined;
    const cached = this.#trust.cached(repository, digest);
    if (cached !== undefined) return cached;
    try {
      return await this.#trust.verdict(repository, digest);
    } catch {
      return undefined;
    }
  }

  async #repository(ui: UiRequest, name: string | undefined): Promise<void> {
    if (name === undefined || !isRepositoryName(name) || !this.#mayPull(ui, name))
      return this.#notFound(ui);
    let tags: string[];
    let more: boolean;
    try {
      ({ tags, more } = await this.#store.tags.list(name, { n: MAX_TAGS }));
    } catch {
      return this.#notFound(ui);
    }
    const now = this.#now();
    const rows = await Promise.all(
      tags.map(async (tag) => {
        const digest = await this.#store.tags.resolve(name, tag);
        if (digest === undefined) return '';
        const [facts, verdict] = await Promise.all([
          this.#factsOf(name, digest),
          this.#verdictOf(name, digest),
        ]);
        return html`<tr data-tag="${tag}">
          <td><a href="/ui/artifact/${pathOf(name)}@${digest}">${tag}</a></td>
          <td class="mono" title="${digest}">${shortDigest(digest)}</td>
          <td>${facts !== undefined ? formatSize(facts.totalSize + facts.size) : ''}</td>
          <td>${formatAge(facts?.created, now)}</td>
          <td>${verdict !== undefined ? badge(verdict.status) : ''}</td>
        </tr>`;
      }),
    );
    const enforcement = this.#trust?.enforcementOf(name);
    const body = html`<p class="muted"><a href="/ui/">Repositories</a> /</p>
      <h1 id="repository">${name}</h1>
      ${enforcement !== undefined ? html`<p>Pulls are judged by the trust policy: <strong>${enforcement}</strong>.</p>` : ''}
      ${
        tags.length === 0
          ? html`<p class="muted">No tags.</p>`
          : html`<table id="tags">
              <thead>
                <tr>
                  <th>Tag</th>
                  <th>Digest</th>
                  <th>Size</th>
                  <th>Age</th>
                  <th>${this.#trust !== undefined ? 'Trust' : ''}</th>
                </tr>
              </thead>
              <tbody>
                ${rows.map((r) => (r instanceof Html ? r : ''))}
              </tbody>
            </table>`
      }
      ${more ? html`<p class="muted">Only the first ${MAX_TAGS} tags are shown.</p>` : ''}`;
    this.#send(ui, 200, this.#page(ui, name, body));
  }

  async #artifact(ui: UiRequest, name: string, digest: string): Promise<void> {
    if (!isRepositoryName(name) || !isDigest(digest) || !this.#mayPull(ui, name))
      return this.#notFound(ui);
    const facts = await this.#factsOf(name, digest);
    if (facts === undefined) return this.#notFound(ui);
    const now = this.#now();
    const verdict = await this.#verdictOf(name, digest);
    const host = this.#registryHost(ui);
    const ref = `${host}/${name}@${digest}`;
    const link = (d: Digest): string => `/ui/artifact/${pathOf(name)}@${d}`;

    const descriptorRows = (list: readonly Descriptor[], kind: string) =>
      list.map(
        (d) =>
          html`<tr>
            <td>${kind}</td>
            <td class="mono">${d.mediaType}</td>
            <td class="mono" title="${d.digest}">${shortDigest(d.digest)}</td>
            <td>${formatSize(d.size)}</td>
          </tr>`,
      );
    let manifestSection: Html;
    if (INDEX_TYPES.has(facts.mediaType)) {
      const rows = facts.manifests.map((m) => {
        const p = m.platform ?? {};
        const platform = [p['os'], p['architecture'], p['variant']]
          .filter((v) => typeof v === 'string')
          .join('/');
        return html`<tr>
          <td>${platform || '—'}</td>
          <td class="mono">${m.mediaType}</td>
          <td class="mono"><a href="${link(m.digest)}">${shortDigest(m.digest)}</a></td>
          <td>${formatSize(m.size)}</td>
        </tr>`;
      });
      manifestSection = html`<h2>Platforms</h2>
        <table id="platforms">
          <thead>
            <tr>
              <th>Platform</th>
              <th>Media type</th>
              <th>Digest</th>
              <th>Size</th>
            </tr>
          </thead>
          <tbody>
            ${rows}
          </tbody>
        </table>`;
    } else {
      manifestSection = html`<h2>Config and layers</h2>
        <table id="layers">
          <thead>
            <tr>
              <th></th>
              <th>Media type</th>
              <th>Digest</th>
              <th>Size</th>
            </tr>
          </thead>
          <tbody>
            ${facts.config !== undefined ? descriptorRows([facts.config], 'config') : ''}${descriptorRows(facts.layers, 'layer')}
          </tbody>
        </table>`;
    }

    const tree = await this.#tree(
      name,
      { mediaType: facts.mediaType, digest, size: facts.size },
      verdict,
    );
    const commands = [
      `nv2 verify ${ref}`,
      `docker nv2 pull ${ref}`,
      `nv2 copy ${ref} oci-layout:./${name.split('/').pop()!}:copy`,
    ];
    const body = html`<p class="muted">
        <a href="/ui/">Repositories</a> / <a href="/ui/repo/${pathOf(name)}">${name}</a> /
      </p>
      <h1 id="artifact">${name}@${digest}</h1>
      <div class="card">
        <dl class="facts">
          <div>Media type: <code>${facts.mediaType}</code></div>
          ${facts.artifactType !== undefined ? html`<div>Artifact type: <code>${facts.artifactType}</code></div>` : ''}
          <div>Manifest: ${formatSize(facts.size)}; content: ${formatSize(facts.totalSize)}</div>
          ${facts.created !== undefined ? html`<div>Created: ${facts.created.toISOString()} (${formatAge(facts.created, now)})</div>` : ''}
          ${facts.subject !== undefined ? html`<div>Refers to: <a href="${link(facts.subject.digest)}" class="mono">${facts.subject.digest}</a></div>` : ''}
        </dl>
      </div>
      ${verdict !== undefined ? this.#verdictCard(verdict, this.#trust!.enforcementOf(name)) : ''}
      ${manifestSection}
      <h2>Referrers</h2>
      ${
        tree.length === 0
          ? html`<p class="muted" id="no-referrers">No signatures or other referrers.</p>`
          : html`<ul class="tree root" id="referrers">
              ${tree}
            </ul>`
      }
      <h2>Commands</h2>
      ${commands.map((c) => html`<div class="cmd"><code>${c}</code><button type="button" data-copy="${c}">Copy</button></div>`)}`;
    this.#send(ui, 200, this.#page(ui, `${name}@${shortDigest(digest)}`, body));
  }

  #verdictCard(verdict: TrustVerdict, enforcement: string | undefined): Html {
    const policy =
      verdict.policy !== undefined
        ? html`trust policy <strong>${verdict.policy.name}</strong> (scope
            <code>${verdict.policy.scope}</code>, ${verdict.policy.level})`
        : html`the registry's trust policy`;
    const pull =
      enforcement === undefined
        ? ''
        : verdict.passed
          ? html`<div>Pulls: allowed (${enforcement}).</div>`
          : enforcement === 'enforce'
            ? html`<div>Pulls: <span class="badge denied">refused</span> (enforce).</div>`
            : html`<div>Pulls: allowed and logged (audit).</div>`;
    return html`<div class="card" id="verdict" data-status="${verdict.status}">
      <div>Trust: ${badge(verdict.status)} under ${policy}</div>
      ${verdict.reason !== '' && !verdict.passed ? html`<div class="reason">${verdict.reason}</div>` : ''}${pull}
    </div>`;
  }

  /** The referrer tree of `subject`, to `MAX_TREE_DEPTH` levels, with each signature's verdict. */
  async #tree(
    repository: string,
    subject: Descriptor,
    verdict: TrustVerdict | undefined,
  ): Promise<Html[]> {
    const seen = new Set<string>([subject.digest]);
    let budget = MAX_TREE_NODES;
    const level = async (
      node: Descriptor,
      nodeVerdict: TrustVerdict | undefined,
      depth: number,
    ): Promise<Html[]> => {
      if (depth > MAX_TREE_DEPTH) return [];
      const referrers = (await this.#store.referrers.list(repository, node.digest)).filter((d) => {
        if (seen.has(d.digest) || budget <= 0) return false;
        seen.add(d.digest);
        budget -= 1;
        return true;
      });
      const findings = new Map<string, SignatureFinding>(
        (nodeVerdict?.signatures ?? []).map((s) => [s.digest, s]),
      );
      return Promise.all(
        referrers.map(async (d) => {
          const type = d.artifactType ?? d.mediaType;
          const isSignature = SIGNATURE_TYPES.has(type);
          const children = await this.#store.referrers.list(repository, d.digest);
          // A non-signature referrer (an SBOM) with signatures of its own gets its own verdict.
          const childVerdict =
            !isSignature && children.some((c) => SIGNATURE_TYPES.has(c.artifactType ?? ''))
              ? await this.#verdictOf(repository, d.digest)
              : undefined;
          const sub = await level(d, childVerdict, depth + 1);
          const finding = isSignature ? findings.get(d.digest) : undefined;
          const link = `/ui/artifact/${pathOf(repository)}@${d.digest}`;
          return html`<li
            class="${isSignature ? 'signature' : 'referrer'}"
            data-digest="${d.digest}"
            data-type="${type}"
          >
            <span class="badge type">${isSignature ? 'signature' : typeLabel(type)}</span>
            <a class="mono" href="${link}">${shortDigest(d.digest)}</a>
            <span class="muted mono">${type}</span>
            ${childVerdict !== undefined ? html` ${badge(childVerdict.status)}` : ''}
            ${finding !== undefined ? signatureDetails(finding) : isSignature && this.#trust !== undefined ? html`<div class="sig muted">Not judged: it signs other content than its subject's verdict covers.</div>` : ''}
            ${
              sub.length > 0
                ? html`<ul class="tree">
                    ${sub}
                  </ul>`
                : ''
            }
          </li>`;
        }),
      );
    };
    return level(subject, verdict, 1);
  }
}

function typeLabel(type: string): string {
  if (/spdx|cyclonedx|sbom/i.test(type)) return 'SBOM';
  if (/vuln|sarif|scan/i.test(type)) return 'scan';
  if (/provenance|in-toto|attestation/i.test(type)) return 'attestation';
  return 'artifact';
}

const SIGNATURE_LABELS: Readonly<Record<SignatureFinding['status'], string>> = {
  verified: 'verified',
  untrusted: 'untrusted signer',
  invalid: 'invalid',
  expired: 'expired',
  unreadable: 'unreadable',
};

function signatureDetails(s: SignatureFinding): Html {
  return html`<div class="sig" data-signature-status="${s.status}">
    <span class="badge ${s.status}">${SIGNATURE_LABELS[s.status]}</span>
    <strong>${s.format}</strong>
    <dl>
      ${
        s.signer !== undefined
          ? html`<dt>Signer</dt>
              <dd class="signer">${s.signer}</dd>`
          : ''
      }
      ${
        s.chain.length > 1
          ? html`<dt>Chain</dt>
              <dd>${s.chain.map((c, i) => html`${i > 0 ? ' → ' : ''}${c}`)}</dd>`
          : ''
      }
      ${
        s.fingerprint !== undefined
          ? html`<dt>SHA-256</dt>
              <dd class="mono">${s.fingerprint}</dd>`
          : ''
      }
      ${
        s.signedAt !== undefined
          ? html`<dt>Signed at</dt>
              <dd>${s.signedAt.toISOString()}</dd>`
          : ''
      }
      ${
        s.message !== undefined
          ? html`<dt>${s.status === 'verified' ? 'Notes' : 'Why'}</dt>
              <dd>${s.message}</dd>`
          : ''
      }
    </dl>
  </div>`;
}

/** Percent-decodes a UI path tail; undefined when malformed. */
function decodePath(tail: string): string | undefined {
  try {
    return decodeURIComponent(tail);
  } catch {
    return undefined;
  }
}
