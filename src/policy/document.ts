/**
 * The trust policy document: the Notary Project's `trustpolicy.json` (version 1.0), read and
 * validated with the rules of its specification ("Trust Policy" in trust-store-trust-policy.md,
 * as notation applies them), plus one extension: registry scopes ending in `/*`.
 *
 * Why this file is long: the document is validated in one place, rule by rule as the
 * specification states them (trust stores, trusted identities, registry scopes, verification
 * levels, statements), each check with its own error naming the field it refuses.
 */
import { InvalidInputError } from '../errors.js';
import { parseReference } from '../oci/index.js';
import { VALIDATION_TYPES, type ValidationAction, type ValidationType } from '../trust/index.js';
import { VERIFICATION_LEVELS, type VerificationLevel } from './levels.js';
import type { NameAttribute } from '../x509/index.js';
import {
  REQUIRED_IDENTITY_ATTRIBUTES,
  isSubsetName,
  parseDistinguishedName,
} from './distinguished-name.js';

/** The trust store types a statement may name. */
export const TRUST_STORE_TYPES = ['ca', 'signingAuthority', 'tsa'] as const;
export type TrustStoreType = (typeof TRUST_STORE_TYPES)[number];

/** A named store's name (notation's rule). */
export const TRUST_STORE_NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;

/** The only trust policy document version. */
export const TRUST_POLICY_VERSION = '1.0';

/** The most bytes read from a trust policy file: real ones are a few KiB. */
export const MAX_TRUST_POLICY_BYTES = 1024 * 1024;

/** `signatureVerification` of a statement. */
export interface SignatureVerification {
  readonly level: VerificationLevel;
  readonly override?: Readonly<Partial<Record<ValidationType, ValidationAction>>>;
  readonly verifyTimestamp?: 'always' | 'afterCertExpiry';
}

/** One statement of `trustPolicies`, as written. */
export interface TrustPolicyStatement {
  readonly name: string;
  readonly registryScopes: readonly string[];
  readonly signatureVerification: SignatureVerification;
  readonly trustStores?: readonly string[];
  readonly trustedIdentities?: readonly string[];
}

/** A validated trust policy document. */
export interface TrustPolicyDocument {
  readonly version: typeof TRUST_POLICY_VERSION;
  readonly trustPolicies: readonly TrustPolicyStatement[];
}

/** A parsed `trustStores` entry. */
export interface TrustStoreRef {
  readonly type: TrustStoreType;
  readonly name: string;
}

/** A parsed `trustedIdentities` entry other than `*`. */
export interface TrustedIdentity {
  /** As written. */
  readonly value: string;
  /** The distinguished name's attributes (types canonical). */
  readonly attributes: readonly NameAttribute[];
}

/** The identity type prefix of a trusted identity. */
const X509_SUBJECT = 'x509.subject';

function invalid(field: string, message: string): InvalidInputError {
  return new InvalidInputError(
    'NV2_ERR_TRUST_POLICY_INVALID',
    `trust policy: ${field}: ${message}`,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringArray(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) throw invalid(field, 'must be an array of strings');
  for (const [i, v] of value.entries())
    if (typeof v !== 'string') throw invalid(`${field}[${i}]`, 'must be a string');
  return value as string[];
}

function checkKeys(
  value: Record<string, unknown>,
  allowed: readonly string[],
  field: string,
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      throw invalid(`${field}.${key}`, `unknown field (allowed: ${allowed.join(', ')})`);
  }
}

/** Parses a `trustStores` entry `TYPE:NAME`. */
export function parseTrustStoreRef(value: string, field = 'trustStores'): TrustStoreRef {
  const colon = value.indexOf(':');
  if (colon === -1) {
    throw invalid(
      field,
      `malformed trust store ${JSON.stringify(value)}: the format is <TrustStoreType>:<TrustStoreName>`,
    );
  }
  const type = value.slice(0, colon);
  const name = value.slice(colon + 1);
  if (!(TRUST_STORE_TYPES as readonly string[]).includes(type)) {
    throw invalid(
      field,
      `unsupported trust store type ${JSON.stringify(type)} (use ${TRUST_STORE_TYPES.join(', ')})`,
    );
  }
  if (!TRUST_STORE_NAME_PATTERN.test(name)) {
    throw invalid(
      field,
      `trust store name ${JSON.stringify(name)} must match ${TRUST_STORE_NAME_PATTERN.source}`,
    );
  }
  return { type: type as TrustStoreType, name };
}

/** Parses a `trustedIdentities` entry other than `*`: `x509.subject: <RFC 4514 DN>`. */
export function parseTrustedIdentity(value: string, field = 'trustedIdentities'): TrustedIdentity {
  if (value.trim() === '') throw invalid(field, 'a trusted identity cannot be empty');
  const colon = value.indexOf(':');
  if (colon === -1) {
    throw invalid(
      field,
      `trusted identity ${JSON.stringify(value)} has no ":" between its type and value (x509.subject: C=…, ST=…, O=…)`,
    );
  }
  const type = value.slice(0, colon).trim();
  const dn = value.slice(colon + 1).trim();
  if (type !== X509_SUBJECT) {
    throw invalid(
      field,
      `trusted identity type ${JSON.stringify(type)} is not supported (use ${X509_SUBJECT})`,
    );
  }
  let attributes: NameAttribute[];
  try {
    attributes = parseDistinguishedName(dn);
  } catch (err) {
    throw invalid(
      field,
      `${JSON.stringify(dn)} is not a distinguished name: ${(err as Error).message}`,
    );
  }
  const seen = new Set<string>();
  for (const a of attributes) {
    if (seen.has(a.type))
      throw invalid(field, `${JSON.stringify(dn)} has the attribute ${a.type} more than once`);
    seen.add(a.type);
  }
  for (const required of REQUIRED_IDENTITY_ATTRIBUTES) {
    if (!seen.has(required)) {
      throw invalid(
        field,
        `${JSON.stringify(dn)} has no ${required}: C, ST (or S) and O are required`,
      );
    }
  }
  return { value, attributes };
}

/**
 * What a registry scope covers: a repository (`registry/repo`), every repository under a
 * prefix (`registry/ns/*`, `registry/*`: an nv2 extension), or everything (`*`).
 */
export type ScopePattern =
  | { readonly kind: 'all' }
  | { readonly kind: 'repository'; readonly repository: string }
  | { readonly kind: 'prefix'; readonly prefix: string };

/** Parses a registry scope, checking that it is fully qualified and in normalized form. */
export function parseRegistryScope(scope: string, field = 'registryScopes'): ScopePattern {
  if (scope === '*') return { kind: 'all' };
  const prefix = scope.endsWith('/*');
  const name = prefix ? scope.slice(0, -2) : scope;
  const example = 'e.g. registry.example.com/team/app, registry.example.com/team/* or *';
  if (prefix && !name.includes('/') && name !== '' && parseRegistryHost(name)) {
    return { kind: 'prefix', prefix: name.toLowerCase() };
  }
  // A prefix names a namespace: parse it with a repository below, so that docker.io's
  // `library/` is not added to it.
  const probe = prefix ? `${name}/x` : name;
  let normalized: string | undefined;
  try {
    const ref = parseReference(probe);
    if (ref.tag === undefined && ref.digest === undefined) {
      normalized = `${ref.registry}/${ref.repository}`;
      if (prefix) normalized = normalized.slice(0, -2);
    }
  } catch {
    normalized = undefined;
  }
  if (normalized === undefined || normalized !== name) {
    throw invalid(
      field,
      `registry scope ${JSON.stringify(scope)} is not a fully qualified repository without tag or digest${normalized !== undefined ? ` (did you mean ${normalized}${prefix ? '/*' : ''}?)` : ''}; ${example}`,
    );
  }
  return prefix ? { kind: 'prefix', prefix: name } : { kind: 'repository', repository: name };
}

function parseRegistryHost(name: string): boolean {
  try {
    // A host followed by a repository parses only if the host is one (dot, port or localhost).
    return parseReference(`${name}/x`).registry === name;
  } catch {
    return false;
  }
}

function checkLevel(value: unknown, field: string): SignatureVerification {
  if (!isObject(value)) throw invalid(field, 'must be an object with a level');
  checkKeys(value, ['level', 'override', 'verifyTimestamp'], field);
  const level = value['level'];
  if (typeof level !== 'string' || level === '')
    throw invalid(`${field}.level`, 'is missing or empty');
  if (!(VERIFICATION_LEVELS as readonly string[]).includes(level)) {
    throw invalid(
      `${field}.level`,
      `${JSON.stringify(level)} is not a level (use ${VERIFICATION_LEVELS.join(', ')})`,
    );
  }
  const out: {
    level: VerificationLevel;
    override?: Partial<Record<ValidationType, ValidationAction>>;
    verifyTimestamp?: 'always' | 'afterCertExpiry';
  } = { level: level as VerificationLevel };
  const override = value['override'];
  if (override !== undefined) {
    if (!isObject(override)) throw invalid(`${field}.override`, 'must be an object');
    const entries = Object.entries(override);
    if (entries.length > 0 && level === 'skip') {
      throw invalid(`${field}.override`, 'level skip cannot be customized with overrides');
    }
    const actions: Partial<Record<ValidationType, ValidationAction>> = {};
    for (const [key, action] of entries) {
      const f = `${field}.override.${key}`;
      if (!(VALIDATION_TYPES as readonly string[]).includes(key))
        throw invalid(f, `not a verification type (use ${VALIDATION_TYPES.join(', ')})`);
      if (action !== 'enforce' && action !== 'log' && action !== 'skip')
        throw invalid(f, `${JSON.stringify(action)} is not enforce, log or skip`);
      if (key === 'integrity') throw invalid(f, 'integrity verification cannot be overridden');
      if (action === 'skip' && key !== 'revocation')
        throw invalid(f, `${key} verification cannot be skipped`);
      actions[key as ValidationType] = action;
    }
    out.override = actions;
  }
  const verifyTimestamp = value['verifyTimestamp'];
  if (verifyTimestamp !== undefined) {
    if (verifyTimestamp !== 'always' && verifyTimestamp !== 'afterCertExpiry')
      throw invalid(`${field}.verifyTimestamp`, 'must be always or afterCertExpiry');
    out.verifyTimestamp = verifyTimestamp;
  }
  return out;
}

function checkStatement(value: unknown, field: string): TrustPolicyStatement {
  if (!isObject(value)) throw invalid(field, 'must be an object');
  checkKeys(
    value,
    ['name', 'registryScopes', 'signatureVerification', 'trustStores', 'trustedIdentities'],
    field,
  );
  const name = value['name'];
  if (typeof name !== 'string' || name.trim() === '')
    throw invalid(`${field}.name`, 'every statement needs a name');
  const at = `${field} ("${name}")`;
  if (value['registryScopes'] === undefined) throw invalid(`${at}.registryScopes`, 'is missing');
  const registryScopes = stringArray(value['registryScopes'], `${at}.registryScopes`);
  if (registryScopes.length === 0)
    throw invalid(`${at}.registryScopes`, 'has zero registry scopes');
  for (const [i, scope] of registryScopes.entries()) {
    parseRegistryScope(scope, `${at}.registryScopes[${i}]`);
  }
  if (registryScopes.includes('*') && registryScopes.length > 1) {
    throw invalid(
      `${at}.registryScopes`,
      'the wildcard scope "*" cannot be used with other scopes',
    );
  }
  const signatureVerification = checkLevel(
    value['signatureVerification'],
    `${at}.signatureVerification`,
  );
  const trustStores =
    value['trustStores'] === undefined
      ? []
      : stringArray(value['trustStores'], `${at}.trustStores`);
  const trustedIdentities =
    value['trustedIdentities'] === undefined
      ? []
      : stringArray(value['trustedIdentities'], `${at}.trustedIdentities`);
  if (signatureVerification.level === 'skip') {
    if (trustStores.length > 0 || trustedIdentities.length > 0) {
      throw invalid(
        at,
        'level skip verifies nothing, so trustStores and trustedIdentities must be left out',
      );
    }
  } else if (trustStores.length === 0 || trustedIdentities.length === 0) {
    throw invalid(
      at,
      `${trustStores.length === 0 ? 'trustStores' : 'trustedIdentities'} is missing or empty: both must be specified`,
    );
  }
  const stores = new Set<string>();
  for (const [i, store] of trustStores.entries()) {
    parseTrustStoreRef(store, `${at}.trustStores[${i}]`);
    if (stores.has(store))
      throw invalid(`${at}.trustStores[${i}]`, `${JSON.stringify(store)} is listed twice`);
    stores.add(store);
  }
  if (trustedIdentities.includes('*') && trustedIdentities.length > 1) {
    throw invalid(
      `${at}.trustedIdentities`,
      'the wildcard identity "*" cannot be used with other identities',
    );
  }
  const parsed: TrustedIdentity[] = [];
  for (const [i, identity] of trustedIdentities.entries()) {
    if (identity === '*') continue;
    const f = `${at}.trustedIdentities[${i}]`;
    const id = parseTrustedIdentity(identity, f);
    for (const other of parsed) {
      if (
        isSubsetName(id.attributes, other.attributes) ||
        isSubsetName(other.attributes, id.attributes)
      ) {
        throw invalid(
          f,
          `overlaps ${JSON.stringify(other.value)}: one matches every certificate the other does`,
        );
      }
    }
    parsed.push(id);
  }
  return {
    name,
    registryScopes,
    signatureVerification,
    ...(value['trustStores'] !== undefined ? { trustStores } : {}),
    ...(value['trustedIdentities'] !== undefined ? { trustedIdentities } : {}),
  };
}

/**
 * Validates a trust policy document (already decoded from JSON) against the format's rules:
 * version `1.0`; statements with unique names; each registry scope fully qualified and in one
 * statement only, `*` in at most one statement and alone; a known level, overrides that
 * neither touch integrity nor customize skip; trust stores `TYPE:NAME`; identities `*` alone
 * or well-formed, non-overlapping `x509.subject` DNs with C, ST and O.
 *
 * @throws InvalidInputError NV2_ERR_TRUST_POLICY_INVALID naming the bad field
 * @example const doc = validateTrustPolicy(JSON.parse(text));
 */
export function validateTrustPolicy(value: unknown): TrustPolicyDocument {
  if (!isObject(value)) throw invalid('(document)', 'must be a JSON object');
  checkKeys(value, ['version', 'trustPolicies'], '(document)');
  const version = value['version'];
  if (version === undefined || version === '') throw invalid('version', 'is missing or empty');
  if (version !== TRUST_POLICY_VERSION)
    throw invalid('version', `${JSON.stringify(version)} is not supported (use "1.0")`);
  const list = value['trustPolicies'];
  if (!Array.isArray(list) || list.length === 0)
    throw invalid('trustPolicies', 'must be a non-empty array of statements');
  const statements = list.map((s, i) => checkStatement(s, `trustPolicies[${i}]`));
  const names = new Set<string>();
  const scopes = new Map<string, string>();
  for (const [i, statement] of statements.entries()) {
    if (names.has(statement.name)) {
      throw invalid(
        `trustPolicies[${i}].name`,
        `${JSON.stringify(statement.name)} is used by more than one statement: names must be unique`,
      );
    }
    names.add(statement.name);
    for (const scope of statement.registryScopes) {
      const owner = scopes.get(scope);
      if (owner !== undefined) {
        throw invalid(
          `trustPolicies[${i}].registryScopes`,
          `registry scope ${JSON.stringify(scope)} is already in statement ${JSON.stringify(owner)}: a scope may be in one statement only, once`,
        );
      }
      scopes.set(scope, statement.name);
    }
  }
  return { version: TRUST_POLICY_VERSION, trustPolicies: statements };
}

/**
 * Parses and validates a trust policy document from its JSON text.
 *
 * @throws InvalidInputError NV2_ERR_TRUST_POLICY_INVALID
 * @example const doc = parseTrustPolicy(await readFile('trustpolicy.json', 'utf8'));
 */
export function parseTrustPolicy(text: string | Uint8Array): TrustPolicyDocument {
  let value: unknown;
  try {
    value = JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'));
  } catch (err) {
    throw invalid('(document)', `not valid JSON: ${(err as Error).message}`);
  }
  return validateTrustPolicy(value);
}
