import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import {
  ImageChecks,
  MAX_REVIEW_BYTES,
  RegistryAccess,
  createImageVerifier,
} from '../../src/admission/index.js';
import { writeTrustPolicy } from '../../src/policy/index.js';
import {
  type AdmissionFixture,
  PARTNER_CA_ISSUERS_URL,
  admissionReview,
  fixtureTrustPolicy,
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
      value?: { image: string; digest: string; signer?: string; warnings: string[] };
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
      /c2\] [^ ]*untrusted:v1 .*NV2_ERR_CERT_UNTRUSTED: untrusted signer "CN=other signer" under the trust policy "acme" \(scope \*, strict\): /,
    );
    // How to trust it: the statement's store in the ConfigMap, and where the issuer publishes.
    assert.match(
      message,
      /add its root CA certificate to truststore\/x509\/ca\/acme\/ in the webhook's trust ConfigMap/,
    );
    assert.ok(message.includes(`publishes its certificate at ${PARTNER_CA_ISSUERS_URL}`), message);
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

  it('on a pods/ephemeralcontainers update (kubectl debug), checks and pins only spec.ephemeralContainers', async () => {
    // What the API server sends for `kubectl debug -it web --image=…`: an UPDATE of the
    // subresource, the whole Pod as object and oldObject, and the Pod's running containers
    // still named by tag (it was created before the webhook, or without the mutating one).
    const { signed, signedDigests, unsigned } = fx.images;
    const before = workload('Pod', podSpec([signed[0]!, unsigned], [signed[3]!]));
    const spec = before['spec'] as Record<string, unknown>;
    // An earlier debugging session left an ephemeral container, by tag: it cannot change.
    const earlier = { name: 'debugger-old', image: signed[2]! };
    before['spec'] = { ...spec, ephemeralContainers: [earlier] };
    const after = {
      ...before,
      spec: {
        ...spec,
        ephemeralContainers: [
          earlier,
          {
            name: 'debugger-x7k2p',
            image: signed[4]!,
            stdin: true,
            tty: true,
            targetContainerName: 'c0',
            terminationMessagePolicy: 'File',
            imagePullPolicy: 'IfNotPresent',
          },
        ],
      },
    };
    const sent = admissionReview(after, {
      operation: 'UPDATE',
      subResource: 'ephemeralcontainers',
    });
    const request = sent['request'] as Record<string, unknown>;
    Object.assign(request, {
      requestSubResource: 'ephemeralcontainers',
      oldObject: before,
      options: {
        apiVersion: 'meta.k8s.io/v1',
        kind: 'UpdateOptions',
        fieldManager: 'kubectl-debug',
      },
    });
    const { status, body } = await fx.post('/mutate', sent);
    assert.equal(status, 200, JSON.stringify(body));
    const answer = body as ReviewBody;
    // The unsigned image of spec.containers is not this update's business: the API server
    // refuses any change outside spec.ephemeralContainers on this subresource.
    assert.equal(answer.response.allowed, true, JSON.stringify(answer));
    assert.deepEqual(patchOf(answer), [
      {
        op: 'replace',
        path: '/spec/ephemeralContainers/1/image',
        value: `${signed[4]!.replace(/:v1$/, '')}@${signedDigests[4]!}`,
      },
    ]);
    const entry = fx.log.at(-1)!;
    assert.deepEqual(
      (entry['images'] as { image: string }[]).map((i) => i.image),
      [signed[4]],
    );
    // An unsigned ephemeral container is still refused.
    const refused = await review(
      '/mutate',
      { ...after, spec: { ...spec, ephemeralContainers: [{ name: 'd', image: unsigned }] } },
      { operation: 'UPDATE', subResource: 'ephemeralcontainers' },
    );
    assert.equal(refused.response.allowed, false);
    assert.equal(refused.response.patch, undefined);
    assert.match(refused.response.status!.message, /ephemeralContainers\[d\]/);
  });

  it('skips other subresources of a Pod: pods/status carries no image change', async () => {
    const pod = workload('Pod', podSpec([fx.images.unsigned]));
    const answer = await review('/mutate', pod, { operation: 'UPDATE', subResource: 'status' });
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patch, undefined);
    assert.equal(fx.log.at(-1)!['decision'], 'skipped');
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
    // The log line of a malformed request carries the documented `decision`.
    const entry = fx.log.at(-1)!;
    assert.equal(entry['decision'], 'error');
    assert.equal(entry['endpoint'], 'validate');
    assert.equal(entry['error'], 'NV2_ERR_INVALID_ARGUMENT');
    const badProvider = await fx.post('/provider', { kind: 'ProviderRequest' });
    assert.equal(badProvider.status, 400);
    assert.equal(fx.log.at(-1)!['decision'], 'error');
    assert.equal((await fx.get('/validate')).status, 405);
    assert.equal((await fx.get('/nothing')).status, 404);
  });

  it('answers a body over the limit with 413, on every endpoint', async () => {
    const pod = workload('Pod', podSpec([fx.images.signed[0]!]));
    (pod['metadata'] as Record<string, unknown>)['annotations'] = {
      big: 'x'.repeat(MAX_REVIEW_BYTES),
    };
    for (const path of ['/validate', '/mutate', '/provider']) {
      const { status, body } = await fx.post(path, admissionReview(pod));
      assert.equal(status, 413, path);
      const entry = fx.log.at(-1)!;
      assert.equal(entry['decision'], 'error', path);
      assert.equal(entry['error'], 'NV2_ERR_FILE_TOO_LARGE', path);
      if (path === '/provider') {
        assert.match((body as ProviderBody).response.systemError!, /NV2_ERR_FILE_TOO_LARGE/);
      } else {
        assert.match((body as { error: string }).error, /^NV2_ERR_FILE_TOO_LARGE: /);
      }
    }
    // The server still answers on new connections.
    const small = workload('Pod', podSpec([fx.images.signed[0]!]));
    assert.equal((await review('/validate', small)).response.allowed, true);
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

describe('admission trust policy', () => {
  let fx: AdmissionFixture;
  before(async () => {
    fx = await startAdmissionFixture();
  });
  after(() => fx.close());

  const validate = async (images: readonly string[]): Promise<ReviewBody> => {
    const { status, body } = await fx.post(
      '/validate',
      admissionReview(workload('Pod', podSpec(images))),
    );
    assert.equal(status, 200, JSON.stringify(body));
    return body as ReviewBody;
  };
  const decided = (): { image: string; policy?: string; level?: string; signer?: string }[] =>
    fx.log.at(-1)!['images'] as never;

  it('decides each image by the statement of its scope: two scopes, two trust stores', async () => {
    const { partner, partnerByAcme, untrusted, signed } = fx.images;
    const allowed = await validate([partner, signed[0]!]);
    assert.equal(allowed.response.allowed, true, JSON.stringify(allowed));
    assert.deepEqual(
      decided().map((i) => [i.image, i.policy, i.level, i.signer]),
      [
        [partner, 'partner', 'strict', 'CN=other signer'],
        [signed[0], 'acme', 'strict', 'CN=acme signer'],
      ],
    );
    // The partner's signer is trusted only under the partner's scope, and acme's only outside it.
    const denied = await validate([untrusted, partnerByAcme]);
    assert.equal(denied.response.allowed, false);
    const message = denied.response.status!.message;
    assert.match(message, /2 images failed/);
    assert.match(
      message,
      /c0\] [^ ]*untrusted:v1 .*NV2_ERR_CERT_UNTRUSTED: untrusted signer "CN=other signer" under the trust policy "acme"/,
    );
    assert.match(
      message,
      /c1\] [^ ]*partner\/acme-built:v1 .*NV2_ERR_CERT_UNTRUSTED: untrusted signer "CN=acme signer" under the trust policy "partner" \(scope [^ ]*\/partner\/\*, strict\).*truststore\/x509\/ca\/partner\//,
    );
  });

  it("matches scopes by the image's own name, also when its bytes come from a mirror", async () => {
    const { mirroredPartner } = fx.images;
    // busybox:1.36 is docker.io/library/busybox (statement "partner"), fetched from the mirror;
    // the same bytes by the mirror's own name fall under "*" (acme), which does not trust them.
    const allowed = await validate([mirroredPartner]);
    assert.equal(allowed.response.allowed, true, JSON.stringify(allowed));
    assert.equal(decided()[0]!.policy, 'partner');
    const byMirrorName = await validate([`${fx.registry.host}/library/busybox:1.36`]);
    assert.equal(byMirrorName.response.allowed, false);
    assert.match(byMirrorName.response.status!.message, /trust policy "acme"/);
  });

  it('admits under an audit scope, with what would have failed as warnings, in reviews and provider items', async () => {
    const { auditedUnsigned, auditedUntrusted } = fx.images;
    const answer = await validate([auditedUnsigned, auditedUntrusted]);
    assert.equal(answer.response.allowed, true, JSON.stringify(answer));
    const warnings = answer.response.warnings ?? [];
    assert.ok(
      warnings.some(
        (w) =>
          w.startsWith(`${auditedUnsigned}: `) &&
          /unsigned; the audit policy "audited" lets it through/.test(w),
      ),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some(
        (w) =>
          w.startsWith(`${auditedUntrusted}: `) &&
          /authenticity check failed for "CN=other signer" \(logged, not enforced: audit policy "audited"\): NV2_ERR_CERT_UNTRUSTED/.test(
            w,
          ),
      ),
      warnings.join('\n'),
    );
    assert.deepEqual(
      decided().map((i) => i.level),
      ['audit', 'audit'],
    );
    // Nothing was verified for the unsigned image, and the tag warning must not say otherwise;
    // the untrusted signature's did not verify either (audit logged its authenticity failure).
    for (const image of [auditedUnsigned, auditedUntrusted]) {
      const tagWarning = warnings.find((w) => w.startsWith(`${image} is named by tag`));
      assert.ok(tagWarning !== undefined, warnings.join('\n'));
      assert.doesNotMatch(tagWarning, /verified sha256:/);
      assert.match(tagWarning, /without a verified signature \(audit policy "audited"\)/);
    }
    const { body } = await fx.post('/provider', {
      apiVersion: 'externaldata.gatekeeper.sh/v1beta1',
      kind: 'ProviderRequest',
      request: { keys: [auditedUntrusted] },
    });
    const [item] = (body as ProviderBody).response.items;
    assert.equal(item!.error, undefined);
    assert.match(item!.value!.warnings.join('\n'), /authenticity/);
    // Audit logs authenticity rather than enforcing it: the signature counts, with its warning.
    assert.equal(item!.value!.signer, 'CN=other signer');
  });

  it('admits an expired signature under a permissive scope with a warning, and refuses it under strict', async () => {
    const answer = await validate([fx.images.lenientExpired]);
    assert.equal(answer.response.allowed, true, JSON.stringify(answer));
    assert.ok(
      answer.response.warnings!.some((w) =>
        /: expiry check failed for "CN=acme signer" \(logged, not enforced: permissive policy "lenient"\): NV2_ERR_SIGNATURE_EXPIRED/.test(
          w,
        ),
      ),
      answer.response.warnings!.join('\n'),
    );
    assert.equal(decided()[0]!.signer, 'CN=acme signer');
    const strict = await validate([fx.images.expired]);
    assert.equal(strict.response.allowed, false);
  });

  it('admits an unsigned image under a skip scope, looking for no signature', async () => {
    const before = fx.registry.records.filter((r) => r.path.includes('/referrers/')).length;
    const answer = await validate([fx.images.uncheckedUnsigned]);
    assert.equal(answer.response.allowed, true, JSON.stringify(answer));
    assert.equal(decided()[0]!.level, 'skip');
    assert.equal(decided()[0]!.signer, undefined);
    const after = fx.registry.records.filter((r) => r.path.includes('/referrers/')).length;
    assert.equal(after, before);
  });

  it('refuses an image no statement covers', async () => {
    const configDir = await tempDir();
    const { mkdir, writeFile: write } = await import('node:fs/promises');
    const { join } = await import('node:path');
    await mkdir(join(configDir, 'truststore/x509/ca/acme'), { recursive: true });
    await write(join(configDir, 'truststore/x509/ca/acme/root.pem'), fx.trustedRoot.certPem);
    await writeTrustPolicy(configDir, {
      version: '1.0',
      trustPolicies: [
        {
          name: 'signed-only',
          registryScopes: [`${fx.registry.host}/signed/*`],
          signatureVerification: { level: 'strict' },
          trustStores: ['ca:acme'],
          trustedIdentities: ['*'],
        },
      ],
    });
    const registries = new RegistryAccess();
    try {
      const verifier = await createImageVerifier({ configDir, registries });
      const checks = new ImageChecks({ verifier, registries });
      const signal = AbortSignal.timeout(5_000);
      const covered = await checks.check(fx.images.signed[0]!, signal);
      assert.equal(covered.error, undefined);
      const uncovered = await checks.check(fx.images.unsigned, signal);
      assert.equal(uncovered.error?.code, 'NV2_ERR_NO_APPLICABLE_POLICY');
      assert.match(uncovered.error.message, /no trust policy statement applies to .*\/unsigned/);
    } finally {
      await registries.close();
    }
  });
});

describe('admission trust policy reload', () => {
  it('reloads trustpolicy.json and the trust store when the mounted files change, keeping the old policy when the new one does not load', async () => {
    const fx = await startAdmissionFixture();
    const waitFor = async (msg: string, from: number): Promise<void> => {
      for (let i = 0; i < 200 && !fx.log.slice(from).some((e) => e['msg'] === msg); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(
        fx.log.slice(from).some((e) => e['msg'] === msg),
        `no "${msg}" in the log`,
      );
    };
    const validate = async (image: string): Promise<ReviewBody> =>
      (await fx.post('/validate', admissionReview(workload('Pod', podSpec([image])))))
        .body as ReviewBody;
    try {
      const { untrusted, signed, unsigned } = fx.images;
      assert.equal((await validate(untrusted)).response.allowed, false);
      const policy = fixtureTrustPolicy(fx.registry.host);

      // A policy that is not JSON is refused, and the old one stays in use.
      let mark = fx.log.length;
      await writeFile(join(fx.configDir, 'trustpolicy.json'), '{ "version": ');
      await waitFor('trust policy not reloaded; the previous one stays in use', mark);
      assert.equal(fx.log.at(-1)!['code'], 'NV2_ERR_TRUST_POLICY_INVALID');
      // So is one naming a store that is not there.
      mark = fx.log.length;
      await fx.writePolicy({
        ...policy,
        trustPolicies: policy.trustPolicies.map((s) =>
          s.name === 'acme' ? { ...s, trustStores: ['ca:missing'] } : s,
        ),
      });
      await waitFor('trust policy not reloaded; the previous one stays in use', mark);
      assert.equal(fx.log.at(-1)!['code'], 'NV2_ERR_TRUST_STORE_NOT_FOUND');
      assert.equal((await validate(signed[0]!)).response.allowed, true);

      // "*" now trusts the partner's store: the cached refusal is dropped.
      mark = fx.log.length;
      await fx.writePolicy({
        ...policy,
        trustPolicies: policy.trustPolicies.map((s) =>
          s.name === 'acme' ? { ...s, trustStores: ['ca:partner'] } : s,
        ),
      });
      await waitFor('trust policy reloaded', mark);
      assert.equal((await validate(untrusted)).response.allowed, true);
      assert.equal((await validate(signed[0]!)).response.allowed, false);

      // Without "*", an image outside every scope is refused for want of a policy.
      mark = fx.log.length;
      await fx.writePolicy({
        ...policy,
        trustPolicies: policy.trustPolicies.filter((s) => s.name !== 'acme'),
      });
      await waitFor('trust policy reloaded', mark);
      const uncovered = await validate(unsigned);
      assert.equal(uncovered.response.allowed, false);
      assert.match(uncovered.response.status!.message, /NV2_ERR_NO_APPLICABLE_POLICY/);

      // A certificate added to a store counts too.
      mark = fx.log.length;
      await writeFile(
        join(fx.configDir, 'truststore/x509/ca/partner/acme.pem'),
        fx.trustedRoot.certPem,
      );
      await waitFor('trust policy reloaded', mark);
      assert.equal((await validate(fx.images.partnerByAcme)).response.allowed, true);
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
