/**
 * One verification, one referrers listing, and a cap on the signatures evaluated: counted on
 * the requests an in-process registry served to the registry client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { VerificationFailedError } from '../../../src/errors.js';
import {
  EMPTY_CONFIG_DESCRIPTOR,
  signArtifact,
  signNotationArtifact,
} from '../../../src/notary/index.js';
import { DEFAULT_MAX_SIGNATURES, verifyWithPolicy } from '../../../src/verification/index.js';
import { MediaTypes, createDescriptor } from '../../../src/oci/index.js';
import {
  PolicyConfig,
  TrustStore,
  certificatePolicyConfig,
  validateTrustPolicy,
} from '../../../src/policy/index.js';
import { Repository, createRegistryClient } from '../../../src/remote/index.js';
import type { RequestRecord } from '../../../src/registry/index.js';
import { fileSigningKey } from '../../../src/signature/index.js';
import { TrustSet } from '../../../src/trust/index.js';
import { SAMPLE_MANIFEST, tempDir } from '../../helpers/fixtures.js';
import { NOW, type TestIdentity, issuedSigner, rootCA } from '../../helpers/pki.js';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.js';

const IMAGE = createDescriptor(MediaTypes.ociManifest, SAMPLE_MANIFEST);
/** Untrusted nv2 signatures beside one trusted nv2 and one trusted Notary Project signature. */
const UNTRUSTED = 4;

function referrersRequests(records: readonly RequestRecord[], from: number): number {
  return records.slice(from).filter((r) => r.path.includes('/referrers/')).length;
}

describe('signatures of one verification', () => {
  let registry: RunningRegistry;
  const client = createRegistryClient();
  let repo: Repository;
  let root: TestIdentity;
  let trusted: TestIdentity;
  let policy: PolicyConfig;

  before(async () => {
    registry = await startRegistry();
    repo = new Repository(registry.host, 'app', { client });
    await repo.push(EMPTY_CONFIG_DESCRIPTOR, Buffer.from('{}'));
    await repo.push(IMAGE, SAMPLE_MANIFEST);
    await repo.tag(IMAGE, 'v1');
    root = await rootCA('Cap Root');
    const other = await rootCA('Other Root');
    trusted = await issuedSigner(root, registry.host);
    for (let i = 0; i < UNTRUSTED; i++) {
      const stranger = await issuedSigner(other, registry.host);
      await signArtifact(
        repo,
        'v1',
        { key: stranger.key, certificateChain: [stranger.cert.der, other.cert.der] },
        { now: new Date(NOW.getTime() + i * 1000) },
      );
    }
    await signArtifact(
      repo,
      'v1',
      { key: trusted.key, certificateChain: [trusted.cert.der, root.cert.der] },
      { now: new Date(NOW.getTime() + UNTRUSTED * 1000) },
    );
    await signNotationArtifact(repo, 'v1', {
      format: 'jws',
      signingKey: fileSigningKey(trusted.key, [trusted.cert.der, root.cert.der]),
      now: NOW,
    });
    const dir = await tempDir();
    const store = new TrustStore(dir);
    await store.add('ca', 'cap', [{ certificate: root.cert }]);
    policy = new PolicyConfig(
      dir,
      validateTrustPolicy({
        version: '1.0',
        trustPolicies: [
          {
            name: 'cap',
            registryScopes: ['*'],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:cap'],
            trustedIdentities: ['*'],
          },
        ],
      }),
      store,
    );
  });
  after(async () => {
    await client.close();
    await registry.close();
  });

  it('defaults to notation’s cap of 100', () => {
    assert.equal(DEFAULT_MAX_SIGNATURES, 100);
  });

  it('certificates list the referrers once for nv2 and Notary Project signatures alike', async () => {
    const from = registry.records.length;
    const config = certificatePolicyConfig({
      certificates: [root.cert],
      trustSet: new TrustSet({ roots: [root.cert] }),
    });
    const outcome = await verifyWithPolicy(repo, 'v1', config, { now: NOW });
    assert.equal(referrersRequests(registry.records, from), 1);
    assert.equal(outcome.signatures.length, UNTRUSTED + 2);
    assert.equal(outcome.signaturesFound, UNTRUSTED + 2);
    assert.equal(outcome.verifiedSignatures.length, 2);
    assert.deepEqual(outcome.warnings, []);
  });

  it('evaluates at most maxSignatures, and says so when none of them verified', async () => {
    const from = registry.records.length;
    await assert.rejects(
      // Trusting nothing of these: none verifies, whichever two the listing puts first.
      verifyWithPolicy(
        repo,
        'v1',
        certificatePolicyConfig({
          certificates: [],
          trustSet: new TrustSet({ roots: [(await rootCA('Nobody')).cert] }),
          nv2Only: true,
        }),
        { now: NOW, maxSignatures: 2 },
      ),
      (err: unknown) =>
        err instanceof VerificationFailedError &&
        err.code === 'NV2_ERR_NO_VALID_SIGNATURE' &&
        err.message.includes(`only the first 2 of ${UNTRUSTED + 1} signatures were evaluated`),
    );
    assert.equal(referrersRequests(registry.records, from), 1);
    // Two signature manifests and their two layers: the other signatures are never fetched.
    const fetched = registry.records
      .slice(from)
      .filter((r) => r.method === 'GET' && !r.path.includes('/referrers/'));
    assert.equal(fetched.length, 2 * 2);
  });

  it('verifyWithPolicy lists once, caps, and reports the cap as a warning when one verified', async () => {
    const from = registry.records.length;
    const all = await verifyWithPolicy(repo, `${registry.host}/app:v1`, policy, { now: NOW });
    assert.equal(referrersRequests(registry.records, from), 1);
    assert.equal(all.signaturesFound, UNTRUSTED + 2);
    assert.equal(all.verifiedSignatures.length, 2);
    const capped = await verifyWithPolicy(repo, `${registry.host}/app:v1`, policy, {
      now: NOW,
      maxSignatures: UNTRUSTED + 1,
    });
    // One of the six is left out; at least one of the two trusted ones is among the five.
    assert.equal(capped.signatures.length, UNTRUSTED + 1);
    assert.ok(capped.verifiedSignatures.length >= 1);
    assert.ok(
      capped.warnings.some((w) =>
        w.includes(`only the first ${UNTRUSTED + 1} of ${UNTRUSTED + 2} signatures`),
      ),
      capped.warnings.join('\n'),
    );
    await assert.rejects(
      verifyWithPolicy(repo, `${registry.host}/app:v1`, policy, { now: NOW, maxSignatures: 0 }),
      { code: 'NV2_ERR_INVALID_ARGUMENT' },
    );
  });
});
