import type { Descriptor, Digest } from '../../oci/index.js';
import type { SignatureFinding, TrustVerdict } from '../trust/verdicts.js';
import {
  INDEX_TYPES,
  badge,
  formatAge,
  formatSize,
  shortDigest,
  signatureDetails,
  typeLabel,
} from './fragments.js';
import { type Html, type Interpolation, html, pathOf } from './html.js';
import type { ManifestView } from './manifest-views.js';

/**
 * The markup of the UI's pages (ui.ts reads the data and serves them): each function takes
 * what its page shows and reads nothing itself.
 */

/**
 * A whole page around `body`: the header says who is signed in, when the registry has users
 * (`signIn`).
 */
export function layout(
  title: string,
  body: Html,
  viewer: { readonly signIn: boolean; readonly user: string | undefined },
): Html {
  let who: Interpolation = '';
  if (viewer.signIn) {
    who =
      viewer.user !== undefined
        ? html`<span class="who"
            ><span>Signed in as <strong id="user">${viewer.user}</strong></span>
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

/** The sign-in form, with what went wrong last time. */
export function signInBody(error: string | undefined): Html {
  return html`<h1>Sign in</h1>
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
}

/**
 * The repository list: `shown` (those matching `q`, each with its enforcement at pull), and
 * how many more matched past the page.
 */
export function repositoriesBody(
  q: string,
  shown: readonly string[],
  hidden: number,
  enforcementOf: (name: string) => string | undefined,
): Html {
  const rows = shown.map(
    (name) =>
      html`<tr>
        <td><a class="repo" href="/ui/repo/${pathOf(name)}">${name}</a></td>
        <td>${enforcementOf(name) ?? ''}</td>
      </tr>`,
  );
  return html`<h1>Repositories</h1>
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
    ${hidden > 0 ? html`<p class="muted">${hidden} more; narrow the search.</p>` : ''}`;
}

/** What the repository page shows of one tag. */
export interface TagRow {
  readonly tag: string;
  readonly digest: Digest;
  readonly facts: ManifestView | undefined;
  readonly verdict: TrustVerdict | undefined;
}

/** What a repository page shows besides its tags. */
export interface RepositoryView {
  readonly enforcement: string | undefined;
  /** Whether the registry judges content (a trust column). */
  readonly trusted: boolean;
  /** Whether there are more tags than `limit`, the most read. */
  readonly more: boolean;
  readonly limit: number;
  readonly now: number;
}

/**
 * A repository's page: `tags.length` tags were listed; each row is undefined when its tag
 * vanished while the page was made.
 */
export function repositoryBody(
  name: string,
  tags: readonly string[],
  rows: readonly (TagRow | undefined)[],
  view: RepositoryView,
): Html {
  const { enforcement, now } = view;
  return html`<p class="muted"><a href="/ui/">Repositories</a> /</p>
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
                <th>${view.trusted ? 'Trust' : ''}</th>
              </tr>
            </thead>
            <tbody>
              ${rows.map((r) => (r !== undefined ? tagRow(name, r, now) : ''))}
            </tbody>
          </table>`
    }
    ${view.more ? html`<p class="muted">Only the first ${view.limit} tags are shown.</p>` : ''}`;
}

function tagRow(name: string, { tag, digest, facts, verdict }: TagRow, now: number): Html {
  return html`<tr data-tag="${tag}">
    <td><a href="/ui/artifact/${pathOf(name)}@${digest}">${tag}</a></td>
    <td class="mono" title="${digest}">${shortDigest(digest)}</td>
    <td>${facts !== undefined ? formatSize(facts.totalSize + facts.size) : ''}</td>
    <td>${formatAge(facts?.created, now)}</td>
    <td>${verdict !== undefined ? badge(verdict.status) : ''}</td>
  </tr>`;
}

/** What an artifact's page shows. */
export interface ArtifactView {
  readonly name: string;
  readonly digest: Digest;
  readonly facts: ManifestView;
  /** The verdict, with the repository's enforcement at pull. */
  readonly verdict?: { readonly verdict: TrustVerdict; readonly enforcement: string | undefined };
  /** The reference clients pull it by. */
  readonly ref: string;
  /** The referrer tree (`referrerNode`s). */
  readonly tree: readonly Html[];
  readonly now: number;
}

/** An artifact's page: its facts, verdict, manifest, referrers and the commands to use it. */
export function artifactBody(view: ArtifactView): Html {
  const { name, digest, facts, ref, tree, now } = view;
  const link = (d: Digest): string => `/ui/artifact/${pathOf(name)}@${d}`;
  const commands = [
    `nv2 verify ${ref}`,
    `docker nv2 pull ${ref}`,
    `nv2 copy ${ref} oci-layout:./${name.split('/').pop()!}:copy`,
  ];
  return html`<p class="muted">
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
    ${view.verdict !== undefined ? verdictCard(view.verdict.verdict, view.verdict.enforcement) : ''}
    ${manifestSection(facts, link)}
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
}

/** An index's platforms, or an image's config and layers. */
function manifestSection(facts: ManifestView, link: (d: Digest) => string): Html {
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
    return html`<h2>Platforms</h2>
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
  }
  return html`<h2>Config and layers</h2>
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

function verdictCard(verdict: TrustVerdict, enforcement: string | undefined): Html {
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

/** One referrer in the tree of an artifact's page. */
export interface ReferrerNode {
  readonly repository: string;
  readonly descriptor: Descriptor;
  /** Its artifact type, else its media type. */
  readonly type: string;
  readonly isSignature: boolean;
  /** The verdict of a non-signature referrer that has signatures of its own. */
  readonly verdict: TrustVerdict | undefined;
  /** A signature's finding in its subject's verdict. */
  readonly finding: SignatureFinding | undefined;
  /** Whether the registry judges content (an unjudged signature says why). */
  readonly trusted: boolean;
  /** Its own referrers. */
  readonly children: readonly Html[];
}

/** A referrer and what refers to it, as an item of the tree. */
export function referrerNode(node: ReferrerNode): Html {
  const { descriptor: d, type, isSignature, verdict, finding, children: sub } = node;
  const link = `/ui/artifact/${pathOf(node.repository)}@${d.digest}`;
  return html`<li
    class="${isSignature ? 'signature' : 'referrer'}"
    data-digest="${d.digest}"
    data-type="${type}"
  >
    <span class="badge type">${isSignature ? 'signature' : typeLabel(type)}</span>
    <a class="mono" href="${link}">${shortDigest(d.digest)}</a>
    <span class="muted mono">${type}</span>
    ${verdict !== undefined ? html` ${badge(verdict.status)}` : ''}
    ${finding !== undefined ? signatureDetails(finding) : isSignature && node.trusted ? html`<div class="sig muted">Not judged: it signs other content than its subject's verdict covers.</div>` : ''}
    ${
      sub.length > 0
        ? html`<ul class="tree">
            ${sub}
          </ul>`
        : ''
    }
  </li>`;
}
