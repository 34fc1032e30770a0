import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { describe, it } from 'node:test';
import {
  type TrustPolicyDocument,
  actionsOf,
  findStatement,
  parseDistinguishedName,
  parseTrustPolicy,
  validateTrustPolicy,
  withScopeLevel,
} from '../../../src/policy/index.js';
import { VECTORS_DIR } from '../../helpers/fixtures.js';
import { INVALID_TRUST_POLICY_DOCUMENTS } from '../../helpers/vectors.js';

const DIR = new URL('notation/trustpolicy/', VECTORS_DIR);

/** The field each invalid document's error must name. */
const FIELD: Readonly<Record<string, RegExp>> = {
  'override_integrity_for_permissive_trustpolicy.json': /override\.integrity/,
  'empty_registry_scope_trustpolicy.json': /registryScopes/,
  'malformed_registry_scope_trustpolicy.json': /registryScopes\[0\]/,
  'malformed_trust_store_trustpolicy.json': /trustStores\[0\]/,
  'empty_trusted_identity_trustpolicy.json': /trustedIdentities\[0\]/,
  'missing_country_trusted_identity_trustpolicy.json': /trustedIdentities\[0\]/,
  'multi_statements_with_the_same_name_trustpolicy.json': /trustPolicies\[1\]\.name/,
};

function policy(statements: unknown[]): unknown {
  return { version: '1.0', trustPolicies: statements };
}

function statement(name: string, scopes: string[], extra: Record<string, unknown> = {}): unknown {
  return {
    name,
    registryScopes: scopes,
    signatureVerification: { level: 'strict' },
    trustStores: ['ca:acme'],
    trustedIdentities: ['*'],
    ...extra,
  };
}

describe('trust policy documents', async () => {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.json')).sort();

  it('the vectors directory holds the documents the README lists', () => {
    assert.ok(files.length >= 35, `${files.length} documents`);
    for (const f of INVALID_TRUST_POLICY_DOCUMENTS) assert.ok(files.includes(f), f);
  });

  for (const file of files) {
    const expectValid = !INVALID_TRUST_POLICY_DOCUMENTS.has(file);
    it(`${file} is ${expectValid ? 'valid' : 'invalid'}`, async () => {
      const text = await readFile(new URL(file, DIR), 'utf8');
      if (expectValid) {
        const doc = parseTrustPolicy(text);
        assert.equal(doc.version, '1.0');
        assert.ok(doc.trustPolicies.length >= 1);
      } else {
        assert.throws(
          () => parseTrustPolicy(text),
          (err: Error & { code?: string }) => {
            assert.equal(err.code, 'NV2_ERR_TRUST_POLICY_INVALID');
            if (FIELD[file] !== undefined) assert.match(err.message, FIELD[file]);
            return true;
          },
        );
      }
    });
  }

  it('refuses overrides on skip, skipped authenticity, unknown fields and levels, naming the field', () => {
    const cases: [unknown, RegExp][] = [
      [
        policy([
          {
            name: 's',
            registryScopes: ['*'],
            signatureVerification: { level: 'skip', override: { expiry: 'log' } },
          },
        ]),
        /signatureVerification\.override/,
      ],
      [
        policy([
          statement('a', ['*'], {
            signatureVerification: { level: 'strict', override: { authenticity: 'skip' } },
          }),
        ]),
        /override\.authenticity/,
      ],
      [policy([statement('a', ['*'], { signatureVerification: { level: 'lenient' } })]), /level/],
      [policy([statement('a', ['*'], { colour: 'red' })]), /colour/],
      [{ version: '2.0', trustPolicies: [] }, /version/],
      [policy([statement('a', ['*'], { trustStores: ['ca:x', 'ca:x'] })]), /trustStores\[1\]/],
      [policy([statement('a', ['ubuntu'])]), /registryScopes\[0\]/],
      [policy([statement('a', ['registry.example.com/app:v1'])]), /registryScopes\[0\]/],
      [
        policy([
          statement('a', ['*'], { trustedIdentities: ['x509.subject: C=US, ST=WA, O=A+OU=B'] }),
        ]),
        /trustedIdentities\[0\]/,
      ],
      [
        policy([statement('a', ['*'], { trustedIdentities: ['x509.issuer: C=US, ST=WA, O=A'] })]),
        /trustedIdentities\[0\]/,
      ],
      [
        policy([
          {
            name: 's',
            registryScopes: ['*'],
            signatureVerification: { level: 'skip' },
            trustStores: ['ca:a'],
          },
        ]),
        /trustPolicies\[0\]/,
      ],
    ];
    for (const [doc, field] of cases) {
      assert.throws(
        () => validateTrustPolicy(doc),
        (err: Error & { code?: string }) =>
          err.code === 'NV2_ERR_TRUST_POLICY_INVALID' && field.test(err.message),
        JSON.stringify(doc),
      );
    }
    // Revocation alone may be skipped; verifyTimestamp takes its two values.
    validateTrustPolicy(
      policy([
        statement('a', ['*'], {
          signatureVerification: {
            level: 'strict',
            override: { revocation: 'skip' },
            verifyTimestamp: 'afterCertExpiry',
          },
        }),
      ]),
    );
  });

  it('accepts /* prefix scopes and refuses them twice', () => {
    validateTrustPolicy(
      policy([
        statement('a', ['registry.acme-rockets.io/*']),
        statement('b', ['docker.io/wabbit-networks/*', 'localhost:5000/*']),
      ]),
    );
    assert.throws(
      () => validateTrustPolicy(policy([statement('a', ['r.io/*']), statement('b', ['r.io/*'])])),
      { code: 'NV2_ERR_TRUST_POLICY_INVALID' },
    );
  });
});

describe('registry scopes', () => {
  const doc = validateTrustPolicy(
    policy([
      statement('global', ['*']),
      statement('registry', ['registry.acme-rockets.io/*']),
      statement('team', ['registry.acme-rockets.io/team/*']),
      statement('exact', ['registry.acme-rockets.io/team/app', 'docker.io/library/hello-world']),
    ]),
  ) as TrustPolicyDocument;
  const pick = (repo: string): string | undefined => findStatement(doc, repo)?.statement.name;

  it('the most specific scope wins: exact, then the longest prefix, then *', () => {
    assert.equal(pick('registry.acme-rockets.io/team/app'), 'exact');
    assert.equal(pick('registry.acme-rockets.io/team/other'), 'team');
    assert.equal(pick('registry.acme-rockets.io/team/sub/app'), 'team');
    assert.equal(pick('registry.acme-rockets.io/app'), 'registry');
    assert.equal(pick('registry.acme-rockets.io.evil.com/app'), 'global');
    assert.equal(pick('docker.io/library/hello-world'), 'exact');
    assert.equal(pick('docker.io/library/ubuntu'), 'global');
  });

  it('without * nothing else applies', () => {
    const only = validateTrustPolicy(
      policy([statement('a', ['localhost:5000/invalid-test-repo'])]),
    );
    assert.equal(findStatement(only, 'localhost:5000/test-repo'), undefined);
    assert.equal(findStatement(only, 'localhost:5000/invalid-test-repo')?.statement.name, 'a');
  });
});

describe('levels and overrides', () => {
  it('apply the level table and the overrides', () => {
    const doc = validateTrustPolicy(
      policy([
        statement('a', ['*'], {
          signatureVerification: {
            level: 'permissive',
            override: { expiry: 'enforce', authenticity: 'log' },
          },
        }),
      ]),
    );
    assert.deepEqual(actionsOf(doc.trustPolicies[0]!), {
      integrity: 'enforce',
      authenticity: 'log',
      authenticTimestamp: 'log',
      expiry: 'enforce',
      revocation: 'log',
    });
  });

  it('set-level flips a scope in one step and keeps the document valid', () => {
    const doc = validateTrustPolicy(policy([statement('default', ['*'])]));
    const audited = withScopeLevel(doc, 'docker.io/wabbit-networks/*', 'audit');
    assert.equal(audited.trustPolicies.length, 2);
    const added = audited.trustPolicies[1]!;
    assert.deepEqual(added.registryScopes, ['docker.io/wabbit-networks/*']);
    assert.equal(added.signatureVerification.level, 'audit');
    assert.deepEqual(added.trustStores, ['ca:acme']);
    const skipped = withScopeLevel(audited, 'docker.io/wabbit-networks/*', 'skip');
    assert.equal(skipped.trustPolicies[1]!.trustStores, undefined);
    const strict = withScopeLevel(skipped, 'docker.io/wabbit-networks/*', 'strict');
    assert.deepEqual(strict.trustPolicies[1]!.trustStores, ['ca:acme']);
    assert.equal(
      withScopeLevel(strict, '*', 'audit').trustPolicies[0]!.signatureVerification.level,
      'audit',
    );
  });
});

describe('distinguished names', () => {
  it('parses RFC 4514 with escapes, spaces and the S alias', () => {
    assert.deepEqual(parseDistinguishedName('CN=a\\, b ,O=Notary\\2C Inc., S=WA,C=US'), [
      { type: 'CN', value: 'a, b' },
      { type: 'O', value: 'Notary, Inc.' },
      { type: 'ST', value: 'WA' },
      { type: 'C', value: 'US' },
    ]);
    assert.throws(() => parseDistinguishedName('CN=a+O=b'));
    assert.throws(() => parseDistinguishedName('CN'));
    assert.throws(() => parseDistinguishedName('CN=#04'));
  });
});
