/** The notary workflows over a memory store: sign, push, list, verify and discover. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createMemoryStore } from '../../../src/content/index.js';
import { VerificationFailedError, VerificationInconclusiveError } from '../../../src/errors.js';
import {
  EMPTY_CONFIG_DESCRIPTOR,
  discover,
  listSignatures,
  pushSignature,
  signArtifact,
} from '../../../src/notary/index.js';
import { verifyWithPolicy } from '../../../src/verification/index.js';
import { certificatePolicyConfig } from '../../../src/policy/index.js';
import { type Descriptor, MediaTypes, createDescriptor } from '../../../src/oci/index.js';
import { TrustSet } from '../../../src/trust/index.js';
import { SAMPLE_MANIFEST } from '../../helpers/fixtures.js';
import { NOW, type TestIdentity, selfSignedSigner } from '../../helpers/pki.js';

const REF = ['registry.example.com/app:v1'];

/** Trust given as certificates (as `nv2 verify -c`), nv2 signatures only. */
function trusting(trustSet: TrustSet): ReturnType<typeof certificatePolicyConfig> {
  return certificatePolicyConfig({ certificates: [], trustSet, nv2Only: true });
}

function signerOf(id: TestIdentity): { key: TestIdentity['key']; certificateChain: Uint8Array[] } {
  return { key: id.key, certificateChain: [id.cert.der] };
}

async function storeWithImage(): Promise<{
  store: ReturnType<typeof createMemoryStore>;
  image: Descriptor;
}> {
  const store = createMemoryStore();
  const image = createDescriptor(MediaTypes.ociManifest, SAMPLE_MANIFEST);
  await store.push(EMPTY_CONFIG_DESCRIPTOR, Buffer.from('{}'));
  await store.push(image, SAMPLE_MANIFEST);
  await store.tag(image, 'v1');
  return { store, image };
}

async function fetchJson(
  store: ReturnType<typeof createMemoryStore>,
  d: Descriptor,
): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of await store.fetch(d)) chunks.push(Buffer.from(c as Uint8Array));
  return JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
}

describe('notary', () => {
  let alice: TestIdentity;
  let bob: TestIdentity;
  before(async () => {
    alice = await selfSignedSigner('registry.example.com');
    bob = await selfSignedSigner('registry.example.com');
  });

  it('signs the resolved manifest and pushes the signature artifact of artifact-layout.md', async () => {
    const { store, image } = await storeWithImage();
    const signed = await signArtifact(store, 'v1', signerOf(alice), { references: REF, now: NOW });
    assert.deepEqual(signed.subject, image);
    assert.ok(signed.signatureManifest);
    const manifest = await fetchJson(store, signed.signatureManifest);
    assert.equal(manifest['artifactType'], 'application/vnd.cncf.notary.v2');
    assert.equal(manifest['mediaType'], MediaTypes.ociManifest);
    assert.deepEqual(manifest['config'], {
      mediaType: 'application/vnd.oci.empty.v1+json',
      digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
      size: 2,
    });
    const layers = manifest['layers'] as Descriptor[];
    assert.equal(layers.length, 1);
    assert.equal(layers[0]!.mediaType, 'application/vnd.cncf.notary.signature.v2+jwt');
    assert.deepEqual(manifest['subject'], image);
    assert.match(
      (manifest['annotations'] as Record<string, string>)['org.opencontainers.image.created']!,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    const listed = await listSignatures(store, image);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.jws?.toString(), signed.jws);
    assert.deepEqual(listed[0]!.signature?.claims.references, REF);
  });

  it('verifies when one of several signatures holds, and reports each', async () => {
    const { store, image } = await storeWithImage();
    await signArtifact(store, 'v1', signerOf(alice), { references: REF, now: NOW });
    await signArtifact(store, 'v1', signerOf(bob), { references: REF, now: NOW });
    const trust = new TrustSet({ certificates: [alice.cert] });
    const result = await verifyWithPolicy(store, 'v1', trusting(trust), { now: NOW });
    assert.deepEqual(result.subject, image);
    assert.equal(result.signatures.length, 2);
    assert.equal(result.verifiedSignatures.length, 1);
    assert.equal(result.verifiedSignatures[0]!.evaluation?.signedDescriptor?.digest, image.digest);
    const failed = result.signatures.find((s) => s.evaluation?.verified !== true);
    assert.equal(failed?.error?.code, 'NV2_ERR_CERT_UNTRUSTED');
    const both = await verifyWithPolicy(
      store,
      image.digest,
      trusting(new TrustSet({ certificates: [alice.cert, bob.cert] })),
      { now: NOW },
    );
    assert.equal(both.verifiedSignatures.length, 2);
  });

  it('fails with NV2_ERR_NO_SIGNATURE when there are none', async () => {
    const { store } = await storeWithImage();
    await assert.rejects(
      verifyWithPolicy(store, 'v1', trusting(new TrustSet({ certificates: [alice.cert] }))),
      (err: unknown) =>
        err instanceof VerificationFailedError && err.code === 'NV2_ERR_NO_SIGNATURE',
    );
  });

  it('fails with NV2_ERR_NO_VALID_SIGNATURE naming why each failed', async () => {
    const { store } = await storeWithImage();
    await signArtifact(store, 'v1', signerOf(bob), { references: REF, now: NOW });
    await assert.rejects(
      verifyWithPolicy(store, 'v1', trusting(new TrustSet({ certificates: [alice.cert] })), {
        now: NOW,
      }),
      (err: unknown) =>
        err instanceof VerificationFailedError &&
        err.code === 'NV2_ERR_NO_VALID_SIGNATURE' &&
        err.message.includes('NV2_ERR_CERT_UNTRUSTED'),
    );
  });

  it('does not accept a signature of another manifest linked to this one', async () => {
    const { store, image } = await storeWithImage();
    const other = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: EMPTY_CONFIG_DESCRIPTOR,
        layers: [],
        annotations: { x: 'y' },
      }),
    );
    const otherDescriptor = createDescriptor(MediaTypes.ociManifest, other);
    await store.push(otherDescriptor, other);
    await store.tag(otherDescriptor, 'other');
    const signed = await signArtifact(store, 'other', signerOf(alice), {
      references: REF,
      now: NOW,
      push: false,
    });
    assert.equal(signed.signatureManifest, undefined);
    await pushSignature(store, image, signed.jws, { now: NOW });
    await assert.rejects(
      verifyWithPolicy(store, 'v1', trusting(new TrustSet({ certificates: [alice.cert] })), {
        now: NOW,
      }),
      (err: unknown) =>
        err instanceof VerificationFailedError &&
        err.code === 'NV2_ERR_NO_VALID_SIGNATURE' &&
        err.message.includes('NV2_ERR_DIGEST_MISMATCH'),
    );
  });

  it('reports a signature that cannot be read as inconclusive, not as failed', async () => {
    const { store, image } = await storeWithImage();
    const signed = await signArtifact(store, 'v1', signerOf(alice), { references: REF, now: NOW });
    const layer = (
      (await fetchJson(store, signed.signatureManifest!))['layers'] as Descriptor[]
    )[0]!;
    await store.delete(layer);
    await assert.rejects(
      verifyWithPolicy(store, 'v1', trusting(new TrustSet({ certificates: [alice.cert] })), {
        now: NOW,
      }),
      (err: unknown) =>
        err instanceof VerificationInconclusiveError && err.code === 'NV2_ERR_CONTENT_NOT_FOUND',
    );
    const listed = await listSignatures(store, image);
    assert.equal(listed[0]!.error?.code, 'NV2_ERR_CONTENT_NOT_FOUND');
  });

  it('signs each child of an index with recursive, and stores signatures elsewhere', async () => {
    const { store, image } = await storeWithImage();
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [image] }),
    );
    const indexDescriptor = createDescriptor(MediaTypes.ociIndex, index);
    await store.push(indexDescriptor, index);
    await store.tag(indexDescriptor, 'multi');
    const elsewhere = createMemoryStore();
    const signed = await signArtifact(store, 'multi', signerOf(alice), {
      references: REF,
      now: NOW,
      recursive: true,
      signatureTarget: elsewhere,
    });
    assert.equal(signed.children.length, 1);
    assert.deepEqual(signed.children[0]!.subject, image);
    assert.equal((await listSignatures(store, indexDescriptor)).length, 0);
    assert.equal((await listSignatures(elsewhere, indexDescriptor)).length, 1);
    assert.equal((await listSignatures(elsewhere, image)).length, 1);
  });

  it('discovers the referrers tree, filtered by artifact type at the first level', async () => {
    const { store, image } = await storeWithImage();
    await signArtifact(store, 'v1', signerOf(alice), { references: REF, now: NOW });
    const sbomBlob = Buffer.from('{"sbom":true}');
    const sbomLayer = createDescriptor('application/spdx+json', sbomBlob);
    await store.push(sbomLayer, sbomBlob);
    const sbom = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        artifactType: 'application/spdx+json',
        config: EMPTY_CONFIG_DESCRIPTOR,
        layers: [sbomLayer],
        subject: image,
      }),
    );
    const sbomDescriptor = createDescriptor(MediaTypes.ociManifest, sbom);
    await store.push(sbomDescriptor, sbom);
    await store.tag(sbomDescriptor, 'sbom');
    await signArtifact(store, 'sbom', signerOf(alice), { references: REF, now: NOW });
    const tree = await discover(store, 'v1');
    assert.equal(tree.descriptor.digest, image.digest);
    assert.equal(tree.referrers.length, 2);
    const sbomNode = tree.referrers.find(
      (n) => n.descriptor.artifactType === 'application/spdx+json',
    );
    assert.equal(sbomNode?.referrers.length, 1);
    assert.equal(sbomNode?.referrers[0]!.descriptor.artifactType, MediaTypes.nv2ArtifactType);
    const filtered = await discover(store, 'v1', { artifactType: 'application/spdx+json' });
    assert.equal(filtered.referrers.length, 1);
    assert.equal(filtered.referrers[0]!.referrers.length, 1);
    const shallow = await discover(store, 'v1', { maxDepth: 1 });
    assert.equal(
      shallow.referrers.find((n) => n.descriptor.digest === sbomDescriptor.digest)?.referrers
        .length,
      0,
    );
  });
});
