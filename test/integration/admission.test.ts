import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import {
  ImageChecks,
  RegistryAccess,
  TRUST_HINT,
  createImageVerifier,
} from '../../src/admission/index.js';
import {
  type AdmissionFixture,
  admissionReview,
  podSpec,
  startAdmissionFixture,
  workload,
} from '../helpers/admission.js';
import { makeTlsCertificate } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

interface ReviewBody {
  apiVersion: string;
  kind: string;
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; message: string };
    warnings?: string[];
    patchType?: string;
    patch?: string;
  };
}

interface ProviderBody {
  apiVersion: string;
  kind: string;
  response: {
    idempotent: boolean;
    items: {
      key: string;
      value?: { image: string; digest: string; signer?: string };
      error?: string;
    }[];
    systemError?: string;
  };
}

const KINDS = ['Pod', 'Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'];
const SPEC_PATH: Record<string, string> = {
  Pod: '/spec',
  Deployment: '/spec/template/spec',
  ReplicaSet: '/spec/template/spec',
  StatefulSet: '/spec/template/spec',
  DaemonSet: '/spec/template/spec',
  Job: '/spec/template/spec',
  CronJob: '/spec/jobTemplate/spec/template/spec',
};

function patchOf(body: ReviewBody): { op: string; path: string; value: string }[] {
  assert.equal(body.response.patchType, 'JSONPatch');
  return JSON.parse(Buffer.from(body.response.patch!, 'base64').toString()) as {
    op: string;
    path: string;
    value: string;
  }[];
}

describe('admission server', () => {
  let fx: AdmissionFixture;
  before(async () => {
    fx = await startAdmissionFixture();
  });
  after(() => fx.close());

  const review = async (
    path: string,
    object: Record<string, unknown>,
    options = {},
  ): Promise<ReviewBody> => {
    const sent = admissionReview(object, options);
    const { status, body } = await fx.post(path, sent);
    assert.equal(status, 200, JSON.stringify(body));
    const answer = body as ReviewBody;
    assert.equal(answer.apiVersion, 'admission.k8s.io/v1');
    assert.equal(answer.kind, 'AdmissionReview');
    assert.equal(answer.response.uid, (sent['request'] as { uid: string }).uid);
    return answer;
  };

  it('allows a Pod whose containers, init and ephemeral containers are all signed, by tag, digest and docker.io short name', async () => {
    const { signed, signedDigests, shortName } = fx.images;
    const byDigest = `${signed[1]!.replace(/:v1$/, '')}@${signedDigests[1]!}`;
    const pod = workload(
      'Pod',
      podSpec([signed[0]!, byDigest, shortName], [signed[3]!], [signed[4]!]),
    );
    const answer = await review('/validate', pod);
    assert.equal(answer.response.allowed, true, JSON.stringify(answer));
    assert.equal(answer.response.patch, undefined);
    // Each image named by tag is flagged once; the one named by digest is not.
    assert.deepEqual(
      answer.response.warnings?.map((w) => w.split(' ')[0]),
      [signed[3], signed[0], shortName, signed[4]],
    );
    assert.match(
      answer.response.warnings![2]!,
      new RegExp(`^nginx:1.25 is named by tag: nv2 verified ${fx.images.shortNameDigest}`),
    );
    const pinned = workload('Pod', podSpec([byDigest]));
    assert.equal((await review('/validate', pinned)).response.warnings, undefined);
    const entry = fx.log.at(-2)!;
    assert.equal(entry['decision'], 'allowed');
    assert.equal(entry['endpoint'], 'validate');
    assert.equal((entry['images'] as unknown[]).length, 5);
  });

  for (const kind of KINDS) {
    it(`validates and mutates a ${kind}'s pod template`, async () => {
      const { signed, signedDigests, shortName, shortNameDigest, unsigned } = fx.images;
      const good = workload(kind, podSpec([signed[0]!, shortName], [signed[3]!]));
      const allowed = await review('/validate', good);
      assert.equal(allowed.response.allowed, true, JSON.stringify(allowed));

      const mutated = await review('/mutate', good);
      assert.equal(mutated.response.allowed, true);
      const base = SPEC_PATH[kind]!;
      assert.deepEqual(patchOf(mutated), [
        {
          op: 'replace',
          path: `${base}/initContainers/0/image`,
          value: `${signed[3]!.replace(/:v1$/, '')}@${signedDigests[3]!}`,
        },
        {
          op: 'replace',
          path: `${base}/containers/0/image`,
          value: `${signed[0]!.replace(/:v1$/, '')}@${signedDigests[0]!}`,
        },
        { op: 'replace', path: `${base}/containers/1/image`, value: `nginx@${shortNameDigest}` },
      ]);

      const bad = workload(kind, podSpec([signed[0]!], [unsigned]));
      const denied = await review('/validate', bad);
      assert.equal(denied.response.allowed, false);
      assert.equal(denied.response.status?.code, 403);
      assert.match(
        denied.response.status!.message,
        new RegExp(`^nv2 refused ${kind}/default/web: 1 image failed`),
      );
      assert.match(
        denied.response.status!.message,
        /initContainers\[init0\] .*unsigned:v1 \(sha256:[0-9a-f]{64}\): NV2_ERR_NO_SIGNATURE: unsigned/,
      );
      const deniedMutate = await review('/mutate', bad);
      assert.equal(deniedMutate.response.allowed, false);
      assert.equal(deniedMutate.response.patch, undefined);
    });
  }

  it('denies with a reason per refused image: unsigned, untrusted signer with the hint, expired, tampered', async () => {
    const { signed, unsigned, untrusted, expired, tampered } = fx.images;
    const missing = `${fx.registry.host}/signed/one:no-such-tag`;
    const pod = workload(
      'Pod',
      podSpec([signed[0]!, unsigned, untrusted, expired, tampered, missing]),
    );
    const answer = await review('/validate', pod);
    assert.equal(answer.response.allowed, false);
    const message = answer.response.status!.message;
    assert.match(message, /5 images failed verification/);
    assert.match(message, /c5\] [^ ]*no-such-tag: NV2_ERR_[A-Z_]+: /);
    assert.match(message, /c1\] [^ ]*unsigned:v1 .*NV2_ERR_NO_SIGNATURE: unsigned/);
    assert.match(
      message,
      /c2\] [^ ]*untrusted:v1 .*NV2_ERR_CERT_UNTRUSTED: untrusted signer: .*other signer/,
    );
    assert.ok(message.includes(TRUST_HINT), message);
    assert.match(message, /c3\] [^ ]*expired:v1 .*NV2_ERR_SIGNATURE_EXPIRED: expired/);
    assert.match(message, /c4\] [^ ]*tampered:v1 .*NV2_ERR_SIGNATURE_INVALID: invalid signature/);
    assert.doesNotMatch(message, /c0\]/);
    const entry = fx.log.at(-1)!;
    assert.equal(entry['decision'], 'denied');
  });

  it('does not patch images already named by digest', async () => {
    const { signed, signedDigests } = fx.images;
    const byDigest = `${signed[1]!.replace(/:v1$/, '')}@${signedDigests[1]!}`;
    const answer = await review('/mutate', workload('Pod', podSpec([byDigest])));
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patch, undefined);
  });

  it('checks the Pod of an ephemeralcontainers subresource update', async () => {
    const pod = workload('Pod', podSpec([fx.images.signed[0]!], [], [fx.images.unsigned]));
    const answer = await review('/validate', pod, {
      operation: 'UPDATE',
      subResource: 'ephemeralcontainers',
    });
    assert.equal(answer.response.allowed, false);
    assert.match(answer.response.status!.message, /ephemeralContainers\[debug0\]/);
  });

  it('honours dryRun: the same verdict, marked in the log', async () => {
    const pod = workload('Pod', podSpec([fx.images.unsigned]));
    const answer = await review('/validate', pod, { dryRun: true });
    assert.equal(answer.response.allowed, false);
    const entry = fx.log.at(-1)!;
    assert.equal(entry['dryRun'], true);
    assert.equal(entry['decision'], 'denied');
  });

  it('skips excluded namespaces, deletes and objects without pod specs', async () => {
    const bad = workload('Pod', podSpec([fx.images.unsigned]));
    const excluded = await review('/validate', bad, { namespace: 'nv2-system' });
    assert.equal(excluded.response.allowed, true);
    assert.equal(fx.log.at(-1)!['reason'], 'namespace excluded');
    const deleted = await review('/validate', bad, { operation: 'DELETE' });
    assert.equal(deleted.response.allowed, true);
    const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: {} };
    assert.equal((await review('/validate', configMap)).response.allowed, true);
  });

  it('refuses an image that is not a valid reference', async () => {
    const answer = await review('/validate', workload('Pod', podSpec(['Not A Reference'])));
    assert.equal(answer.response.allowed, false);
    assert.match(answer.response.status!.message, /NV2_ERR_INVALID_REFERENCE/);
  });

  it('answers a malformed review with 400 and a one-line error', async () => {
    const notJson = await fx.post('/validate', {
      apiVersion: 'admission.k8s.io/v1beta1',
      kind: 'AdmissionReview',
      request: {},
    });
    assert.equal(notJson.status, 400);
    assert.match(
      (notJson.body as { error: string }).error,
      /NV2_ERR_INVALID_ARGUMENT: AdmissionReview: apiVersion/,
    );
    assert.equal((await fx.get('/validate')).status, 405);
    assert.equal((await fx.get('/nothing')).status, 404);
  });

  it('serves Gatekeeper external data: a ProviderResponse item per key', async () => {
    const { signed, signedDigests, unsigned, shortName, shortNameDigest } = fx.images;
    const { status, body } = await fx.post('/provider', {
      apiVersion: 'externaldata.gatekeeper.sh/v1beta1',
      kind: 'ProviderRequest',
      request: { keys: [signed[0]!, unsigned, shortName] },
    });
    assert.equal(status, 200);
    const answer = body as ProviderBody;
    assert.equal(answer.apiVersion, 'externaldata.gatekeeper.sh/v1beta1');
    assert.equal(answer.kind, 'ProviderResponse');
    assert.equal(answer.response.idempotent, true);
    assert.equal(answer.response.systemError, undefined);
    const [one, two, three] = answer.response.items;
    assert.equal(one!.key, signed[0]);
    assert.equal(one!.value?.digest, signedDigests[0]);
    assert.match(one!.value!.signer!, /acme signer/);
    assert.equal(one!.error, undefined);
    assert.equal(two!.key, unsigned);
    assert.match(two!.error!, /^NV2_ERR_NO_SIGNATURE: /);
    assert.equal(two!.value, undefined);
    assert.equal(three!.value?.image, `nginx@${shortNameDigest}`);

    const wrong = await fx.post('/provider', {
      apiVersion: 'v1',
      kind: 'ProviderRequest',
      request: { keys: [] },
    });
    assert.equal(wrong.status, 400);
    assert.match(
      (wrong.body as ProviderBody).response.systemError!,
      /apiVersion must be externaldata/,
    );
  });

  it('answers a repeated review from the cache, without verifying again', async () => {
    const pod = workload('Pod', podSpec([fx.images.signed[2]!]));
    await review('/validate', pod);
    const first = fx.log.at(-1)!['images'] as { cached: boolean }[];
    assert.equal(first[0]!.cached, false);
    const before = fx.registry.records.filter((r) => r.path.includes('/referrers/')).length;
    await review('/validate', pod);
    const second = fx.log.at(-1)!['images'] as { cached: boolean }[];
    assert.equal(second[0]!.cached, true);
    const afterCount = fx.registry.records.filter((r) => r.path.includes('/referrers/')).length;
    assert.equal(afterCount, before);
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    assert.equal((await fx.get('/healthz')).status, 200);
    assert.equal((await fx.get('/readyz')).status, 200);
    const metrics = await fx.get('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(
      metrics.text,
      /nv2_admission_reviews_total\{endpoint="validate",decision="denied"\} [1-9]/,
    );
    assert.match(
      metrics.text,
      /nv2_admission_image_verifications_total\{result="verified",cache="hit"\} [1-9]/,
    );
    assert.match(metrics.text, /nv2_admission_review_duration_seconds_bucket/);
  });

  it('serves a new TLS certificate once the files change', async () => {
    const fingerprint = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(
          { host: '127.0.0.1', port: fx.server.port, rejectUnauthorized: false },
          () => {
            resolve(socket.getPeerCertificate().fingerprint256);
            socket.end();
          },
        );
        socket.on('error', reject);
      });
    const old = await fingerprint();
    const next = await makeTlsCertificate(await tempDir());
    const { readFile } = await import('node:fs/promises');
    await writeFile(fx.tls.key, await readFile(next.key));
    await writeFile(fx.tls.cert, await readFile(next.cert));
    let now = old;
    for (let i = 0; i < 100 && now === old; i++) {
      await new Promise((r) => setTimeout(r, 50));
      now = await fingerprint();
    }
    assert.notEqual(now, old);
    assert.ok(fx.log.some((e) => e['msg'] === 'TLS certificate reloaded'));
  });
});

describe('admission trust store', () => {
  it('reloads the trust store when the mounted files change, dropping cached verdicts', async () => {
    const fx = await startAdmissionFixture();
    try {
      const pod = workload('Pod', podSpec([fx.images.untrusted]));
      const before = (await fx.post('/validate', admissionReview(pod))).body as ReviewBody;
      assert.equal(before.response.allowed, false);
      const { mkdir } = await import('node:fs/promises');
      const { join } = await import('node:path');
      // A broken certificate is refused and the old store kept.
      const dir = join(fx.configDir, 'truststore/x509/ca/other');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'root.pem'), 'not a certificate');
      for (
        let i = 0;
        i < 100 &&
        !fx.log.some((e) => e['msg'] === 'trust store not reloaded; the previous one stays in use');
        i++
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(
        fx.log.some((e) => e['msg'] === 'trust store not reloaded; the previous one stays in use'),
      );
      await writeFile(join(dir, 'root.pem'), fx.otherRoot.certPem);
      for (let i = 0; i < 100 && !fx.log.some((e) => e['msg'] === 'trust store reloaded'); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const after = (await fx.post('/validate', admissionReview(pod))).body as ReviewBody;
      assert.equal(after.response.allowed, true, JSON.stringify(after));
    } finally {
      await fx.close();
    }
  });
});

describe('admission deadline', () => {
  it('refuses, as inconclusive, an image whose registry does not answer in time, and does not cache it', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const fx = await startAdmissionFixture({ deadlineMs: 600 });
    try {
      const registries = new RegistryAccess({ requestTimeoutMs: 300 });
      const verifier = await createImageVerifier({ configDir: fx.configDir, registries });
      const checks = new ImageChecks({ verifier, registries });
      const started = Date.now();
      const check = await checks.check(`127.0.0.1:${port}/app:v1`, AbortSignal.timeout(600));
      assert.ok(Date.now() - started < 5_000);
      assert.ok(check.error !== undefined);
      assert.match(check.error.code, /NV2_ERR_(REGISTRY_UNREACHABLE|VERIFICATION_TIMEOUT)/);
      const again = await checks.check(`127.0.0.1:${port}/app:v1`, AbortSignal.timeout(600));
      assert.equal(again.cached, false);
      await registries.close();
    } finally {
      await fx.close();
      silent.close();
    }
  });
});
