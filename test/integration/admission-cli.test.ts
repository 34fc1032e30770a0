import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nv2 } from '../helpers/cli.js';
import { serveAdmission } from '../helpers/admission-cli.js';
import { tempDir } from '../helpers/fixtures.js';
import {
  type AdmissionFixture,
  admissionReview,
  podSpec,
  startAdmissionFixture,
  workload,
} from '../helpers/admission.js';

describe('nv2 admission', () => {
  let fx: AdmissionFixture;
  before(async () => {
    fx = await startAdmissionFixture();
  });
  after(() => fx.close());

  it('certs makes a serving certificate for the Service and prints the CA bundle', async () => {
    const out = join(await tempDir(), 'certs');
    const made = await nv2([
      'admission',
      'certs',
      '--service',
      'nv2-admission',
      '--namespace',
      'nv2-system',
      '--out',
      out,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const ca = new X509Certificate(await readFile(join(out, 'ca.crt')));
    assert.equal(Buffer.from(made.stdout.trim(), 'base64').toString(), ca.toString());
    const cert = new X509Certificate(await readFile(join(out, 'tls.crt')));
    assert.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey));
    assert.match(cert.subjectAltName!, /DNS:nv2-admission\.nv2-system\.svc\b/);
    assert.equal(cert.checkHost('nv2-admission.nv2-system.svc'), 'nv2-admission.nv2-system.svc');
    const again = await nv2([
      'admission',
      'certs',
      '--service',
      'nv2-admission',
      '--namespace',
      'nv2-system',
      '--out',
      out,
    ]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^nv2: NV2_ERR_FILE_EXISTS: .*--force\n$/);
    const bad = await nv2([
      'admission',
      'certs',
      '--service',
      'Bad_Name',
      '--namespace',
      'x',
      '--out',
      out,
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not a Kubernetes name/);
  });

  it('serve refuses to start without TLS, without a trust policy, or with a policy naming a missing store', async () => {
    const noTls = await nv2(['admission', 'serve', '--config-dir', fx.configDir]);
    assert.equal(noTls.code, 2);
    assert.match(noTls.stderr, /--tls-cert and --tls-key/);
    const serve = (configDir: string): ReturnType<typeof nv2> =>
      nv2([
        'admission',
        'serve',
        '--config-dir',
        configDir,
        '--tls-cert',
        fx.tls.cert,
        '--tls-key',
        fx.tls.key,
        '--addr',
        '127.0.0.1:0',
      ]);
    const empty = await tempDir();
    const noPolicy = await serve(empty);
    assert.equal(noPolicy.code, 2);
    assert.match(
      noPolicy.stderr,
      /^nv2: NV2_ERR_TRUST_POLICY_NOT_FOUND: there is no trust policy at .*trustpolicy\.json: .*ConfigMap.*\n$/,
    );
    await writeFile(
      join(empty, 'trustpolicy.json'),
      JSON.stringify({
        version: '1.0',
        trustPolicies: [
          {
            name: 'default',
            registryScopes: ['*'],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:acme'],
            trustedIdentities: ['*'],
          },
        ],
      }),
    );
    const noStore = await serve(empty);
    assert.equal(noStore.code, 2);
    assert.match(
      noStore.stderr,
      /^nv2: NV2_ERR_TRUST_STORE_NOT_FOUND: the trust policy statement "default" names the trust store ca:acme, which does not exist under .*\n$/,
    );
    await mkdir(join(empty, 'truststore/x509/ca/acme'), { recursive: true });
    const emptyStore = await serve(empty);
    assert.equal(emptyStore.code, 2);
    assert.match(emptyStore.stderr, /hold no certificate/);
  });

  it('serve answers AdmissionReviews over HTTPS with the certs it made, mirroring docker.io', async () => {
    const server = await serveAdmission([
      '--config-dir',
      fx.configDir,
      '--registry-mirror',
      `docker.io=${fx.registry.host}`,
      '--plain-http',
      '127.0.0.1:*',
    ]);
    try {
      const ok = await server.validate(
        admissionReview(
          workload('Deployment', podSpec([fx.images.shortName, fx.images.signed[0]!])),
        ),
      );
      assert.equal(ok.status, 200);
      assert.equal(ok.body.response.allowed, true, JSON.stringify(ok.body));
      const denied = await server.validate(
        admissionReview(workload('Pod', podSpec([fx.images.untrusted]))),
      );
      assert.equal(denied.body.response.allowed, false);
      assert.match(denied.body.response.status!.message, /untrusted signer/);
      // A decision is logged as it is answered: read the log once the server is gone.
      assert.equal(await server.stop(), 0, server.stderr());
      const decisions = server.lines.filter((l) => l['msg'] === 'admission decision');
      assert.equal(decisions.length, 2);
      assert.equal(decisions[1]!['decision'], 'denied');
      assert.equal(typeof decisions[1]!['durationMs'], 'number');
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
  });
});
