/**
 * The one JSON shape of `nv2 verify --output json`: stored signatures under certificates
 * (`-c`) keep every field they printed before the shape was shared, and a signature file
 * (`-f`) keeps its evaluation's fields at the top level beside the common ones.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { summary, verificationJson } from '../../../src/cli/verification-output.js';
import { createMemoryStore } from '../../../src/content/index.js';
import { EMPTY_CONFIG_DESCRIPTOR, signArtifact } from '../../../src/notary/index.js';
import { MediaTypes, createDescriptor } from '../../../src/oci/index.js';
import { certificatePolicyConfig } from '../../../src/policy/index.js';
import { TrustSet } from '../../../src/trust/index.js';
import { type PolicyVerification, verifyWithPolicy } from '../../../src/verification/index.js';
import { SAMPLE_MANIFEST } from '../../helpers/fixtures.js';
import { NOW, type TestIdentity, selfSignedSigner } from '../../helpers/pki.js';

/** The fields `-c --output json` printed before it shared the policy's shape. */
const CERTIFICATE_FIELDS = ['digest', 'mediaType', 'size', 'signatures', 'signaturesFound'];
/** The fields of one signature, in every mode. */
const SIGNATURE_FIELDS = ['signatureManifest', 'format', 'verified', 'signer', 'checks', 'result'];

describe('verification output', () => {
  let alice: TestIdentity;
  let bob: TestIdentity;
  let result: PolicyVerification;
  before(async () => {
    alice = await selfSignedSigner('registry.example.com');
    bob = await selfSignedSigner('registry.example.com');
    const store = createMemoryStore();
    const image = createDescriptor(MediaTypes.ociManifest, SAMPLE_MANIFEST);
    await store.push(EMPTY_CONFIG_DESCRIPTOR, Buffer.from('{}'));
    await store.push(image, SAMPLE_MANIFEST);
    await store.tag(image, 'v1');
    for (const id of [alice, bob]) {
      await signArtifact(
        store,
        'v1',
        { key: id.key, certificateChain: [id.cert.der] },
        { references: ['registry.example.com/app:v1'], now: NOW },
      );
    }
    const config = certificatePolicyConfig({
      certificates: [alice.cert],
      trustSet: new TrustSet({ certificates: [alice.cert] }),
    });
    result = await verifyWithPolicy(store, 'v1', config, { now: NOW });
  });

  it('-c keeps its fields and gains the policy’s', () => {
    const json = verificationJson(result) as Record<string, unknown>;
    for (const field of [...CERTIFICATE_FIELDS, 'warnings', 'statement', 'level', 'passed'])
      assert.ok(field in json, field);
    assert.equal(json['trustSource'], 'certificates');
    assert.equal(json['statement'], 'certificates');
    assert.equal(json['passed'], true);
    const signatures = json['signatures'] as Record<string, unknown>[];
    assert.equal(signatures.length, 2);
    for (const s of signatures)
      for (const field of SIGNATURE_FIELDS) assert.ok(field in s, `signature ${field}`);
    const failed = signatures.find((s) => s['verified'] === false)!;
    assert.equal((failed['error'] as { code: string }).code, 'NV2_ERR_CERT_UNTRUSTED');
  });

  it('-c keeps its summary: every signature with its verdict', () => {
    const text = summary(result);
    assert.match(text, /^2 signatures found, 1 verified\n/);
    assert.match(text, /: verified, signed by CN=registry\.example\.com/);
    assert.match(text, /: not verified: NV2_ERR_CERT_UNTRUSTED: /);
  });

  it('-f keeps the evaluation’s fields at the top level beside the common ones', () => {
    const verified = result.verifiedSignatures[0]!;
    const json = verificationJson({
      subject: result.subject,
      evaluation: verified.evaluation!,
    }) as Record<string, unknown>;
    for (const field of ['format', 'verified', 'digest', 'mediaType', 'size', 'signer', 'checks'])
      assert.ok(field in json, field);
    assert.equal(json['issuedAt'], verified.evaluation!.signingTime?.toISOString());
    assert.equal(json['digest'], result.digest);
    assert.equal(json['trustSource'], 'certificates');
    assert.equal(json['passed'], true);
  });
});
