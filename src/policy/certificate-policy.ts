/**
 * A trust policy made in memory from certificates, for verification whose trust is given
 * directly (`nv2 verify -c/--ca-cert`) rather than by `trustpolicy.json`.
 */
import type { EvaluationPolicy, VerificationPluginSettings } from '../trust/index.js';
import type { Certificate } from '../x509/index.js';
import { LEVEL_ACTIONS } from './levels.js';

/** Options of `certificatePolicy`. */
export interface CertificatePolicyOptions {
  /** Certificates trusted as anchors of both signing schemes (`-c`, `--ca-cert`). */
  readonly certificates: readonly Certificate[];
  /** Roots of the timestamp authorities whose timestamps are trusted (`--tsa-cert`). */
  readonly tsaCertificates?: readonly Certificate[];
  /** User metadata a Notary Project signature must carry with equal values (`-m`). */
  readonly userMetadata?: Readonly<Record<string, string>>;
  /** Where verification plugins named by a signature are found, and what they are told. */
  readonly verificationPlugins?: VerificationPluginSettings;
  /** Verification time; default now. */
  readonly now?: Date;
}

/**
 * The policy of a verification whose trust comes from certificates: level strict (every
 * check enforced), the certificates as anchors of both signing schemes (`ca` and
 * `signingAuthority`), any signer identity (`*` to a verification plugin), and the TSA roots
 * for timestamps.
 *
 * @example
 * const policy = certificatePolicy({ certificates: loadCertificates(pem, 'root.crt') });
 * await verifyArtifact(repo, 'v1', new TrustSet({ roots: policy.anchors.ca }), { notationPolicy: policy });
 */
export function certificatePolicy(options: CertificatePolicyOptions): EvaluationPolicy {
  const userMetadata = options.userMetadata ?? {};
  return {
    actions: LEVEL_ACTIONS.strict,
    anchors: {
      ca: options.certificates,
      signingAuthority: options.certificates,
      tsa: options.tsaCertificates ?? [],
    },
    trustedIdentity: () => true,
    trustedIdentities: ['*'],
    ...(options.verificationPlugins !== undefined
      ? { verificationPlugins: options.verificationPlugins }
      : {}),
    ...(Object.keys(userMetadata).length > 0 ? { userMetadata } : {}),
    ...(options.now !== undefined ? { now: options.now } : {}),
  };
}
