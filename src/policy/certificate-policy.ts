/**
 * A trust policy made in memory from certificates, for verification whose trust is given
 * directly (`nv2 verify -c/--ca-cert`, the docker plugin's `verificationCerts`) rather than by
 * `trustpolicy.json`: the same verification, under a configuration of one `*` statement.
 */
import type { EvaluationPolicy, TrustSet, VerificationPluginSettings } from '../trust/index.js';
import type { Certificate } from '../x509/index.js';
import { type ApplicablePolicy, PolicyConfig, type TrustSource } from './config.js';
import type { TrustPolicyStatement } from './document.js';
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

/** The one statement of a configuration built from certificates. */
export const CERTIFICATE_STATEMENT: TrustPolicyStatement = {
  name: 'certificates',
  registryScopes: ['*'],
  signatureVerification: { level: 'strict' },
  trustedIdentities: ['*'],
};

/** Options of `certificatePolicyConfig`. */
export interface CertificatePolicyConfigOptions extends CertificatePolicyOptions {
  /**
   * The trust of nv2 signatures: certificates trusted as they are and where a `kid` is looked
   * up (`-c`), roots (`--ca-cert`). Notary Project signatures use `certificates` as anchors.
   */
  readonly trustSet: TrustSet;
  /** Only nv2 signatures are looked for (the docker plugin's `verificationCerts`). */
  readonly nv2Only?: boolean;
}

/** A configuration whose one statement is fixed: no directory, no trust store is read. */
class CertificatePolicyConfig extends PolicyConfig {
  readonly #applicable: ApplicablePolicy;
  readonly #nv2Only: boolean;

  constructor(evaluation: EvaluationPolicy, nv2Only: boolean) {
    super('', { version: '1.0', trustPolicies: [CERTIFICATE_STATEMENT] });
    this.#applicable = {
      statement: CERTIFICATE_STATEMENT,
      scope: '*',
      level: 'strict',
      evaluation,
    };
    this.#nv2Only = nv2Only;
  }

  override get source(): TrustSource {
    return 'certificates';
  }

  override get nv2Only(): boolean {
    return this.#nv2Only;
  }

  /** The one statement, whatever the reference (it names no repository to match). */
  override async policyFor(_reference: string, now?: Date): Promise<ApplicablePolicy> {
    const applicable = this.#applicable;
    if (now === undefined || applicable.evaluation === undefined) return applicable;
    return { ...applicable, evaluation: { ...applicable.evaluation, now } };
  }
}

/**
 * The whole configuration of a verification whose trust comes from certificates, for
 * `verifyWithPolicy`: one statement (`certificates`, scope `*`, level strict, every check
 * enforced, any identity), `certificatePolicy`'s anchors, and `trustSet` for nv2 signatures.
 * Its `source` is `certificates`: the verification words its result as `-c/--ca-cert` always
 * has, and takes a reference that is just a tag or digest.
 *
 * @example
 * const roots = loadCertificates(pem, 'root.crt');
 * const config = certificatePolicyConfig({ certificates: roots, trustSet: new TrustSet({ roots }) });
 * const { subject } = await verifyWithPolicy(repo, 'v1', config);
 */
export function certificatePolicyConfig(options: CertificatePolicyConfigOptions): PolicyConfig {
  const { trustSet, nv2Only = false, ...policy } = options;
  return new CertificatePolicyConfig({ ...certificatePolicy(policy), trustSet }, nv2Only);
}
