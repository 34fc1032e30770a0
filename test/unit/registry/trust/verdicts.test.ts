import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Digest, MediaTypes, digestOf } from '../../../../src/oci/index.js';
import { PolicyConfig, type TrustPolicyDocument } from '../../../../src/policy/index.js';
import {
  type RegistryStore,
  createMemoryDriver,
  createRegistryTrust,
  createStore,
} from '../../../../src/registry/index.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { rootCA } from '../../../helpers/pki.js';

const REPO = 'acme/app';
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

async function putBlob(store: RegistryStore, content: Buffer): Promise<Digest> {
  const digest = digestOf(content);
  await store.uploads.putBlob(
    REPO,
    digest,
    (async function* () {
      yield content;
    })(),
  );
  return digest;
}

/** An image (config + one layer) tagged v1; returns its descriptor. */
async function pushImage(store: RegistryStore, seed: string) {
  const config = json({ architecture: 'amd64', os: 'linux', seed });
  const layer = Buffer.from(`layer ${seed}`);
  const manifest = json({
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: await putBlob(store, config),
      size: config.length,
    },
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest: await putBlob(store, layer),
        size: layer.length,
      },
    ],
  });
  return (await store.manifests.put(REPO, seed, manifest, MediaTypes.ociManifest)).descriptor;
}

/** A signature manifest whose envelope is not a signature at all. */
async function pushBrokenSignature(
  store: RegistryStore,
  subject: { mediaType: string; digest: Digest; size: number },
): Promise<Digest> {
  const empty = Buffer.from('{}');
  const envelope = Buffer.from('not a JWS');
  const manifest = json({
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: MediaTypes.nv2ArtifactType,
    config: { mediaType: MediaTypes.ociEmpty, digest: await putBlob(store, empty), size: 2 },
    layers: [
      {
        mediaType: MediaTypes.nv2Signature,
        digest: await putBlob(store, envelope),
        size: envelope.length,
      },
    ],
    subject,
  });
  const digest = digestOf(manifest);
  await store.manifests.put(REPO, digest, manifest, MediaTypes.ociManifest);
  return digest;
}

function statement(level: string, scopes: string[] = ['*']) {
  return {
    name: `${level}-policy`,
    registryScopes: scopes,
    signatureVerification: { level },
    ...(level === 'skip' ? {} : { trustStores: ['ca:default'], trustedIdentities: ['*'] }),
  };
}

async function policy(dir: string, statements: object[]): Promise<PolicyConfig> {
  const store = join(dir, 'truststore', 'x509', 'ca', 'default');
  await mkdir(store, { recursive: true });
  await writeFile(join(store, 'root.pem'), (await rootCA('Test Root')).certPem);
  return new PolicyConfig(dir, {
    version: '1.0',
    trustPolicies: statements,
  } as unknown as TrustPolicyDocument);
}

describe('registry trust verdicts', () => {
  it('judges unsigned content, caches the verdict, and recomputes it when a referrer changes', async () => {
    const store = createStore(createMemoryDriver());
    const trust = createRegistryTrust({
      store,
      policy: await policy(await tempDir(), [statement('strict')]),
      registryName: 'registry.example.com',
    });
    const image = await pushImage(store, 'v1');
    const first = await trust.verdict(REPO, image.digest);
    assert.equal(first.status, 'unsigned');
    assert.equal(first.passed, false);
    assert.deepEqual(first.policy, { name: 'strict-policy', scope: '*', level: 'strict' });
    assert.match(first.reason, /^unsigned: acme\/app@sha256:[0-9a-f]{64} has no signature/);
    assert.equal(trust.cached(REPO, image.digest), first);

    const signature = await pushBrokenSignature(store, image);
    // Until told, the cached verdict stands (the HTTP layer tells it on every referrer push).
    assert.equal(await trust.verdict(REPO, image.digest), first);
    trust.referrersChanged(REPO, image.digest);
    assert.equal(trust.cached(REPO, image.digest), undefined);
    const second = await trust.verdict(REPO, image.digest);
    assert.equal(second.status, 'invalid');
    assert.equal(second.signatures[0]!.status, 'invalid');
    assert.equal(second.signatures.length, 1);
    assert.equal(second.signatures[0]!.digest, signature);
    assert.equal(second.signatures[0]!.format, 'nv2');
  });

  it('drops every verdict when the policy is replaced', async () => {
    const store = createStore(createMemoryDriver());
    const dir = await tempDir();
    const trust = createRegistryTrust({
      store,
      policy: await policy(dir, [statement('strict')]),
      registryName: 'registry.example.com',
    });
    const image = await pushImage(store, 'v1');
    assert.equal((await trust.verdict(REPO, image.digest)).status, 'unsigned');
    const generation = trust.generation;
    trust.replacePolicy(await policy(dir, [statement('skip')]));
    assert.equal(trust.generation, generation + 1);
    const skipped = await trust.verdict(REPO, image.digest);
    assert.equal(skipped.status, 'skipped');
    assert.equal(skipped.passed, true);
    trust.replacePolicy(
      await policy(dir, [statement('strict', ['registry.example.com/other/app'])]),
    );
    const none = await trust.verdict(REPO, image.digest);
    assert.equal(none.status, 'no-policy');
    assert.equal(none.passed, false);
  });

  it('decides pulls: rules, audit, referrers and roles exempt, an index that passes is allowed', async () => {
    const store = createStore(createMemoryDriver());
    const dir = await tempDir();
    const trust = createRegistryTrust({
      store,
      policy: await policy(dir, [statement('strict')]),
      registryName: 'registry.example.com',
      enforce: [
        { repositories: ['acme/*'], level: 'enforce' },
        { repositories: ['*'], level: 'audit' },
      ],
    });
    assert.equal(trust.enforcementOf('acme/app'), 'enforce');
    assert.equal(trust.enforcementOf('other'), 'audit');
    const image = await pushImage(store, 'v1');
    const facts = { hasSubject: false, mayBypass: false };
    const denied = await trust.decide(REPO, image.digest, facts);
    assert.equal(denied?.decision, 'deny');
    assert.equal(denied?.status, 'unsigned');
    assert.match(denied?.reason ?? '', /^unsigned: /);
    assert.equal(
      (await trust.decide(REPO, image.digest, { ...facts, hasSubject: true }))?.status,
      'referrer',
    );
    assert.equal(
      (await trust.decide(REPO, image.digest, { ...facts, mayBypass: true }))?.decision,
      'exempt',
    );

    const none = createRegistryTrust({
      store,
      policy: await policy(dir, [statement('strict')]),
      registryName: 'registry.example.com',
    });
    assert.equal(await none.decide(REPO, image.digest, facts), undefined);

    // A platform manifest passes through an index that passed (here: a skip policy).
    const skip = createRegistryTrust({
      store,
      policy: await policy(dir, [
        statement('strict'),
        statement('skip', ['registry.example.com/acme/app']),
      ]),
      registryName: 'registry.example.com',
      enforce: [{ repositories: ['acme/*'], level: 'enforce' }],
    });
    const indexBytes = json({
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: [image],
    });
    const index = (await store.manifests.put(REPO, 'multi', indexBytes, MediaTypes.ociIndex))
      .descriptor.digest;
    const allowed = await skip.decide(REPO, index, {
      ...facts,
      children: [image.digest],
    });
    assert.equal(allowed?.decision, 'allow');
    assert.equal(allowed?.status, 'skipped');
    assert.throws(
      () =>
        createRegistryTrust({
          store,
          policy: skip.policy,
          registryName: 'r',
          enforce: [{ repositories: ['Bad Pattern'], level: 'enforce' }],
        }),
      { code: 'NV2_ERR_INVALID_ARGUMENT' },
    );
  });
});
