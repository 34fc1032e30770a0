import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createMemoryStore } from '../../../src/content/index.js';
import { EMPTY_CONFIG_DESCRIPTOR, signArtifact } from '../../../src/notary/index.js';
import { PolicyVerificationError, verifyWithPolicy } from '../../../src/verification/index.js';
import { MediaTypes, createDescriptor } from '../../../src/oci/index.js';
import { PolicyConfig, TrustStore, validateTrustPolicy } from '../../../src/policy/index.js';
import { SAMPLE_MANIFEST, tempDir } from '../../helpers/fixtures.js';
import { NOW, type TestIdentity, days, issuedSigner, rootCA } from '../../helpers/pki.js';

const REF = 'registry.acme-rockets.io/net-monitor:v1';
const SUBJECT_DN = 'C=US, ST=WA, O=ACME Rockets';

async function signedStore(signers: TestIdentity[][], exp?: number) {
  const store = createMemoryStore();
  const image = createDescriptor(MediaTypes.ociManifest, SAMPLE_MANIFEST);
  await store.push(EMPTY_CONFIG_DESCRIPTOR, Buffer.from('{}'));
  await store.push(image, SAMPLE_MANIFEST);
  await store.tag(image, 'v1');
  for (const chain of signers) {
    await signArtifact(
      store,
      'v1',
      { key: chain[0]!.key, certificateChain: chain.map((c) => c.cert.der) },
      { references: [REF], now: NOW, ...(exp !== undefined ? { expiresIn: exp } : {}) },
    );
  }
  return store;
}

async function config(statement: Record<string, unknown>, stores: Record<string, TestIdentity[]>) {
  const dir = await tempDir();
  const trust = new TrustStore(dir);
  for (const [name, certs] of Object.entries(stores))
    await trust.add(
      'ca',
      name,
      certs.map((c) => ({ certificate: c.cert })),
    );
  return new PolicyConfig(
    dir,
    validateTrustPolicy({
      version: '1.0',
      trustPolicies: [
        {
          name: 'acme',
          registryScopes: ['registry.acme-rockets.io/*'],
          signatureVerification: { level: 'strict' },
          trustStores: ['ca:acme'],
          trustedIdentities: ['*'],
          ...statement,
        },
      ],
    }),
    trust,
  );
}

describe('verifyWithPolicy', () => {
  let acmeRoot: TestIdentity;
  let acmeSigner: TestIdentity;
  let wabbitRoot: TestIdentity;
  let wabbitSigner: TestIdentity;
  before(async () => {
    acmeRoot = await rootCA('ACME Root', { subject: `CN=ACME Root, ${SUBJECT_DN}` });
    acmeSigner = await issuedSigner(acmeRoot, 'registry.acme-rockets.io', {
      subject: `CN=registry.acme-rockets.io, ${SUBJECT_DN}`,
    });
    wabbitRoot = await rootCA('Wabbit Root');
    wabbitSigner = await issuedSigner(wabbitRoot, 'registry.acme-rockets.io', {
      caIssuersUrls: ['http://certs.wabbit-networks.io/root.crt'],
    });
  });

  it('strict: passes with a trusted signature and reports every check', async () => {
    const store = await signedStore([[acmeSigner]]);
    const result = await verifyWithPolicy(store, REF, await config({}, { acme: [acmeRoot] }), {
      now: NOW,
    });
    assert.equal(result.passed, true);
    assert.equal(result.statement.name, 'acme');
    assert.equal(result.scope, 'registry.acme-rockets.io/*');
    assert.equal(result.verifiedSignatures.length, 1);
    const checks = result.signatures[0]!.evaluation!.checks;
    assert.deepEqual(
      checks.map((c) => [c.type, c.passed]),
      [
        ['integrity', true],
        ['authenticity', true],
        ['authenticTimestamp', true],
        ['expiry', true],
        ['revocation', undefined],
      ],
    );
    assert.equal(result.digest, createDescriptor(MediaTypes.ociManifest, SAMPLE_MANIFEST).digest);
    // What the envelope says, as the -c/--ca-cert path's result has it.
    const evaluation = result.signatures[0]!.evaluation!;
    assert.equal(evaluation.algorithm, 'ES256');
    assert.deepEqual(evaluation.references, [REF]);
    assert.equal(evaluation.signer?.fingerprintSha256, acmeSigner.cert.fingerprintSha256);
  });

  it('trust required: an untrusted signer fails naming the signer and the AIA hint', async () => {
    const store = await signedStore([[wabbitSigner]]);
    await assert.rejects(
      verifyWithPolicy(store, REF, await config({}, { acme: [acmeRoot] }), { now: NOW }),
      (err: PolicyVerificationError) => {
        assert.ok(err instanceof PolicyVerificationError);
        assert.equal(err.code, 'NV2_ERR_NO_VALID_SIGNATURE');
        assert.ok(err.message.includes(wabbitSigner.cert.fingerprintSha256));
        assert.deepEqual(err.result.hints.length, 1);
        assert.ok(
          err.result.hints[0]!.includes(
            'nv2 trust add --url http://certs.wabbit-networks.io/root.crt --store acme',
          ),
        );
        return true;
      },
    );
  });

  it('trust required: no signature fails; audit passes unsigned with a warning; skip verifies nothing', async () => {
    const store = await signedStore([]);
    await assert.rejects(
      verifyWithPolicy(store, REF, await config({}, { acme: [acmeRoot] }), { now: NOW }),
      { code: 'NV2_ERR_NO_SIGNATURE' },
    );
    const audit = await verifyWithPolicy(
      store,
      REF,
      await config({ signatureVerification: { level: 'audit' } }, { acme: [acmeRoot] }),
      { now: NOW },
    );
    assert.equal(audit.passed, true);
    assert.equal(audit.warnings.length, 1);
    const skip = await verifyWithPolicy(
      store,
      REF,
      await config(
        {
          signatureVerification: { level: 'skip' },
          trustStores: undefined,
          trustedIdentities: undefined,
        },
        {},
      ),
      { now: NOW },
    );
    assert.equal(skip.passed, true);
    assert.equal(skip.signatures.length, 0);
  });

  it('audit and an authenticity override log an untrusted signer; integrity stays enforced', async () => {
    const store = await signedStore([[wabbitSigner]]);
    for (const statement of [
      { signatureVerification: { level: 'audit' } },
      { signatureVerification: { level: 'strict', override: { authenticity: 'log' } } },
    ]) {
      const result = await verifyWithPolicy(
        store,
        REF,
        await config(statement, { acme: [acmeRoot] }),
        {
          now: NOW,
        },
      );
      assert.equal(result.passed, true);
      assert.ok(result.warnings.some((w) => w.includes('authenticity')));
    }
  });

  it('expiry: strict fails an expired signature, permissive logs it', async () => {
    const store = await signedStore([[acmeSigner]], 86400);
    const later = new Date(NOW.getTime() + days(2));
    await assert.rejects(
      verifyWithPolicy(store, REF, await config({}, { acme: [acmeRoot] }), { now: later }),
      { code: 'NV2_ERR_NO_VALID_SIGNATURE' },
    );
    const permissive = await verifyWithPolicy(
      store,
      REF,
      await config({ signatureVerification: { level: 'permissive' } }, { acme: [acmeRoot] }),
      { now: later },
    );
    assert.equal(permissive.passed, true);
    assert.ok(permissive.warnings.some((w) => w.includes('expiry')));
  });

  it('trusted identities: a matching subject passes, another fails authenticity', async () => {
    const store = await signedStore([[acmeSigner]]);
    const ok = await verifyWithPolicy(
      store,
      REF,
      await config(
        { trustedIdentities: [`x509.subject: O=ACME Rockets, C=US, ST=WA`] },
        { acme: [acmeRoot] },
      ),
      { now: NOW },
    );
    assert.equal(ok.passed, true);
    await assert.rejects(
      verifyWithPolicy(
        store,
        REF,
        await config(
          { trustedIdentities: ['x509.subject: C=US, ST=WA, O=Wabbit Networks'] },
          { acme: [acmeRoot] },
        ),
        { now: NOW },
      ),
      (err: PolicyVerificationError) =>
        err.result.signatures[0]!.evaluation!.checks[1]!.passed === false,
    );
  });

  it('a missing trust store and a repository without a statement are errors', async () => {
    const store = await signedStore([[acmeSigner]]);
    await assert.rejects(
      verifyWithPolicy(
        store,
        REF,
        await config({ trustStores: ['ca:missing'] }, { acme: [acmeRoot] }),
        { now: NOW },
      ),
      { code: 'NV2_ERR_TRUST_STORE_NOT_FOUND' },
    );
    await assert.rejects(
      verifyWithPolicy(
        store,
        'docker.io/library/other:v1',
        await config({}, { acme: [acmeRoot] }),
        { now: NOW },
      ),
      { code: 'NV2_ERR_NO_APPLICABLE_POLICY' },
    );
  });

  it('the nv2 reference rule is part of authenticity', async () => {
    const other = await issuedSigner(acmeRoot, 'other.example.com');
    const store = await signedStore([[other]]);
    await assert.rejects(
      verifyWithPolicy(store, REF, await config({}, { acme: [acmeRoot] }), { now: NOW }),
      (err: PolicyVerificationError) =>
        err.result.signatures[0]!.evaluation!.checks[1]!.code === 'NV2_ERR_REFERENCE_MISMATCH',
    );
  });
});
