/** Policies and vector loading for the Notary Project tests. */
import { readFileSync } from 'node:fs';
import {
  type EvaluationPolicy,
  type ValidationAction,
  type ValidationType,
} from '../../../src/trust/index.js';
import { LEVEL_ACTIONS } from '../../../src/policy/index.js';
import { type Certificate, loadCertificates } from '../../../src/x509/index.js';
import { VECTORS_DIR } from '../../helpers/fixtures.js';
import {
  type ChainRevocationChecker,
  RevocationChecker,
  type RevocationOutcome,
} from '../../../src/notation/index.js';

export const NOTATION_DIR = new URL('notation/', VECTORS_DIR);

export function vector(path: string): Buffer {
  return readFileSync(new URL(path, NOTATION_DIR));
}

export function cert(name: string): Certificate {
  return loadCertificates(vector(`certs/${name}`), name)[0]!;
}

/** RDNs of a DN written `CN=a,O=b` or node's multi-line form, as a sorted list. */
function rdns(dn: string): string[] {
  return dn
    .split(/[,\n]/)
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .sort();
}

/** `x509.subject:` identity matching as the trust policy does it: the same set of RDNs. */
export function subjectIs(dn: string): (signer: Certificate) => boolean {
  const want = rdns(dn).join('\n');
  return (signer) => rdns(signer.x509.subject).join('\n') === want;
}

export interface PolicyOptions {
  readonly level?: 'strict' | 'permissive' | 'audit';
  readonly overrides?: Partial<Record<ValidationType, ValidationAction>>;
  readonly ca?: readonly Certificate[];
  readonly signingAuthority?: readonly Certificate[];
  readonly tsa?: readonly Certificate[];
  readonly identity?: (signer: Certificate) => boolean;
  readonly now: Date;
  readonly verifyTimestamp?: 'always' | 'afterCertExpiry';
  readonly userMetadata?: Record<string, string>;
}

/** The README's "Policy P(stores, identities, level)" as the evaluator receives it. */
export function policy(options: PolicyOptions): EvaluationPolicy {
  return {
    actions: { ...LEVEL_ACTIONS[options.level ?? 'strict'], ...(options.overrides ?? {}) },
    anchors: {
      ca: options.ca ?? [],
      signingAuthority: options.signingAuthority ?? [],
      tsa: options.tsa ?? [],
    },
    trustedIdentity: options.identity ?? (() => true),
    now: options.now,
    ...(options.verifyTimestamp !== undefined ? { verifyTimestamp: options.verifyTimestamp } : {}),
    ...(options.userMetadata !== undefined ? { userMetadata: options.userMetadata } : {}),
  };
}

/**
 * Revocation checks run for real; no vector signing certificate has pointers, so none goes
 * online. The TSA chains of the timestamp vectors do (public OCSP and CRL servers): they are
 * judged with `OfflineRevocation`.
 */
export const revocation = new RevocationChecker({ timeoutMs: 2000 });

/** A revocation checker that looks nothing up: it records the chains it is asked about. */
export class OfflineRevocation implements ChainRevocationChecker {
  readonly chains: Certificate[][] = [];

  check(chain: readonly Certificate[]): Promise<RevocationOutcome> {
    this.chains.push([...chain]);
    return Promise.resolve({ passed: true, message: 'not checked: no network lookups in tests' });
  }
}

export const at = (iso: string): Date => new Date(iso);
