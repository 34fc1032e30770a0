import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Descriptor, type Digest, isDigest, isRepositoryName } from '../../oci/index.js';
import { ApiError } from '../api/errors.js';
import type { Meter } from '../api/handler.js';
import type { AccessControl } from '../auth/access.js';
import type { AuthState } from '../auth/challenge.js';
import { Grant } from '../auth/grant.js';
import type { RegistryStore } from '../storage/store.js';
import type { RegistryTrust, SignatureFinding, TrustVerdict } from '../trust/verdicts.js';
import { SIGNATURE_TYPES, shortDigest } from './fragments.js';
import { type Html, html } from './html.js';
import { ManifestViews } from './manifest-views.js';
import type { TagRow } from './pages.js';
import {
  decodePath,
  isSameOrigin,
  readForm,
  redirect,
  sendAsset,
  sendPage,
  sessionCookie,
} from './responses.js';
import {
  artifactBody,
  layout,
  referrerNode,
  repositoriesBody,
  repositoryBody,
  signInBody,
} from './pages.js';
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

/** The web UI. */
export class RegistryUi {
  readonly #store: RegistryStore;
  readonly #auth: AccessControl | undefined;
  readonly #trust: RegistryTrust | undefined;
  readonly #now: () => number;
  readonly #sessions: Sessions;
  readonly #views: ManifestViews;

  constructor(options: UiOptions) {
    this.#store = options.store;
    this.#auth = options.auth;
    this.#trust = options.trust;
    this.#now = options.now ?? Date.now;
    this.#sessions = new Sessions(this.#now);
    this.#views = new ManifestViews(options.store);
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
    sendPage(ui.req, ui.res, ui.meter, status, page, headers);
  }

  #redirect(
    ui: UiRequest,
    location: string,
    headers: Record<string, string | string[]> = {},
  ): void {
    redirect(ui.res, location, headers);
  }

  #asset(ui: UiRequest, name: string): void {
    if (!sendAsset(ui.req, ui.res, ui.meter, name)) this.#notFound(ui);
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
    return layout(title, body, { signIn: this.#auth !== undefined, user: ui.user });
  }

  // ---------------------------------------------------------------- sign-in

  #signInForm(ui: UiRequest, error: string | undefined, status = 200): void {
    if (this.#auth === undefined) return this.#redirect(ui, '/ui/');
    this.#send(ui, status, this.#page(ui, 'Sign in', signInBody(error)));
  }

  async #signIn(ui: UiRequest): Promise<void> {
    if (this.#auth === undefined) return this.#redirect(ui, '/ui/');
    if (!isSameOrigin(ui.req)) {
      ui.state.failure = 'sign-in refused: cross-origin form';
      return this.#refuseCrossOrigin(ui);
    }
    const form = await readForm(ui.req);
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
      'Set-Cookie': sessionCookie(ui.req, id, Math.floor(SESSION_LIFETIME_MS / 1000)),
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
    if (!isSameOrigin(ui.req)) {
      return this.#refuseCrossOrigin(ui);
    }
    this.#sessions.end(ui.sessionId);
    this.#redirect(ui, '/ui/', { 'Set-Cookie': sessionCookie(ui.req, '', 0) });
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
    const body = repositoriesBody(q, shown, visible.length - shown.length, (name) =>
      this.#trust?.enforcementOf(name),
    );
    this.#send(ui, 200, this.#page(ui, 'Repositories', body));
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
      tags.map(async (tag): Promise<TagRow | undefined> => {
        const digest = await this.#store.tags.resolve(name, tag);
        if (digest === undefined) return undefined;
        const [facts, verdict] = await Promise.all([
          this.#views.of(name, digest),
          this.#verdictOf(name, digest),
        ]);
        return { tag, digest, facts, verdict };
      }),
    );
    const body = repositoryBody(name, tags, rows, {
      enforcement: this.#trust?.enforcementOf(name),
      trusted: this.#trust !== undefined,
      more,
      limit: MAX_TAGS,
      now,
    });
    this.#send(ui, 200, this.#page(ui, name, body));
  }

  async #artifact(ui: UiRequest, name: string, digest: string): Promise<void> {
    if (!isRepositoryName(name) || !isDigest(digest) || !this.#mayPull(ui, name))
      return this.#notFound(ui);
    const facts = await this.#views.of(name, digest);
    if (facts === undefined) return this.#notFound(ui);
    const now = this.#now();
    const verdict = await this.#verdictOf(name, digest);
    const host = this.#registryHost(ui);
    const tree = await this.#tree(
      name,
      { mediaType: facts.mediaType, digest, size: facts.size },
      verdict,
    );
    const body = artifactBody({
      name,
      digest,
      facts,
      ...(verdict !== undefined
        ? { verdict: { verdict, enforcement: this.#trust!.enforcementOf(name) } }
        : {}),
      ref: `${host}/${name}@${digest}`,
      tree,
      now,
    });
    this.#send(ui, 200, this.#page(ui, `${name}@${shortDigest(digest)}`, body));
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
          return referrerNode({
            repository,
            descriptor: d,
            type,
            isSignature,
            verdict: childVerdict,
            finding: isSignature ? findings.get(d.digest) : undefined,
            trusted: this.#trust !== undefined,
            children: await level(d, childVerdict, depth + 1),
          });
        }),
      );
    };
    return level(subject, verdict, 1);
  }
}
