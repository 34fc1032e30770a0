import type { SignatureFinding, TrustStatus } from '../trust/verdicts.js';
import { MediaTypes } from '../../oci/index.js';
import type { Html } from './html.js';
import { html } from './html.js';

/** Small pieces of the UI's pages: sizes, ages, digests, badges, a signature's details. */

export const SIGNATURE_TYPES: ReadonlySet<string> = new Set([
  MediaTypes.nv2ArtifactType,
  MediaTypes.notationSignature,
]);

export const INDEX_TYPES: ReadonlySet<string> = new Set([
  MediaTypes.ociIndex,
  MediaTypes.dockerManifestList,
]);

export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatAge(date: Date | undefined, now: number): string {
  if (date === undefined) return '';
  const s = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (s < 60) return `${s} seconds ago`;
  if (s < 3600) return `${Math.round(s / 60)} minutes ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} hours ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

export function shortDigest(digest: string): string {
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

export function badge(status: TrustStatus): Html {
  return html`<span class="badge ${status}" data-status="${status}"
    >${STATUS_LABELS[status]}</span
  >`;
}

export function typeLabel(type: string): string {
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

export function signatureDetails(s: SignatureFinding): Html {
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
