import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ImageVerifier,
  ImageChecks,
  RegistryAccess,
  TtlCache,
  imageSites,
  parseAdmissionReview,
  parseProviderRequest,
  pinnedImage,
} from '../../src/admission/index.js';
import { VerificationFailedError } from '../../src/errors.js';
import type { Digest } from '../../src/oci/index.js';
import { pushImage } from '../helpers/admission.js';
import { startRegistry } from '../helpers/registry.js';
import { Repository, createRegistryClient } from '../../src/remote/index.js';

describe('TtlCache', () => {
  it('evicts the least recently used entry when full', () => {
    const cache = new TtlCache<string, number>(2);
    cache.set('a', 1, 1000);
    cache.set('b', 2, 1000);
    assert.equal(cache.get('a'), 1);
    cache.set('c', 3, 1000);
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('a'), 1);
    assert.equal(cache.get('c'), 3);
    assert.equal(cache.size, 2);
  });

  it('never returns an expired entry', () => {
    let now = 0;
    const cache = new TtlCache<string, number>(10, () => now);
    cache.set('a', 1, 100);
    now = 99;
    assert.equal(cache.get('a'), 1);
    now = 100;
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.size, 0);
  });

  it('holds nothing with zero entries or a zero lifetime', () => {
    const none = new TtlCache<string, number>(0);
    none.set('a', 1, 1000);
    assert.equal(none.get('a'), undefined);
    const cache = new TtlCache<string, number>(1);
    cache.set('a', 1, 0);
    assert.equal(cache.get('a'), undefined);
  });
});

describe('imageSites', () => {
  it('finds containers, init and ephemeral containers with JSON pointers', () => {
    const spec = {
      initContainers: [{ name: 'i', image: 'busybox' }],
      containers: [
        { name: 'a', image: 'nginx:1' },
        { name: 'noimage' },
        { name: 'b', image: 'reg.io/x@sha256:' + 'a'.repeat(64) },
      ],
      ephemeralContainers: [{ name: 'dbg', image: 'alpine' }],
    };
    assert.deepEqual(
      imageSites('CronJob', { spec: { jobTemplate: { spec: { template: { spec } } } } }).map(
        (s) => [s.pointer, s.list, s.container, s.image],
      ),
      [
        [
          '/spec/jobTemplate/spec/template/spec/initContainers/0/image',
          'initContainers',
          'i',
          'busybox',
        ],
        ['/spec/jobTemplate/spec/template/spec/containers/0/image', 'containers', 'a', 'nginx:1'],
        [
          '/spec/jobTemplate/spec/template/spec/containers/2/image',
          'containers',
          'b',
          spec.containers[2]!.image,
        ],
        [
          '/spec/jobTemplate/spec/template/spec/ephemeralContainers/0/image',
          'ephemeralContainers',
          'dbg',
          'alpine',
        ],
      ],
    );
  });

  it('finds nothing in unknown kinds or malformed objects', () => {
    assert.deepEqual(imageSites('ConfigMap', { spec: { containers: [{ image: 'x' }] } }), []);
    assert.deepEqual(imageSites('Deployment', { spec: { template: 'nope' } }), []);
    assert.deepEqual(imageSites('Pod', null), []);
  });
});

describe('pinnedImage', () => {
  const d = `sha256:${'b'.repeat(64)}`;
  it('replaces the tag, keeps the name as written', () => {
    assert.equal(pinnedImage('nginx', d), `nginx@${d}`);
    assert.equal(pinnedImage('nginx:1.25', d), `nginx@${d}`);
    assert.equal(pinnedImage('localhost:5000/app:v1', d), `localhost:5000/app@${d}`);
    assert.equal(pinnedImage('localhost:5000/app', d), `localhost:5000/app@${d}`);
  });
});

describe('request parsing', () => {
  it('refuses documents that are not AdmissionReview v1 requests', () => {
    for (const body of [
      null,
      [],
      { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} },
      { apiVersion: 'admission.k8s.io/v1', kind: 'Other' },
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' },
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u' } },
    ]) {
      assert.throws(() => parseAdmissionReview(body), { code: 'NV2_ERR_INVALID_ARGUMENT' });
    }
  });

  it('refuses ProviderRequests with bad keys', () => {
    const base = { apiVersion: 'externaldata.gatekeeper.sh/v1beta1', kind: 'ProviderRequest' };
    assert.deepEqual(parseProviderRequest({ ...base, request: { keys: ['a'] } }), ['a']);
    assert.throws(
      () => parseProviderRequest({ ...base, request: { keys: [1] } }),
      /list of strings/,
    );
    assert.throws(
      () => parseProviderRequest({ ...base, request: { keys: Array(257).fill('a') } }),
      /at most/,
    );
  });
});

describe('ImageChecks', () => {
  it('believes a tag only for the tag TTL, and remembers verdicts by digest', async () => {
    const registry = await startRegistry();
    const client = createRegistryClient();
    const repo = new Repository(registry.host, 'app', { client });
    const first = await pushImage(repo, 'v1', 'first');
    let now = 0;
    const verified: string[] = [];
    const verifier: ImageVerifier = {
      verify: (image) => {
        verified.push(image.digest);
        if (image.digest === first.digest)
          return Promise.resolve({ digest: image.digest, warnings: ['w'] });
        return Promise.reject(new VerificationFailedError('NV2_ERR_NO_SIGNATURE', 'unsigned'));
      },
    };
    const registries = new RegistryAccess();
    const checks = new ImageChecks({
      verifier,
      registries,
      tagTtlMs: 1000,
      cacheTtlMs: 60_000,
      now: () => now,
    });
    const image = `${registry.host}/app:v1`;
    const signal = new AbortController().signal;
    try {
      const a = await checks.check(image, signal);
      assert.equal(a.digest, first.digest);
      assert.deepEqual(a.warnings, ['w']);
      assert.equal(a.cached, false);
      const b = await checks.check(image, signal);
      assert.equal(b.cached, true);
      assert.deepEqual(verified, [first.digest]);

      const second = await pushImage(repo, 'v1', 'second');
      now = 500;
      assert.equal((await checks.check(image, signal)).digest, first.digest, 'tag still believed');
      now = 1000;
      const moved = await checks.check(image, signal);
      assert.equal(moved.digest, second.digest, 'tag resolved again after its TTL');
      assert.equal(moved.error?.code, 'NV2_ERR_NO_SIGNATURE');
      assert.deepEqual(verified, [first.digest, second.digest]);
      // The refusal is remembered for the tag TTL only.
      assert.equal(
        (await checks.check(`${registry.host}/app@${second.digest}`, signal)).cached,
        true,
      );
      now = 2001;
      assert.equal(
        (await checks.check(`${registry.host}/app@${second.digest as Digest}`, signal)).cached,
        false,
      );
      assert.throws(
        () => new ImageChecks({ verifier, registries, tagTtlMs: 10 * 60_000 }),
        /tag cache time/,
      );
    } finally {
      await client.close();
      await registries.close();
      await registry.close();
    }
  });
});
