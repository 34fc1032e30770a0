/**
 * Notary Project signatures through the notary workflows: signNotationArtifact pushes
 * notation's signature manifest, listNotationSignatures reads it back, verifyWithPolicy judges
 * it with the jws and cose evaluators (user metadata, audit and integrity), under a trust
 * policy and under certificates (a command-line policy).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createMemoryStore, readBoundedStream } from '../../../src/content/index.js';
import { NotationMediaTypes, readSignatureManifest } from '../../../src/notation/index.js';
import type { PolicyVerificationError } from '../../../src/verification/index.js';
import {
  EMPTY_CONFIG_DESCRIPTOR,
  listNotationSignatures,
  listSignatures,
  signNotationArtifact,
} from '../../../src/notary/index.js';
import { verifyWithPolicy } from '../../../src/verification/index.js';
import { MediaTypes, createDescriptor } from '../../../src/oci/index.js';
import { fileSigningKey } from '../../../src/signature/index.js';
import {
  PolicyConfig,
  TrustStore,
  certificatePolicyConfig,
  validateTrustPolicy,
} from '../../../src/policy/index.js';
import { TrustSet } from '../../../src/trust/index.js';
import { SAMPLE_MANIFEST, tempDir } from '../../helpers/fixtures.js';
import { NOW, type TestIdentity, issuedSigner, rootCA } from '../../helpers/pki.js';

const REF = 'registry.acme-rockets.io/net-monitor:v1';
const IMAGE = createDescriptor(MediaTypes.ociManifest, SAMPLE_MANIFEST);

type MemoryStore = ReturnType<typeof createMemoryStore>;

async function imageStore(): Promise<MemoryStore> {
  const store = createMemoryStore();
  await store.push(EMPTY_CONFIG_DESCRIPTOR, Buffer.from('{}'));
  await store.push(IMAGE, SAMPLE_MANIFEST);
  await store.tag(IMAGE, 'v1');
  return store;
}

async function config(level: string, root: TestIdentity): Promise<PolicyConfig> {
  const dir = await tempDir();
  const trust = new TrustStore(dir);
  await trust.add('ca', 'acme', [{ certificate: root.cert }]);
  return new PolicyConfig(
    dir,
    validateTrustPolicy({
      version: '1.0',
      trustPolicies: [
        {
          name: 'acme',
          registryScopes: ['*'],
          signatureVerification: { level },
          trustStores: ['ca:acme'],
          trustedIdentities: ['*'],
        },
      ],
    }),
    trust,
  );
}

describe('Notary Project signatures in the notary workflows', () => {
  let root: TestIdentity;
  let signer: TestIdentity;
  let signed: MemoryStore;
  before(async () => {
    root = await rootCA('ACME Root', { subject: 'CN=ACME Root, C=US, ST=WA, O=ACME Rockets' });
    signer = await issuedSigner(root, 'registry.acme-rockets.io');
    signed = await imageStore();
    for (const format of ['jws', 'cose'] as const) {
      await signNotationArtifact(signed, 'v1', {
        format,
        signingKey: fileSigningKey(signer.key, [signer.cert.der, root.cert.der]),
        userMetadata: { env: 'prod' },
        now: NOW,
        signingAgent: 'nv2/test',
      });
    }
  });

  it('pushes the artifact-form manifest and lists both envelopes with their format', async () => {
    const entries = await listNotationSignatures(signed, IMAGE);
    assert.deepEqual(entries.map((e) => e.format).sort(), ['cose', 'jws']);
    for (const entry of entries) {
      assert.equal(entry.error, undefined);
      assert.equal(entry.manifest.artifactType, NotationMediaTypes.signature);
      assert.equal(entry.parsed!.signingAgent, 'nv2/test');
      assert.equal(
        entry.parsed!.certificateChain[0]!.fingerprintSha256,
        signer.cert.fingerprintSha256,
      );
      const manifest = readSignatureManifest(
        await readBoundedStream(await signed.fetch(entry.manifest), 65536, 'manifest'),
      );
      assert.equal(manifest.form, 'artifact');
      assert.deepEqual(manifest.subject, {
        mediaType: IMAGE.mediaType,
        digest: IMAGE.digest,
        size: IMAGE.size,
      });
      assert.deepEqual(manifest.thumbprints, [
        signer.cert.fingerprintSha256,
        root.cert.fingerprintSha256,
      ]);
    }
    // nv2's own listing does not mistake them for nv2 signatures.
    assert.deepEqual(await listSignatures(signed, IMAGE), []);
  });

  it('verifyWithPolicy judges both with the jws and cose evaluators, user metadata included', async () => {
    const result = await verifyWithPolicy(signed, REF, await config('strict', root), {
      now: NOW,
      userMetadata: { env: 'prod' },
    });
    assert.equal(result.passed, true);
    assert.deepEqual(result.verifiedSignatures.map((s) => s.evaluation!.format).sort(), [
      'cose',
      'jws',
    ]);
    await assert.rejects(
      verifyWithPolicy(signed, REF, await config('strict', root), {
        now: NOW,
        userMetadata: { env: 'staging' },
      }),
      (err: PolicyVerificationError) =>
        err.code === 'NV2_ERR_NO_VALID_SIGNATURE' &&
        err.message.includes(
          'integrity: signature\'s user metadata "env" is "prod", not "staging"',
        ),
    );
  });

  it('audit: integrity failures fail, unsigned content passes with a warning', async () => {
    const audit = await config('audit', root);
    await assert.rejects(
      verifyWithPolicy(signed, REF, audit, { now: NOW, userMetadata: { env: 'staging' } }),
      { code: 'NV2_ERR_NO_VALID_SIGNATURE' },
    );
    const unsigned = await verifyWithPolicy(await imageStore(), REF, audit, { now: NOW });
    assert.equal(unsigned.passed, true);
    assert.match(unsigned.warnings[0]!, /has no signatures; level audit lets it through/);
    // An untrusted signer is only logged at audit.
    const other = await rootCA('Other Root');
    const logged = await verifyWithPolicy(signed, REF, await config('audit', other), { now: NOW });
    assert.equal(logged.passed, true);
    assert.ok(logged.warnings.some((w) => w.includes('authenticity')));
  });

  it('certificates judge them as a command-line policy, and only nv2 signatures when asked', async () => {
    const byRoot = (cert: typeof root.cert, nv2Only = false): PolicyConfig =>
      certificatePolicyConfig({
        certificates: [cert],
        trustSet: new TrustSet({ roots: [cert] }),
        nv2Only,
      });
    const outcome = await verifyWithPolicy(signed, 'v1', byRoot(root.cert), { now: NOW });
    assert.equal(outcome.verifiedSignatures.length, 2);
    assert.equal(outcome.trustSource, 'certificates');
    const other = await rootCA('Other Root');
    await assert.rejects(
      verifyWithPolicy(signed, 'v1', byRoot(other.cert), { now: NOW }),
      (err: Error & { code?: string }) =>
        err.code === 'NV2_ERR_NO_VALID_SIGNATURE' && err.message.includes('NV2_ERR_CERT_UNTRUSTED'),
    );
    await assert.rejects(verifyWithPolicy(signed, 'v1', byRoot(root.cert, true), { now: NOW }), {
      code: 'NV2_ERR_NO_SIGNATURE',
    });
  });
});
