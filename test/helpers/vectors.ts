/**
 * What the vectors' READMEs (test/vectors/) say of them, written down once for every test
 * that uses them.
 */

/**
 * The trust policy documents of `test/vectors/notation/trustpolicy/` that the README
 * ("Trust policy documents") judges invalid; every other document there is valid.
 */
export const INVALID_TRUST_POLICY_DOCUMENTS: ReadonlySet<string> = new Set([
  'override_integrity_for_permissive_trustpolicy.json',
  'empty_registry_scope_trustpolicy.json',
  'malformed_registry_scope_trustpolicy.json',
  'wildcard_plus_other_registry_scope_trustpolicy.json',
  'overlapped_registry_scope_trustpolicy.json',
  'multi_statements_with_the_same_registry_scope_trustpolicy.json',
  'multi_statements_with_multi_wildcard_registry_scope_trustpolicy.json',
  'multi_statements_with_the_same_name_trustpolicy.json',
  'unset_trust_store_trustpolicy.json',
  'unset_trusted_identity_trustpolicy.json',
  'malformed_trust_store_trustpolicy.json',
  'wildcard_trust_store_trustpolicy.json',
  'malformed_trusted_identity_trustpolicy.json',
  'empty_trusted_identity_trustpolicy.json',
  'overlapped_trusted_identity_trustpolicy.json',
  'wildcard_plus_other_trusted_identity_trustpolicy.json',
  'missing_organization_trusted_identity_trustpolicy.json',
  'missing_state_trusted_identity_trustpolicy.json',
  'missing_country_trusted_identity_trustpolicy.json',
  'invalid_format_trustpolicy.json',
]);
