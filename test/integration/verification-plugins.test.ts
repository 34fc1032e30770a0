/**
 * Verification plugins over the real protocol: signatures that name
 * `io.cncf.notary.verificationPlugin` (and a critical extended attribute for the plugin) are
 * verified with the Python plugin of test/helpers/plugin.py answering `verify-signature`,
 * through the library (every failure mode: missing, too old, no verifier capability, an
 * identity it does not trust, a revoked key, an unprocessed attribute, an error, garbage, a
 * hang) and through `nv2 verify` under a trust policy against nv2's registry, the signature
 * made by a signing plugin's `generate-envelope`.
 */
import assert from 'node:assert/strict';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Descriptor, MediaTypes, parseDigest } from '../../src/oci/index.js';
import {
  type ExtendedAttribute,
  RevocationChecker,
  signNotation,
} from '../../src/notation/index.js';
import { evaluateNotationSignature } from '../../src/verification/index.js';
import { LEVEL_ACTIONS } from '../../src/policy/index.js';
import {
  type EvaluationPolicy,
  type SignatureEvaluation,
  type ValidationType,
} from '../../src/trust/index.js';
import { lines, nv2, ok } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { type TestIdentity, issuedSigner, rootCA } from '../helpers/pki.js';
import { installTestPlugin, pythonMissing } from '../helpers/plugin-install.js';
import {
  BOTH_CAPABILITIES,
  CRITICAL_ATTRIBUTE,
  VERIFICATION_PLUGIN,
  publishPluginSignedImage,
} from '../helpers/plugin-signed-image.js';

const VERIFIER = VERIFICATION_PLUGIN;
const BOTH = BOTH_CAPABILITIES;
const ATTRIBUTE = CRITICAL_ATTRIBUTE;
const SUBJECT: Descriptor = {
  mediaType: MediaTypes.ociManifest,
  digest: parseDigest('sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9'),
  size: 1024,
};

function check(e: SignatureEvaluation, type: ValidationType) {
  return e.checks.find((c) => c.type === type)!;
}

const missing = pythonMissing();

describe('verification plugins through the library', { skip: missing }, () => {
  let work: string;
  let plugins: string;
  let root: TestIdentity;
  let signer: TestIdentity;
  const revocation = new RevocationChecker({ timeoutMs: 1000 });

  const sign = (format: 'jws' | 'cose', attrs: Record<string, string>): Buffer => {
    const extendedAttributes: ExtendedAttribute[] = Object.entries(attrs).map(([key, value]) => ({
      key,
      value,
      critical: true,
    }));
    return signNotation({
      format,
      key: signer.key,
      certificateChain: [signer.cert, root.cert],
      descriptor: SUBJECT,
      extendedAttributes,
    }).envelope;
  };
  const pluginSigned = (format: 'jws' | 'cose' = 'jws', minVersion = '1.0.0'): Buffer =>
    sign(format, {
      'io.cncf.notary.verificationPlugin': VERIFIER,
      'io.cncf.notary.verificationPluginMinVersion': minVersion,
      [ATTRIBUTE]: '42',
    });
  const policy = (
    config: Record<string, string>,
    level: 'strict' | 'permissive' | 'audit' = 'strict',
    extra: Partial<EvaluationPolicy> = {},
  ): EvaluationPolicy => ({
    actions: LEVEL_ACTIONS[level],
    anchors: { ca: [root.cert], signingAuthority: [], tsa: [] },
    // nv2's own identity check would refuse: only the plugin's answer lets the signer in.
    trustedIdentity: () => false,
    trustedIdentities: ['x509.subject: CN=release.example'],
    verificationPlugins: { directories: [plugins], pluginConfig: config, timeoutMs: 3000 },
    ...extra,
  });
  const evaluate = (envelope: Buffer, p: EvaluationPolicy, format: 'jws' | 'cose' = 'jws') =>
    evaluateNotationSignature(envelope, SUBJECT, p, {
      mediaType: format === 'jws' ? MediaTypes.notationJws : MediaTypes.notationCose,
      revocation,
    });
  const integrityFails = async (
    envelope: Buffer,
    p: EvaluationPolicy,
    code: string,
    message: RegExp,
  ): Promise<void> => {
    const e = await evaluate(envelope, p);
    assert.equal(e.verified, false);
    assert.equal(check(e, 'integrity').passed, false);
    assert.equal(check(e, 'integrity').code, code, check(e, 'integrity').message);
    assert.match(check(e, 'integrity').message!, message);
    assert.doesNotMatch(check(e, 'integrity').message!, /\n/);
  };

  before(async () => {
    work = await tempDir();
    plugins = join(work, 'plugins');
    await installTestPlugin(plugins, VERIFIER);
    root = await rootCA('Verification Plugin Root', { keyType: 'rsa-3072' });
    signer = await issuedSigner(root, 'release.example', { keyType: 'ec-p256' });
  });

  for (const format of ['jws', 'cose'] as const) {
    it(`a ${format} signature passes when the plugin trusts the identity and the key is not revoked; the request is the specification's`, async () => {
      const log = join(work, `request-${format}.json`);
      const e = await evaluate(
        pluginSigned(format),
        policy({ capabilities: BOTH.split('=')[1]!, requestLog: log, region: 'eu' }),
        format,
      );
      assert.equal(e.verified, true, JSON.stringify(e.checks));
      assert.match(check(e, 'authenticity').message!, /verified by verification plugin nv2-verify/);
      assert.equal(check(e, 'revocation').message, 'checked by verification plugin nv2-verify');
      const request = JSON.parse(await readFile(log, 'utf8')) as {
        contractVersion: string;
        signature: {
          criticalAttributes: Record<string, unknown>;
          unprocessedAttributes: string[];
          certificateChain: string[];
        };
        trustPolicy: { trustedIdentities: string[]; signatureVerification: string[] };
        pluginConfig: Record<string, string>;
      };
      assert.equal(request.contractVersion, '1.0');
      assert.deepEqual(request.signature.criticalAttributes, {
        contentType: 'application/vnd.cncf.notary.payload.v1+json',
        signingScheme: 'notary.x509',
        extendedAttributes: { [ATTRIBUTE]: '42' },
      });
      assert.deepEqual(request.signature.unprocessedAttributes, [ATTRIBUTE]);
      assert.deepEqual(request.signature.certificateChain, [
        Buffer.from(signer.cert.der).toString('base64'),
        Buffer.from(root.cert.der).toString('base64'),
      ]);
      assert.deepEqual(request.trustPolicy, {
        trustedIdentities: ['x509.subject: CN=release.example'],
        signatureVerification: [
          'SIGNATURE_VERIFIER.TRUSTED_IDENTITY',
          'SIGNATURE_VERIFIER.REVOCATION_CHECK',
        ],
      });
      assert.equal(request.pluginConfig['region'], 'eu');
    });
  }

  it('an identity the plugin does not trust fails authenticity (enforced at strict and permissive, logged at audit)', async () => {
    const config = { capabilities: BOTH.split('=')[1]!, verdict: 'untrusted' };
    for (const level of ['strict', 'permissive', 'audit'] as const) {
      const e = await evaluate(pluginSigned(), policy(config, level));
      assert.equal(e.verified, level === 'audit', level);
      assert.equal(check(e, 'authenticity').passed, false);
      assert.equal(check(e, 'authenticity').code, 'NV2_ERR_PLUGIN_VERIFICATION_FAILED');
      assert.match(
        check(e, 'authenticity').message!,
        /^trusted identity verification by verification plugin nv2-verify failed: signer CN=release.example is not on the allow list$/,
      );
    }
  });

  it('a key the plugin reports revoked fails revocation at strict and is logged at permissive', async () => {
    const config = { capabilities: BOTH.split('=')[1]!, verdict: 'revoked' };
    const strict = await evaluate(pluginSigned(), policy(config));
    assert.equal(strict.verified, false);
    assert.equal(check(strict, 'revocation').code, 'NV2_ERR_PLUGIN_VERIFICATION_FAILED');
    assert.match(check(strict, 'revocation').message!, /reports the key revoked/);
    assert.equal((await evaluate(pluginSigned(), policy(config, 'permissive'))).verified, true);
  });

  it('a plugin with one verifier capability answers for it; nv2 does the other check', async () => {
    const log = join(work, 'identity-only.json');
    const e = await evaluate(
      pluginSigned(),
      policy({ capabilities: 'SIGNATURE_VERIFIER.REVOCATION_CHECK', requestLog: log }),
    );
    // nv2's own identity check (which refuses everyone here) is not replaced.
    assert.equal(check(e, 'authenticity').passed, false);
    assert.doesNotMatch(check(e, 'authenticity').message!, /plugin/);
    assert.equal(check(e, 'revocation').message, 'checked by verification plugin nv2-verify');
    const request = JSON.parse(await readFile(log, 'utf8')) as {
      trustPolicy: { signatureVerification: string[] };
    };
    assert.deepEqual(request.trustPolicy.signatureVerification, [
      'SIGNATURE_VERIFIER.REVOCATION_CHECK',
    ]);
  });

  it('a critical attribute the plugin does not process fails the signature', async () => {
    await integrityFails(
      pluginSigned(),
      policy({ capabilities: BOTH.split('=')[1]!, processAttributes: 'none' }, 'audit'),
      'NV2_ERR_PLUGIN_UNPROCESSED_ATTRIBUTE',
      /^critical attribute "com.example.buildId" was not processed by verification plugin nv2-verify/,
    );
  });

  it('a plugin older than the signature requires, or with a version that is not semver, fails', async () => {
    const both = BOTH.split('=')[1]!;
    for (const version of ['0.9.0', '1.0.0-rc.1']) {
      await integrityFails(
        pluginSigned(),
        policy({ capabilities: both, version }),
        'NV2_ERR_PLUGIN_TOO_OLD',
        new RegExp(`^plugin nv2-verify is version ${version.replace('.', '\\.')}`),
      );
    }
    assert.equal(
      (
        await evaluate(
          pluginSigned('jws', '1.2.0'),
          policy({ capabilities: both, version: '1.10.0' }),
        )
      ).verified,
      true,
    );
    await integrityFails(
      pluginSigned(),
      policy({ capabilities: both, version: 'latest' }),
      'NV2_ERR_PLUGIN_INVALID_RESPONSE',
      /version "latest", which is not a semantic version/,
    );
    await integrityFails(
      pluginSigned('jws', 'v1'),
      policy({ capabilities: both }),
      'NV2_ERR_PLUGIN_TOO_OLD',
      /version "v1", which is not a semantic version/,
    );
  });

  it('a missing plugin, or one without a verifier capability, fails at every level', async () => {
    for (const level of ['strict', 'audit'] as const) {
      await integrityFails(
        pluginSigned(),
        policy({}, level, { verificationPlugins: { directories: [join(work, 'none')] } }),
        'NV2_ERR_PLUGIN_NOT_FOUND',
        /^signature requires verification plugin "nv2-verify", which is not installed/,
      );
    }
    const { verificationPlugins: _none, ...withoutPlugins } = policy({});
    await integrityFails(
      pluginSigned(),
      withoutPlugins,
      'NV2_ERR_PLUGIN_NOT_FOUND',
      /not installed/,
    );
    await integrityFails(
      pluginSigned(),
      policy({ capabilities: 'SIGNATURE_GENERATOR.RAW' }),
      'NV2_ERR_PLUGIN_CAPABILITY',
      /^plugin nv2-verify cannot verify signatures/,
    );
  });

  it('a plugin that errs, answers garbage or hangs fails with its own code', async () => {
    const both = BOTH.split('=')[1]!;
    await integrityFails(
      pluginSigned(),
      policy({ capabilities: both, misbehave: 'error' }),
      'NV2_ERR_PLUGIN_FAILED',
      /verify-signature failed \(exit 1\): ACCESS_DENIED: /,
    );
    await integrityFails(
      pluginSigned(),
      policy({ capabilities: both, misbehave: 'non-json' }),
      'NV2_ERR_PLUGIN_INVALID_RESPONSE',
      /verify-signature did not answer JSON/,
    );
    const started = Date.now();
    await integrityFails(
      pluginSigned(),
      policy({ capabilities: both, misbehave: 'hang' }),
      'NV2_ERR_PLUGIN_TIMEOUT',
      /verify-signature did not answer within 3 s/,
    );
    assert.ok(Date.now() - started < 10_000);
  });

  it('without a plugin header an unknown critical attribute is still refused', async () => {
    const e = await evaluate(sign('jws', { [ATTRIBUTE]: '42' }), policy({}));
    assert.equal(check(e, 'integrity').passed, false);
    assert.match(
      check(e, 'integrity').message!,
      /critical header com.example.buildId is not understood/,
    );
  });
});

describe("nv2 verify with a verification plugin, against nv2's registry", { skip: missing }, () => {
  let work: string;
  let host: string;
  let close: () => Promise<void>;

  before(async () => {
    ({ work, host, close } = await publishPluginSignedImage('vp/app'));
  });
  after(async () => close());

  const verify = (...extra: string[]) => nv2(['verify', ...extra, `${host}/vp/app:v1`]);

  it('verifies under the trust policy when the plugin trusts the signer', async () => {
    const r = ok(await verify('--plugin-config', BOTH), 'verify');
    assert.match(lines(r.stdout)[0]!, /^sha256:/);
    assert.match(
      r.stderr,
      /1 signature found, 1 verified under the trust policy "plugin-verified"/,
    );
    const explained = ok(await verify('--plugin-config', BOTH, '--explain'), 'explain').stderr;
    assert.match(
      explained,
      /authenticity +enforce passed: trusted identity verified by verification plugin nv2-verify/,
    );
    assert.match(
      explained,
      /revocation +enforce passed: checked by verification plugin nv2-verify/,
    );
  });

  it('fails in one line when the plugin refuses, is missing a capability or hangs', async () => {
    for (const [flags, code, message] of [
      [
        ['--plugin-config', 'verdict=untrusted'],
        'NV2_ERR_PLUGIN_VERIFICATION_FAILED',
        /trusted identity verification by verification plugin nv2-verify failed: signer CN=release.example/,
      ],
      [[], 'NV2_ERR_PLUGIN_CAPABILITY', /plugin nv2-verify cannot verify signatures/],
      [
        ['--plugin-config', 'processAttributes=none'],
        'NV2_ERR_PLUGIN_UNPROCESSED_ATTRIBUTE',
        /critical attribute "com.example.buildId" was not processed/,
      ],
      [
        ['--plugin-config', 'misbehave=hang', '--plugin-timeout', '1s'],
        'NV2_ERR_PLUGIN_TIMEOUT',
        /did not answer within 1 s/,
      ],
    ] as const) {
      const args = [
        ...(code === 'NV2_ERR_PLUGIN_CAPABILITY' ? [] : ['--plugin-config', BOTH]),
        ...flags,
      ];
      const r = await verify(...args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(lines(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr, /^nv2: NV2_ERR_NO_VALID_SIGNATURE: /);
      assert.match(r.stderr, message);
    }
  });

  it('fails in one line when the plugin is not installed', async () => {
    const dir = join(work, 'config', 'plugins', VERIFIER);
    await rename(dir, `${dir}.off`);
    try {
      const r = await verify('--plugin-config', BOTH);
      assert.notEqual(r.code, 0);
      assert.equal(lines(r.stderr).length, 1, r.stderr);
      assert.match(
        r.stderr,
        /signature requires verification plugin "nv2-verify", which is not installed/,
      );
    } finally {
      await rename(`${dir}.off`, dir);
    }
  });
});
