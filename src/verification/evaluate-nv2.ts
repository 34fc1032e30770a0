/**
 * The nv2 signature's evaluator: its envelope read as a signature entity
 * (`trust/nv2-entity.ts`) under the statement's trust, judged by the one evaluator.
 */
import {
  type SignatureEvaluator,
  TrustSet,
  type TrustAnchorSets,
  readNv2Entity,
} from '../trust/index.js';
import { evaluateEntity } from './evaluate-entity.js';

/**
 * Trust sets built from a statement's anchors, kept as long as the anchors object lives:
 * a policy built once serves every verification with parsed certificates and cached chains.
 */
const trustSets = new WeakMap<TrustAnchorSets, TrustSet>();

/**
 * nv2 signatures have no signing-authority scheme of their own: a certificate in a `ca` or a
 * `signingAuthority` store is a trust anchor for them alike. (`tsa` stores certify timestamp
 * authorities, which nv2 signatures do not carry.)
 */
function trustSetOf(anchors: TrustAnchorSets): TrustSet {
  let trust = trustSets.get(anchors);
  if (trust === undefined) {
    trust = new TrustSet({ roots: [...anchors.ca, ...anchors.signingAuthority] });
    trustSets.set(anchors, trust);
  }
  return trust;
}

/**
 * Evaluates an nv2 signature envelope against `subject` under one policy statement:
 *
 * - integrity: the envelope is well-formed, its signature value verifies under the signing
 *   certificate's key, and it signs this digest, size and media type;
 * - authenticity: the signing certificate chains to a certificate of the statement's `ca` or
 *   `signingAuthority` stores, its subject is a trusted identity, and every signed
 *   reference's registry is one of its names (nv2 rule);
 * - authenticTimestamp: every certificate of the chain is valid now (nv2 signatures carry no
 *   timestamp countersignature, so the verification time stands in, as notation does without
 *   a timestamp);
 * - expiry: the signature's own `nbf`/`exp`;
 * - revocation: not run (nv2 does not check OCSP or CRLs yet); reported with a message.
 *
 * @example
 * const evaluation = await evaluateNv2Signature(jws, subject, policy);
 * if (!evaluation.verified) console.log(evaluation.checks.filter((c) => c.passed === false));
 */
export const evaluateNv2Signature: SignatureEvaluator = (envelope, subject, policy) => {
  const reading = readNv2Entity(envelope, policy.trustSet ?? trustSetOf(policy.anchors));
  return evaluateEntity(reading, subject, policy);
};
