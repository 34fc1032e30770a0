/** signArtifact writes x5c in issuing order, repeats dropped, whatever order the caller gives. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryStore } from '../../../src/content/index.js';
import { EMPTY_CONFIG_DESCRIPTOR, signArtifact } from '../../../src/notary/index.js';
import { MediaTypes, createDescriptor } from '../../../src/oci/index.js';
import { parseSignature } from '../../../src/signature/index.js';
import { SAMPLE_MANIFEST } from '../../helpers/fixtures.js';
import { intermediateCA, issuedSigner, rootCA } from '../../helpers/pki.js';

describe('signArtifact: the certificate chain', () => {
  it('orders the chain and drops repeats; refuses a stranger', async () => {
    const root = await rootCA('Artifact Root');
    const intermediate = await intermediateCA(root, 'Artifact Intermediate');
    const leaf = await issuedSigner(intermediate, 'artifact.example');
    const store = createMemoryStore();
    const image = createDescriptor(MediaTypes.ociManifest, SAMPLE_MANIFEST);
    await store.push(EMPTY_CONFIG_DESCRIPTOR, Buffer.from('{}'));
    await store.push(image, SAMPLE_MANIFEST);
    await store.tag(image, 'v1');
    const chain = [leaf, root, intermediate, root].map((c) => c.cert.der);
    const signed = await signArtifact(store, 'v1', { key: leaf.key, certificateChain: chain });
    assert.deepEqual(
      parseSignature(signed.jws).x5cDer,
      [leaf, intermediate, root].map((c) => c.cert.der),
    );
    const stranger = await rootCA('Stranger');
    await assert.rejects(
      signArtifact(store, 'v1', { key: leaf.key, certificateChain: [...chain, stranger.cert.der] }),
      { code: 'NV2_ERR_INVALID_CERTIFICATE' },
    );
  });
});
