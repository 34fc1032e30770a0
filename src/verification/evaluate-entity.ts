/**
 * The one evaluator: a signature entity (any format, its envelope already checked by its
 * format module) judged against the subject it is said to sign under one policy statement.
 * It runs the Notary Project's checks, records each outcome with its action, and leaves the
 * verdict to the actions; a format's hooks (`EntityRules`) are called only where its rules
 * differ. What runs:
 *
 * - integrity: the envelope (its format module), the subject, the user metadata, and a named
 *   verification plugin that can be used. Integrity failing stops the others, except that a
 *   sound nv2 signature for another subject is still judged whole;
 * - authenticity: a trusted path (the format's), a trusted identity (or the plugin's answer),
 *   nv2's reference rule;
 * - authenticTimestamp, expiry: the format's rules;
 * - revocation: of the carried chain (or the plugin's answer), where the format checks it;
 * - the plugin's answers, for the checks the policy does not skip.
 */
import {
  type CheckOutcome,
  type CheckProblem,
  type CheckResult,
  type EnvelopeReading,
  type EvaluationPolicy,
  type PluginCheck,
  type PluginVerifier,
  type SignatureEntity,
  type SignatureEvaluation,
  type TrustedPaths,
  VALIDATION_TYPES,
  type ValidationType,
  failedCheck,
  verdictOf,
} from '../trust/index.js';
import type { Descriptor } from '../oci/index.js';
import type { CertificatePath } from '../x509/index.js';

/** What the signature states, as every evaluation past the envelope reports it. */
function factsOf(entity: SignatureEntity): Partial<SignatureEvaluation> {
  const signingTime = entity.authenticSigningTime ?? entity.signingTime;
  return {
    signedDescriptor: entity.signedDescriptor,
    signer: entity.signer,
    algorithm: entity.algorithm,
    ...(signingTime !== undefined ? { signingTime } : {}),
    ...(entity.notBefore !== undefined ? { notBefore: entity.notBefore } : {}),
    ...(entity.expiresAt !== undefined ? { expiresAt: entity.expiresAt } : {}),
    ...(entity.references !== undefined ? { references: entity.references } : {}),
  };
}

/** The policy's required user metadata missing from, or different in, the signature. */
function userMetadataProblem(
  entity: SignatureEntity,
  policy: EvaluationPolicy,
): CheckProblem | undefined {
  // A format without user metadata (nv2) is not asked for it.
  if (entity.userMetadata === undefined) return undefined;
  for (const [key, value] of Object.entries(policy.userMetadata ?? {})) {
    const actual = entity.userMetadata[key];
    if (actual !== value) {
      return {
        message:
          actual === undefined
            ? `signature has no user metadata "${key}"`
            : `signature's user metadata "${key}" is "${actual}", not "${value}"`,
      };
    }
  }
  return undefined;
}

/** The checks recorded so far, and how each is written. */
class Checks {
  private readonly results = new Map<ValidationType, CheckResult>();
  constructor(private readonly policy: EvaluationPolicy) {}

  get(type: ValidationType): CheckResult | undefined {
    return this.results.get(type);
  }

  pass(type: ValidationType, message?: string): void {
    const action = this.policy.actions[type];
    this.results.set(type, {
      type,
      action,
      passed: true,
      ...(message !== undefined ? { message } : {}),
    });
  }

  fail(type: ValidationType, problem: CheckProblem): void {
    this.results.set(
      type,
      failedCheck(type, this.policy.actions[type], problem.message, problem.code),
    );
  }

  note(type: ValidationType, message: string): void {
    this.results.set(type, { type, action: this.policy.actions[type], passed: undefined, message });
  }

  /** Every check in `VALIDATION_TYPES` order, those not recorded noted as not run. */
  all(
    notRunNote: (action: CheckResult['action'], stopped: boolean) => string,
    stopped: boolean,
  ): CheckResult[] {
    return VALIDATION_TYPES.map((type) => {
      const action = this.policy.actions[type];
      return (
        this.results.get(type) ?? {
          type,
          action,
          passed: undefined,
          message: notRunNote(action, stopped),
        }
      );
    });
  }
}

/**
 * Judges what a format module read from an envelope against `subject` under `policy`.
 *
 * @example
 * const evaluation = await evaluateEntity(readNv2Entity(jws, trust), subject, policy);
 * if (!evaluation.verified) console.log(evaluation.checks.filter((c) => c.passed === false));
 */
export async function evaluateEntity(
  reading: EnvelopeReading,
  subject: Descriptor,
  policy: EvaluationPolicy,
): Promise<SignatureEvaluation> {
  const checks = new Checks(policy);
  if ('rejected' in reading) {
    checks.fail('integrity', reading.rejected);
    const all = checks.all(reading.notRunNote, true);
    return {
      format: reading.format,
      checks: all,
      verified: verdictOf(all),
      ...(reading.signer !== undefined ? { signer: reading.signer } : {}),
    };
  }
  const entity = reading;
  const { rules } = entity;
  const stop = (): SignatureEvaluation => {
    const all = checks.all(rules.notRunNote, true);
    return { format: entity.format, checks: all, verified: verdictOf(all), ...factsOf(entity) };
  };

  const subjectProblem = rules.subjectProblem(subject) ?? userMetadataProblem(entity, policy);
  let verifier: PluginVerifier | undefined;
  if (subjectProblem !== undefined) {
    checks.fail('integrity', subjectProblem);
    if (!rules.judgedWholeForOtherSubject) return stop();
  } else {
    // A signature naming a verification plugin cannot be verified without it (notation: the
    // verification is inconclusive), whatever the level: integrity is always enforced.
    const ready = await rules.preparePlugin?.(policy);
    if (ready !== undefined && 'message' in ready) {
      checks.fail('integrity', ready);
      return stop();
    }
    verifier = ready;
    checks.pass('integrity');
  }
  const pluginAnswers = (check: PluginCheck): boolean => verifier?.answers.includes(check) === true;
  const now = policy.now ?? new Date();

  let trusted: TrustedPaths | undefined;
  let authentic = false;
  let referencesFailed = false;
  if (policy.actions.authenticity !== 'skip') {
    const path = rules.trustedPath(policy);
    if ('message' in path) {
      checks.fail('authenticity', path);
    } else {
      trusted = path;
      if (!pluginAnswers('authenticity') && !policy.trustedIdentity(entity.signer)) {
        checks.fail('authenticity', { message: rules.untrustedIdentity(entity.signer) });
      } else {
        const references = rules.referencesProblem?.();
        referencesFailed = references !== undefined;
        if (references !== undefined) checks.fail('authenticity', references);
        else checks.pass('authenticity');
        authentic = references === undefined;
      }
    }
  }

  let validChain: CertificatePath | undefined;
  if (policy.actions.authenticTimestamp !== 'skip') {
    const outcome = await rules.authenticTimestamp(policy, now, trusted);
    record(checks, 'authenticTimestamp', outcome);
    validChain = outcome.chain;
  }

  if (policy.actions.expiry !== 'skip') {
    const problem = rules.expiryProblem(now);
    if (problem !== undefined) checks.fail('expiry', problem);
    else checks.pass('expiry');
  }

  if (policy.actions.revocation !== 'skip' && !pluginAnswers('revocation')) {
    if ('note' in rules.revocation) checks.note('revocation', rules.revocation.note);
    else record(checks, 'revocation', await rules.revocation(entity.certificates, now));
  }

  if (verifier !== undefined) await askPlugin(verifier, checks, policy);

  const all = checks.all(rules.notRunNote, false);
  const reported =
    authentic || !rules.chainOnlyWhenAuthentic ? (validChain ?? trusted?.paths[0]) : undefined;
  const failureOrder = rules.failureOrder?.(referencesFailed);
  return {
    format: entity.format,
    checks: all,
    verified: verdictOf(all),
    ...(failureOrder !== undefined ? { failureOrder } : {}),
    ...factsOf(entity),
    ...(reported !== undefined ? { certificateChain: reported } : {}),
  };
}

/** Records a rule's outcome: a pass with its note, or a failure. */
function record(checks: Checks, type: ValidationType, outcome: CheckOutcome): void {
  if (outcome.passed) checks.pass(type, outcome.message);
  else
    checks.fail(type, {
      message: outcome.message ?? 'failed',
      ...(outcome.code !== undefined ? { code: outcome.code } : {}),
    });
}

/**
 * The verification plugin answers, in the verifier's place, for the checks the policy does
 * not skip; a plugin that cannot answer fails integrity.
 */
async function askPlugin(
  verifier: PluginVerifier,
  checks: Checks,
  policy: EvaluationPolicy,
): Promise<void> {
  const asked = verifier.answers.filter((c) => policy.actions[c] !== 'skip');
  if (asked.length === 0) return;
  const verdict = await verifier.run(asked, policy);
  const name = verifier.name;
  if ('message' in verdict) {
    checks.fail('integrity', verdict);
    return;
  }
  for (const [type, result] of verdict) {
    const what = type === 'authenticity' ? 'trusted identity verification' : 'revocation check';
    if (!result.success) {
      checks.fail(type, {
        message: `${what} by verification plugin ${name} failed: ${result.reason ?? 'no reason given'}`,
        code: 'NV2_ERR_PLUGIN_VERIFICATION_FAILED',
      });
    } else if (type === 'revocation') {
      checks.pass(type, `checked by verification plugin ${name}`);
    } else if (checks.get(type)?.passed === true) {
      checks.pass(type, `trusted identity verified by verification plugin ${name}`);
    }
  }
}
