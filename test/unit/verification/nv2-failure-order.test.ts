import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createMemoryStore } from '../../../src/content/index.js';
import { EMPTY_CONFIG_DESCRIPTOR, signArtifact } from '../../../src/notary/index.js';
import { MediaTypes, createDescriptor } from '../../../src/oci/index.js';
import { certificatePolicy } from '../../../src/policy/index.js';
import { TrustSet, decidingFailure } from '../../../src/trust/index.js';
import { evaluateNv2Signature } from '../../../src/verification/index.js';
import { SAMPLE_MANIFEST } from '../../helpers/fixtures.js';
import { NOW, type TestIdentity, days, issuedSigner, rootCA } from '../../helpers/pki.js';

const REF = 'registry.acme-rockets.io/net-monitor:v1';

describe('nv2 evaluation: the failure that decides', () => {
  let root: TestIdentity;
  let signer: TestIdentity;
  let jws: string;
  before(async () => {
    root = await rootCA('ACME Root');
    signer = await issuedSigner(root, 'registry.acme-rockets.io');
    const store = createMemoryStore();
    const image = createDescriptor(MediaTypes.ociManifest, SAMPLE_MANIFEST);
    await store.push(EMPTY_CONFIG_DESCRIPTOR, Buffer.from('{}'));
    await store.push(image, SAMPLE_MANIFEST);
    await store.tag(image, 'v1');
    const signed = await signArtifact(
      store,
      'v1',
      { key: signer.key, certificateChain: [signer.cert.der] },
      { references: [REF], now: NOW, push: false },
    );
    jws = signed.jws;
  });

  it('an expired chain on a signature for another subject: both fail, the chain decides', async () => {
    const other = createDescriptor(MediaTypes.ociManifest, Buffer.from('{"other":true}'));
    const later = new Date(NOW.getTime() + days(400));
    const evaluation = await evaluateNv2Signature(Buffer.from(jws), other, {
      ...certificatePolicy({ certificates: [], now: later }),
      trustSet: new TrustSet({ roots: [root.cert] }),
    });
    assert.equal(evaluation.verified, false);
    const failed = evaluation.checks.filter((c) => c.passed === false).map((c) => c.code);
    assert.deepEqual(failed, ['NV2_ERR_DIGEST_MISMATCH', 'NV2_ERR_CERT_EXPIRED']);
    // The nv2 rules check the chain's validity before the subject.
    assert.equal(decidingFailure(evaluation)?.code, 'NV2_ERR_CERT_EXPIRED');
    // The signer and the signed descriptor are still reported.
    assert.equal(evaluation.signer?.fingerprintSha256, signer.cert.fingerprintSha256);
    assert.notEqual(evaluation.signedDescriptor?.digest, other.digest);
  });
});
