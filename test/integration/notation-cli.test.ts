/**
 * Notary Project signatures through the built CLI: every OCI layout of
 * test/vectors/notation/oci-layout judged by `nv2 verify oci-layout:…` under the trust
 * policy documents of test/vectors/notation/trustpolicy, as the vectors' README gives
 * the outcomes; list, discover, inspect and pull --signatures on them; and nv2's own `jws`
 * and `cose` signatures pushed to nv2's registry and to CNCF distribution, verified under a
 * notation-style policy, with manifests compared field by field with notation's.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  NotationMediaTypes,
  THUMBPRINT_ANNOTATION,
  buildSignatureManifest,
  parseNotationEnvelope,
} from '../../src/notation/index.js';
import type { Descriptor } from '../../src/oci/index.js';
import { type CliResult, nv2, ok, lines } from '../helpers/cli.js';
import { distributionMissing, startDistribution } from '../helpers/distribution.js';
import { VECTORS_DIR, tempDir } from '../helpers/fixtures.js';
import { startRegistry } from '../helpers/registry.js';
import { INVALID_TRUST_POLICY_DOCUMENTS } from '../helpers/vectors.js';

const NOTATION = fileURLToPath(new URL('notation/', VECTORS_DIR));
const SUBJECT = 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9';
const SCOPE = 'localhost:5000/test-repo';
/** A current time, inside e2e.crt's validity and after every expiry the layouts have. */
const NOW = '2025-01-01T00:00:00Z';

type Layout =
  | 'e2e'
  | 'e2e-valid-signature'
  | 'e2e-expired-signature'
  | 'e2e-invalid-signature'
  | 'e2e-with-expired-cert';

let layoutsDir: string | undefined;

/** A private copy of the vector layouts (a layout target may write beside what it reads). */
async function layouts(): Promise<string> {
  if (layoutsDir === undefined) {
    const dir = await tempDir();
    await cp(join(NOTATION, 'oci-layout'), dir, { recursive: true });
    layoutsDir = dir;
  }
  return layoutsDir;
}

/**
 * A configuration directory holding the trust policy document `policy` of the vectors and
 * the trust stores `stores` (`type:name` → certificate files of test/vectors/notation/certs).
 */
async function config(
  policy: string,
  stores: Readonly<Record<string, readonly string[]>> = { 'ca:e2e': ['e2e.crt'] },
): Promise<string> {
  const dir = join(await tempDir(), 'config');
  await mkdir(dir, { recursive: true });
  await cp(join(NOTATION, 'trustpolicy', policy), join(dir, 'trustpolicy.json'));
  for (const [store, certs] of Object.entries(stores)) {
    const [type, name] = store.split(':') as [string, string];
    const storeDir = join(dir, 'truststore', 'x509', type, name);
    await mkdir(storeDir, { recursive: true });
    for (const cert of certs) await cp(join(NOTATION, 'certs', cert), join(storeDir, cert));
  }
  return dir;
}

/** `nv2 verify` of a layout's subject under the configuration directory `configDir`. */
async function verifyLayout(
  configDir: string,
  layout: Layout,
  extra: readonly string[] = [],
  at = NOW,
): Promise<CliResult> {
  process.env['NV2_CONFIG_DIR'] = configDir;
  return nv2([
    'verify',
    `oci-layout:${join(await layouts(), layout)}@${SUBJECT}`,
    '--scope',
    SCOPE,
    '--at',
    at,
    ...extra,
  ]);
}

function passes(result: CliResult, what: string): void {
  assert.equal(result.code, 0, `${what}: ${result.stderr}`);
  assert.equal(result.stdout.trim(), SUBJECT, what);
}

function fails(result: CliResult, code: number, pattern: RegExp, what: string): void {
  assert.equal(result.code, code, `${what}: ${result.stdout}${result.stderr}`);
  assert.match(result.stderr, pattern, what);
  assert.equal(result.stdout, '', what);
}

describe('notation OCI layouts through nv2 verify', () => {
  it('trustpolicy.json (strict): valid verifies; expired signature, invalid signature, expired certificate and unsigned fail', async () => {
    const dir = await config('trustpolicy.json');
    passes(await verifyLayout(dir, 'e2e-valid-signature'), 'valid');
    fails(
      await verifyLayout(dir, 'e2e-expired-signature'),
      1,
      /NV2_ERR_NO_VALID_SIGNATURE: .*expiry: digital signature has expired on "Tue, 27 Jun 2023 05:21:21 \+0000"/,
      'expired signature',
    );
    fails(
      await verifyLayout(dir, 'e2e-invalid-signature'),
      1,
      /NV2_ERR_NO_VALID_SIGNATURE: .*NV2_ERR_UNSUPPORTED_SIGNATURE_FORMAT.*application\/vnd\.oci\.image\.layer\.v1\.tar/,
      'invalid signature',
    );
    fails(await verifyLayout(dir, 'e2e'), 1, /NV2_ERR_NO_SIGNATURE: /, 'unsigned');
    // The subject by tag instead of digest.
    process.env['NV2_CONFIG_DIR'] = dir;
    passes(
      await nv2([
        'verify',
        `oci-layout:${join(await layouts(), 'e2e-valid-signature')}:v1`,
        '--scope',
        SCOPE,
        '--at',
        NOW,
      ]),
      'valid by tag',
    );
  });

  it('the expired signature verifies at strict inside its one minute; the expired certificate inside its day', async () => {
    const dir = await config('trustpolicy.json');
    passes(
      await verifyLayout(dir, 'e2e-expired-signature', [], '2023-06-27T05:21:00Z'),
      'expired signature before its expiry',
    );
    const expiredCert = await config('trustpolicy.json', { 'ca:e2e': ['expired_e2e.crt'] });
    passes(
      await verifyLayout(expiredCert, 'e2e-with-expired-cert', [], '2023-06-27T06:08:00Z'),
      'expired certificate inside its validity',
    );
    fails(
      await verifyLayout(expiredCert, 'e2e-with-expired-cert'),
      1,
      /authenticTimestamp: verification time is after certificate "O=Internet Widgits Pty Ltd,ST=Some-State,C=AU" validity period, it was expired at "Tue, 27 Jun 2023 06:10:00 \+0000"/,
      'expired certificate later',
    );
  });

  it('an unrelated anchor (new_e2e.crt) fails authenticity at strict and permissive', async () => {
    for (const policy of ['trustpolicy.json', 'permissive_trustpolicy.json']) {
      const dir = await config(policy, { 'ca:e2e': ['new_e2e.crt'] });
      fails(
        await verifyLayout(dir, 'e2e-valid-signature'),
        1,
        /authenticity: the signature's certificate chain does not contain any trusted certificate/,
        policy,
      );
    }
  });

  it('trusted identities: a matching subject verifies, a different one fails authenticity', async () => {
    passes(
      await verifyLayout(
        await config('valid_trusted_identity_trustpolicy.json'),
        'e2e-valid-signature',
      ),
      'valid identity',
    );
    passes(
      await verifyLayout(
        await config('multiple_trusted_identity_trustpolicy.json'),
        'e2e-valid-signature',
      ),
      'multiple identities',
    );
    fails(
      await verifyLayout(
        await config('invalid_trusted_identity_trustpolicy.json'),
        'e2e-valid-signature',
      ),
      1,
      /signing certificate from the digital signature does not match the X\.509 trusted identities/,
      'other identity',
    );
  });

  it('permissive: expiry and an expired certificate are logged; integrity is enforced', async () => {
    const dir = await config('permissive_trustpolicy.json');
    const expired = await verifyLayout(dir, 'e2e-expired-signature');
    passes(expired, 'expired signature');
    assert.match(
      expired.stderr,
      /warning: .*expiry: digital signature has expired.*\(logged, not enforced\)/,
    );
    const expiredCert = await verifyLayout(
      await config('permissive_trustpolicy.json', { 'ca:e2e': ['expired_e2e.crt'] }),
      'e2e-with-expired-cert',
    );
    passes(expiredCert, 'expired certificate');
    assert.match(expiredCert.stderr, /warning: .*authenticTimestamp: .*\(logged, not enforced\)/);
    fails(
      await verifyLayout(dir, 'e2e-invalid-signature'),
      1,
      /NV2_ERR_NO_VALID_SIGNATURE/,
      'invalid',
    );
  });

  it("audit: as permissive, an untrusted signer is logged; integrity is enforced; unsigned passes with a warning (nv2's deliberate difference)", async () => {
    const dir = await config('audit_trustpolicy.json');
    passes(await verifyLayout(dir, 'e2e-expired-signature'), 'expired signature');
    passes(
      await verifyLayout(
        await config('audit_trustpolicy.json', { 'ca:e2e': ['expired_e2e.crt'] }),
        'e2e-with-expired-cert',
      ),
      'expired certificate',
    );
    const untrusted = await verifyLayout(
      await config('audit_trustpolicy.json', { 'ca:e2e': ['new_e2e.crt'] }),
      'e2e-valid-signature',
    );
    passes(untrusted, 'untrusted signer');
    assert.match(untrusted.stderr, /warning: .*authenticity: .*\(logged, not enforced\)/);
    fails(
      await verifyLayout(dir, 'e2e-invalid-signature'),
      1,
      /NV2_ERR_NO_VALID_SIGNATURE/,
      'invalid',
    );
    const unsigned = await verifyLayout(dir, 'e2e');
    passes(unsigned, 'unsigned');
    assert.match(unsigned.stderr, /warning: .*has no signatures; level audit lets it through/);
  });

  it('skip: nothing is verified, not even an invalid signature', async () => {
    const dir = await config('skip_trustpolicy.json', {});
    passes(await verifyLayout(dir, 'e2e-invalid-signature'), 'invalid');
    passes(await verifyLayout(dir, 'e2e'), 'unsigned');
  });

  it('overrides: strict with everything but integrity logged passes; permissive and audit with expiry enforced fail', async () => {
    const strict = await config('override_strict_trustpolicy.json');
    passes(await verifyLayout(strict, 'e2e-expired-signature'), 'strict: expired signature');
    passes(
      await verifyLayout(
        await config('override_strict_trustpolicy.json', { 'ca:e2e': ['expired_e2e.crt'] }),
        'e2e-with-expired-cert',
      ),
      'strict: expired certificate',
    );
    passes(
      await verifyLayout(
        await config('override_strict_trustpolicy.json', { 'ca:e2e': ['new_e2e.crt'] }),
        'e2e-valid-signature',
      ),
      'strict: untrusted signer',
    );
    fails(
      await verifyLayout(
        await config('override_permissive_trustpolicy.json'),
        'e2e-expired-signature',
      ),
      1,
      /expiry: digital signature has expired/,
      'permissive: expiry enforced',
    );
    passes(
      await verifyLayout(
        await config('override_permissive_trustpolicy.json', { 'ca:e2e': ['new_e2e.crt'] }),
        'e2e-valid-signature',
      ),
      'permissive: authenticity logged',
    );
    fails(
      await verifyLayout(await config('override_audit_trustpolicy.json'), 'e2e-expired-signature'),
      1,
      /expiry: digital signature has expired/,
      'audit: expiry enforced',
    );
  });

  it('a named trust store that does not exist, and a repository no statement covers, are refused', async () => {
    fails(
      await verifyLayout(
        await config('invalid_trust_store_trustpolicy.json'),
        'e2e-valid-signature',
      ),
      2,
      /NV2_ERR_TRUST_STORE_NOT_FOUND: .*invalid_store/,
      'missing store',
    );
    fails(
      await verifyLayout(
        await config('invalid_registry_scope_trustpolicy.json'),
        'e2e-valid-signature',
      ),
      1,
      /NV2_ERR_NO_APPLICABLE_POLICY: /,
      'no applicable policy',
    );
    const multi = await config('multi_statements_with_wildcard_registry_scope_trustpolicy.json');
    passes(await verifyLayout(multi, 'e2e-valid-signature'), 'wildcard statement');
    process.env['NV2_CONFIG_DIR'] = multi;
    const exact = await nv2([
      'verify',
      `oci-layout:${join(await layouts(), 'e2e-valid-signature')}@${SUBJECT}`,
      '--scope',
      'localhost:5000/test-repo9',
      '--at',
      NOW,
      '--explain',
    ]);
    passes(exact, 'exact statement');
    assert.match(
      exact.stderr,
      /statement: {2}"e2e" \(matched by scope localhost:5000\/test-repo9\)/,
    );
  });

  it('timestamps: a tsa store with verifyTimestamp always requires a countersignature; afterCertExpiry does not while the certificate is valid', async () => {
    const stores = { 'ca:e2e': ['e2e.crt'], 'tsa:e2e': ['globalsignRoot.cer'] };
    fails(
      await verifyLayout(await config('timestamp_trustpolicy.json', stores), 'e2e-valid-signature'),
      1,
      /authenticTimestamp: no timestamp countersignature was found in the signature envelope/,
      'always',
    );
    passes(
      await verifyLayout(
        await config('timestamp_after_cert_expiry_trustpolicy.json', stores),
        'e2e-valid-signature',
      ),
      'afterCertExpiry',
    );
  });

  it('required user metadata the signature lacks fails integrity', async () => {
    fails(
      await verifyLayout(await config('trustpolicy.json'), 'e2e-valid-signature', [
        '--user-metadata',
        'env=prod',
      ]),
      1,
      /integrity: signature has no user metadata "env"/,
      'metadata',
    );
  });

  it('every invalid trust policy document is refused before anything is verified', async () => {
    const invalid = [...INVALID_TRUST_POLICY_DOCUMENTS];
    const all = (await readdir(join(NOTATION, 'trustpolicy'))).length;
    assert.ok(invalid.length < all);
    for (const policy of invalid) {
      fails(
        await verifyLayout(await config(policy), 'e2e-valid-signature'),
        2,
        /NV2_ERR_TRUST_POLICY_INVALID: /,
        policy,
      );
    }
  });
});

/** A signature manifest as JSON. */
interface ManifestJson {
  readonly schemaVersion: number;
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly config: Descriptor & { readonly data?: string };
  readonly layers: readonly Descriptor[];
  readonly subject: Descriptor;
  readonly annotations: Readonly<Record<string, string>>;
}

/** The signature manifest notation pushed for e2e-valid-signature, as the layout holds it. */
async function notationManifest(): Promise<ManifestJson> {
  const dir = join(NOTATION, 'oci-layout', 'e2e-valid-signature');
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  for (const m of index.manifests) {
    const bytes = await readFile(join(dir, 'blobs', 'sha256', m.digest.slice('sha256:'.length)));
    const json = JSON.parse(bytes.toString()) as ManifestJson;
    if (json.subject !== undefined) return json;
  }
  throw new Error('no signature manifest in the layout');
}

const noDistribution = distributionMissing();

for (const name of ['nv2', 'distribution'] as const) {
  describe(
    `nv2 sign --signature-format jws and cose against ${name === 'nv2' ? "nv2's registry" : 'CNCF distribution 2.8'}`,
    { skip: name === 'distribution' ? noDistribution : undefined },
    () => {
      let host: string;
      let close: () => Promise<void>;
      let work: string;
      let ref: string;
      let configDir: string;
      const signed: Partial<Record<'jws' | 'cose', string>> = {};

      before(async () => {
        if (name === 'nv2') {
          const registry = await startRegistry();
          host = registry.host;
          close = () => registry.close();
        } else {
          const registry = await startDistribution();
          host = registry.host;
          close = () => registry.close();
        }
        work = await tempDir();
        ref = `${host}/notation/net-monitor:v1`;
        // The vectors' subject, so that nv2's signature manifests can be set beside notation's.
        ok(
          await nv2(['copy', `oci-layout:${join(await layouts(), 'e2e')}:v1`, ref]),
          'copy subject',
        );
        ok(
          await nv2([
            'cert',
            'generate',
            '--ca',
            '--cn',
            'Wabbit Networks Root',
            '--key-type',
            'rsa-3072',
            '--name',
            'root',
            '--out-dir',
            work,
          ]),
          'root',
        );
        ok(
          await nv2([
            'cert',
            'generate',
            '--cn',
            'wabbit-networks.io',
            '--name',
            'signer',
            '--out-dir',
            work,
            '--issuer-key',
            join(work, 'root.key'),
            '--issuer-cert',
            join(work, 'root.crt'),
          ]),
          'signer',
        );
        configDir = join(work, 'config');
        await mkdir(join(configDir, 'truststore', 'x509', 'ca', 'wabbit-networks'), {
          recursive: true,
        });
        await cp(
          join(work, 'root.crt'),
          join(configDir, 'truststore', 'x509', 'ca', 'wabbit-networks', 'root.crt'),
        );
        await writeFile(
          join(configDir, 'trustpolicy.json'),
          JSON.stringify({
            version: '1.0',
            trustPolicies: [
              {
                name: 'wabbit-networks-images',
                registryScopes: [`${host}/notation/net-monitor`],
                signatureVerification: { level: 'strict' },
                trustStores: ['ca:wabbit-networks'],
                trustedIdentities: ['*'],
              },
            ],
          }),
        );
      });
      after(async () => close());

      for (const format of ['jws', 'cose'] as const) {
        it(`signs in ${format} with user metadata and pushes notation's signature manifest`, async () => {
          const out = lines(
            ok(
              await nv2([
                'sign',
                '--signature-format',
                format,
                '-k',
                join(work, 'signer.key'),
                '-c',
                join(work, 'signer.crt'),
                '-m',
                'env=prod',
                '-e',
                '30d',
                ref,
              ]),
              `sign ${format}`,
            ).stdout,
          );
          assert.equal(out[0], SUBJECT);
          assert.match(out[1]!, /^sha256:[0-9a-f]{64}$/);
          signed[format] = out[1]!;
        });
      }

      it('verifies both under a notation-style trust policy, with the required user metadata', async () => {
        process.env['NV2_CONFIG_DIR'] = configDir;
        const verified = ok(await nv2(['verify', ref, '-m', 'env=prod']), 'verify by policy');
        assert.equal(verified.stdout, `${SUBJECT}\n`);
        assert.match(verified.stderr, /2 signatures found, 2 verified/);
        const json = JSON.parse(
          ok(await nv2(['verify', ref, '--output', 'json']), 'verify json').stdout,
        ) as { signatures: { envelopeMediaType: string; verified: boolean }[] };
        assert.deepEqual(json.signatures.map((s) => [s.envelopeMediaType, s.verified]).sort(), [
          [NotationMediaTypes.cose, true],
          [NotationMediaTypes.jws, true],
        ]);
        fails(
          await nv2(['verify', ref, '-m', 'env=staging']),
          1,
          /integrity: signature's user metadata "env" is "prod", not "staging"/,
          'other metadata',
        );
        assert.equal(
          ok(await nv2(['pull', '-m', 'env=prod', ref]), 'pull by policy').stdout,
          `${host}/notation/net-monitor@${SUBJECT}\n`,
        );
        // With the root on the command line instead of a policy.
        const byCa = ok(
          await nv2(['verify', '--ca-cert', join(work, 'root.crt'), '-m', 'env=prod', ref]),
          'verify --ca-cert',
        );
        assert.equal(byCa.stdout, `${SUBJECT}\n`);
        assert.match(byCa.stderr, /2 signatures found, 2 verified/);
        assert.match(byCa.stderr, /verified \(cose\), signed by CN=wabbit-networks\.io/);
        fails(
          await nv2(['verify', '--ca-cert', join(NOTATION, 'certs', 'NotationTestRoot.pem'), ref]),
          1,
          /NV2_ERR_NO_VALID_SIGNATURE: .*NV2_ERR_CERT_UNTRUSTED/,
          'untrusted root',
        );
      });

      it("pushes manifests field by field like notation's, and byte for byte as notation's builder makes them", async () => {
        const theirs = await notationManifest();
        for (const format of ['jws', 'cose'] as const) {
          const res = await fetch(
            `http://${host}/v2/notation/net-monitor/manifests/${signed[format]}`,
            {
              headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
            },
          );
          assert.equal(res.status, 200);
          const bytes = Buffer.from(await res.arrayBuffer());
          const ours = JSON.parse(bytes.toString()) as ManifestJson;
          assert.equal(ours['schemaVersion'], theirs['schemaVersion']);
          assert.equal(ours['mediaType'], theirs['mediaType']);
          // notation's current form: artifactType set, the empty config; the vectors hold the
          // older form, whose config media type is the artifact type.
          assert.equal(ours['artifactType'], NotationMediaTypes.signature);
          assert.equal(theirs.config.mediaType, ours['artifactType']);
          assert.deepEqual(ours['config'], {
            mediaType: 'application/vnd.oci.empty.v1+json',
            digest: theirs.config.digest,
            size: 2,
            data: 'e30=',
          });
          assert.equal(ours['layers'].length, 1);
          assert.equal(
            ours.layers[0]!.mediaType,
            format === 'jws' ? NotationMediaTypes.jws : NotationMediaTypes.cose,
          );
          assert.deepEqual(ours['subject'], theirs['subject']);
          assert.deepEqual(
            Object.keys(ours['annotations']).sort(),
            Object.keys(theirs.annotations).sort(),
          );
          assert.match(
            ours.annotations['org.opencontainers.image.created']!,
            /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
          );
          // The envelope: its chain's fingerprints, lower-case, are the thumbprint annotation.
          const layer = ours.layers[0]!;
          const blob = await fetch(`http://${host}/v2/notation/net-monitor/blobs/${layer.digest}`);
          const envelope = Buffer.from(await blob.arrayBuffer());
          const parsed = parseNotationEnvelope(envelope, layer.mediaType);
          assert.equal(
            parsed.signingAgent,
            `nv2/${(JSON.parse(await readFile(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string }).version}`,
          );
          assert.ok(parsed.expiry !== undefined);
          assert.deepEqual(
            JSON.parse(ours.annotations[THUMBPRINT_ANNOTATION]!),
            parsed.certificateChain.map((c) => c.fingerprintSha256),
          );
          // Key order and bytes are those of notation's builder (which reproduces the vectors'
          // manifests byte for byte).
          const rebuilt = buildSignatureManifest({
            subject: theirs.subject,
            envelope,
            envelopeMediaType: layer.mediaType,
            certificateChain: parsed.certificateChain,
            created: new Date(ours.annotations['org.opencontainers.image.created']!),
          });
          assert.equal(bytes.toString(), rebuilt.manifest.toString());
        }
      });

      it('the referrers listing names both as Notary Project signatures', async () => {
        if (name === 'nv2') {
          const res = await fetch(`http://${host}/v2/notation/net-monitor/referrers/${SUBJECT}`);
          const index = (await res.json()) as {
            manifests: { digest: string; artifactType: string }[];
          };
          assert.deepEqual(
            index.manifests.map((m) => [m.digest, m.artifactType]).sort(),
            [signed.jws, signed.cose].map((d) => [d, NotationMediaTypes.signature]).sort(),
          );
        } else {
          // No referrers API: the referrers tag schema index, as notation writes it.
          const res = await fetch(
            `http://${host}/v2/notation/net-monitor/manifests/sha256-${SUBJECT.slice(7)}`,
            { headers: { accept: 'application/vnd.oci.image.index.v1+json' } },
          );
          assert.equal(res.status, 200);
          const index = (await res.json()) as {
            manifests: { digest: string; artifactType: string; annotations: object }[];
          };
          assert.deepEqual(
            index.manifests.map((m) => [m.digest, m.artifactType]).sort(),
            [signed.jws, signed.cose].map((d) => [d, NotationMediaTypes.signature]).sort(),
          );
          for (const m of index.manifests) assert.ok(THUMBPRINT_ANNOTATION in m.annotations);
        }
      });

      it('list, discover and pull --signatures recognize both formats', async () => {
        const listed = JSON.parse(
          ok(await nv2(['list', '--output', 'json', ref]), 'list').stdout,
        ) as {
          signatures: {
            digest: string;
            format: string;
            signer: string;
            algorithm: string;
            signedAt: string;
            userMetadata: object;
          }[];
        };
        const byFormat = Object.fromEntries(listed.signatures.map((s) => [s.format, s]));
        for (const format of ['jws', 'cose'] as const) {
          assert.equal(byFormat[format]!.digest, signed[format]);
          assert.equal(byFormat[format]!.signer, 'CN=wabbit-networks.io');
          assert.equal(byFormat[format]!.algorithm, 'ES256');
          assert.deepEqual(byFormat[format]!.userMetadata, { env: 'prod' });
          assert.ok(!Number.isNaN(Date.parse(byFormat[format]!.signedAt)));
        }
        const table = lines(ok(await nv2(['list', ref]), 'list text').stdout);
        assert.match(table[0]!, /^DIGEST\s+FORMAT\s+SIGNER\s+SIGNED AT\s+ALG\s+REFERENCES$/);
        assert.ok(
          table.some((l) =>
            new RegExp(`^${signed.cose}\\s+cose\\s+CN=wabbit-networks\\.io\\s+\\d{4}-`).test(l),
          ),
        );
        const tree = ok(await nv2(['discover', ref]), 'discover').stdout;
        assert.ok(tree.includes(`${NotationMediaTypes.signature} ${signed.jws} (jws)`));
        assert.ok(tree.includes(`${NotationMediaTypes.signature} ${signed.cose} (cose)`));
        const dir = join(work, 'pulled');
        await mkdir(dir);
        const files = lines(ok(await nv2(['pull', '--signatures', '-o', dir, ref]), 'pull').stdout);
        assert.equal(files.length, 2);
        assert.ok(files.some((f) => f.endsWith('.jws.json')));
        assert.ok(files.some((f) => f.endsWith('.cose')));
        for (const file of files) {
          assert.equal(
            ok(
              await nv2(['verify', '-f', file, '--ca-cert', join(work, 'root.crt'), ref]),
              `verify -f ${file}`,
            ).stdout,
            `${SUBJECT}\n`,
          );
          assert.match(
            ok(await nv2(['inspect', file]), 'inspect').stdout,
            /^Envelope: application\/(jose\+json|cose) \(Notary Project\)/,
          );
        }
      });

      it('refuses user metadata for nv2 signatures, reserved keys, and the nv2-only flags', async () => {
        const key = join(work, 'signer.key');
        const cert = join(work, 'signer.crt');
        fails(
          await nv2(['sign', '-k', key, '-c', cert, '-m', 'env=prod', ref]),
          2,
          /NV2_ERR_INVALID_ARGUMENT: user metadata .* --signature-format jws or cose/,
          'nv2 metadata',
        );
        fails(
          await nv2([
            'sign',
            '--signature-format',
            'cose',
            '-k',
            key,
            '-c',
            cert,
            '-m',
            'io.cncf.notary.x=1',
            ref,
          ]),
          2,
          /reserved/,
          'reserved key',
        );
        fails(
          await nv2(['sign', '--signature-format', 'jws', '-k', key, '-c', cert, '-r', ref, ref]),
          2,
          /-r\/--reference .* does not apply to --signature-format jws/,
          '-r',
        );
        fails(
          await nv2(['sign', '--signature-format', 'pgp', '-k', key, '-c', cert, ref]),
          2,
          /unknown signature format "pgp"/,
          'format',
        );
        fails(
          await nv2(['sign', '--signature-format', 'jws', '-k', key, ref]),
          2,
          /needs the signing certificate and its chain/,
          'no chain',
        );
      });
    },
  );
}

describe('nv2 sign --signature-format jws and cose for OCI layouts and files', () => {
  it('signs an OCI layout in place and verifies it by policy; signs a file and verifies it with -f', async () => {
    const work = await tempDir();
    ok(
      await nv2([
        'cert',
        'generate',
        '--ca',
        '--cn',
        'Layout Root',
        '--name',
        'root',
        '--out-dir',
        work,
      ]),
      'root',
    );
    ok(
      await nv2([
        'cert',
        'generate',
        '--cn',
        'layout-signer',
        '--name',
        'signer',
        '--out-dir',
        work,
        '--issuer-key',
        join(work, 'root.key'),
        '--issuer-cert',
        join(work, 'root.crt'),
      ]),
      'signer',
    );
    const layout = join(work, 'layout');
    await cp(join(NOTATION, 'oci-layout', 'e2e'), layout, { recursive: true });
    const sign = (format: string, target: string, extra: string[] = []) =>
      nv2([
        'sign',
        '--signature-format',
        format,
        '-k',
        join(work, 'signer.key'),
        '-c',
        join(work, 'signer.crt'),
        ...extra,
        target,
      ]);
    for (const format of ['jws', 'cose']) {
      const out = lines(ok(await sign(format, `oci-layout:${layout}:v1`), `sign ${format}`).stdout);
      assert.equal(out[0], SUBJECT);
    }
    const dir = join(work, 'config');
    await mkdir(join(dir, 'truststore', 'x509', 'ca', 'layout'), { recursive: true });
    await cp(join(work, 'root.crt'), join(dir, 'truststore', 'x509', 'ca', 'layout', 'root.crt'));
    await writeFile(
      join(dir, 'trustpolicy.json'),
      JSON.stringify({
        version: '1.0',
        trustPolicies: [
          {
            name: 'layout',
            registryScopes: ['*'],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:layout'],
            trustedIdentities: ['*'],
          },
        ],
      }),
    );
    process.env['NV2_CONFIG_DIR'] = dir;
    const verified = ok(
      await nv2(['verify', `oci-layout:${layout}:v1`, '--scope', SCOPE]),
      'verify layout',
    );
    assert.equal(verified.stdout, `${SUBJECT}\n`);
    assert.match(verified.stderr, /2 signatures found, 2 verified/);

    // A file: target: the envelope is written beside, named by the digest and the format.
    const manifest = join(
      NOTATION,
      'targets',
      `sha256-19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0.json`,
    );
    const digest = 'sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0';
    for (const [format, file] of [
      ['jws', `${digest.slice(7)}.jws.json`],
      ['cose', `${digest.slice(7)}.cose`],
    ] as const) {
      const signed = await nv2(
        [
          'sign',
          '--signature-format',
          format,
          '-k',
          join(work, 'signer.key'),
          '-c',
          join(work, 'signer.crt'),
          '-m',
          'build=42',
          '-e',
          '1h',
          `file:${manifest}`,
        ],
        { cwd: work },
      );
      ok(signed, `sign file ${format}`);
      assert.equal(signed.stdout, `${digest}\n`);
      const args = ['verify', '-f', join(work, file), '--ca-cert', join(work, 'root.crt')];
      assert.equal(
        ok(await nv2([...args, '-m', 'build=42', `file:${manifest}`]), `verify ${format}`).stdout,
        `${digest}\n`,
      );
      fails(
        await nv2([
          ...args,
          '--at',
          new Date(Date.now() + 2 * 3600_000).toISOString(),
          `file:${manifest}`,
        ]),
        1,
        /expiry: digital signature has expired/,
        `${format} after its expiry`,
      );
      fails(
        await nv2([
          'verify',
          '-f',
          join(work, file),
          '--ca-cert',
          join(NOTATION, 'certs', 'e2e.crt'),
          `file:${manifest}`,
        ]),
        1,
        /authenticity: the signature's certificate chain does not contain any trusted certificate/,
        `${format} untrusted`,
      );
    }
  });
});
