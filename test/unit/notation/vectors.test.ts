/**
 * Every envelope vector of test/vectors/notation judged as its README says: groups A
 * (chain to NotationTestRoot, JWS PS384), B (self-signed signers, JWS and COSE, user
 * metadata) and C (RFC 3161 timestamp countersignatures).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ChainRevocationChecker,
  NotationMediaTypes,
  parseCoseEnvelope,
  parseJwsEnvelope,
} from '../../../src/notation/index.js';
import { evaluateNotationSignature } from '../../../src/verification/index.js';
import type { Descriptor } from '../../../src/oci/index.js';
import type { SignatureEvaluation, ValidationType } from '../../../src/trust/index.js';
import {
  OfflineRevocation,
  type PolicyOptions,
  at,
  cert,
  policy,
  revocation,
  subjectIs,
  vector,
} from './helpers.js';

/** A digest literal typed as one. */
function digest(value: string): Descriptor['digest'] {
  return value as Descriptor['digest'];
}

const ROOT = cert('NotationTestRoot.pem');
const ROOT_DN = 'CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US';
const GROUP_A: Descriptor = {
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  digest: digest('sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e'),
  size: 528,
};
const GROUP_B: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digest('sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0'),
  size: 481,
};
const METADATA_SUBJECT: Descriptor = {
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  digest: digest('sha256:5a07385af4e6b6af81b0ebfd435aedccdfa3507f0609c658209e1aba57159b2b'),
  size: 942,
};
const GROUP_C: Descriptor = {
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  digest: digest('sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda'),
  size: 528,
};
const LEVELS = ['strict', 'permissive', 'audit'] as const;

function evaluateWith(
  file: string,
  subject: Descriptor,
  options: PolicyOptions,
  checker: ChainRevocationChecker = revocation,
): Promise<SignatureEvaluation> {
  const mediaType = file.startsWith('cose/') ? NotationMediaTypes.cose : NotationMediaTypes.jws;
  return evaluateNotationSignature(vector(file), subject, policy(options), {
    mediaType,
    revocation: checker,
  });
}

function evaluate(file: string, subject: Descriptor, options: PolicyOptions) {
  return evaluateWith(file, subject, options);
}

function check(result: SignatureEvaluation, type: ValidationType) {
  return result.checks.find((c) => c.type === type)!;
}

/** Asserts the verdict and that exactly the listed checks failed. */
function expect(
  result: SignatureEvaluation,
  verified: boolean,
  failed: readonly ValidationType[] = [],
): void {
  const actual = result.checks.filter((c) => c.passed === false).map((c) => c.type);
  assert.deepEqual(actual, failed, JSON.stringify(result.checks));
  assert.equal(result.verified, verified, JSON.stringify(result.checks));
}

describe('notation vectors, group A (chain to NotationTestRoot)', () => {
  const caPolicy = (
    level: (typeof LEVELS)[number],
    now = at('2025-01-01T00:00:00Z'),
  ): PolicyOptions => ({
    level,
    ca: [ROOT],
    signingAuthority: [ROOT],
    identity: subjectIs(ROOT_DN),
    now,
  });

  for (const file of ['jws/ca_valid_sig_env.json', 'jws/sa_valid_sig_env.json']) {
    for (const level of LEVELS) {
      it(`${file} verifies at ${level}`, async () => {
        const result = await evaluate(file, GROUP_A, caPolicy(level));
        expect(result, true);
        assert.equal(result.certificateChain?.length, 2);
        assert.equal(result.certificateChain?.[1]?.fingerprintSha256, ROOT.fingerprintSha256);
      });
    }
    it(`${file} fails against any other digest, size or media type`, async () => {
      for (const other of [
        { ...GROUP_A, digest: GROUP_B.digest },
        { ...GROUP_A, size: 529 },
        { ...GROUP_A, mediaType: GROUP_B.mediaType },
      ]) {
        expect(await evaluate(file, other, caPolicy('audit')), false, ['integrity']);
      }
    });
    it(`${file} verifies just before its expiry and fails expiry at it`, async () => {
      expect(await evaluate(file, GROUP_A, caPolicy('strict', at('2120-11-09T06:59:59Z'))), true);
      expect(await evaluate(file, GROUP_A, caPolicy('strict', at('2120-11-09T07:00:01Z'))), false, [
        'expiry',
      ]);
    });
  }

  it('ca_valid is checked against ca stores only, sa_valid against signingAuthority stores only', async () => {
    const onlySa = { ...caPolicy('strict'), ca: [] };
    const onlyCa = { ...caPolicy('strict'), signingAuthority: [] };
    expect(await evaluate('jws/ca_valid_sig_env.json', GROUP_A, onlySa), false, ['authenticity']);
    expect(await evaluate('jws/sa_valid_sig_env.json', GROUP_A, onlyCa), false, ['authenticity']);
    expect(await evaluate('jws/ca_valid_sig_env.json', GROUP_A, onlyCa), true);
    expect(await evaluate('jws/sa_valid_sig_env.json', GROUP_A, onlySa), true);
  });

  it('ca_valid fails authenticity without the root in the store: enforced at strict/permissive, logged at audit', async () => {
    const other = cert('e2e.crt');
    for (const level of LEVELS) {
      const result = await evaluate('jws/ca_valid_sig_env.json', GROUP_A, {
        ...caPolicy(level),
        ca: [other],
      });
      expect(result, level === 'audit', ['authenticity']);
      assert.match(
        check(result, 'authenticity').message!,
        /does not contain any trusted certificate/,
      );
    }
  });

  it('ca_valid fails authenticity when trustedIdentities do not match the signer', async () => {
    const result = await evaluate('jws/ca_valid_sig_env.json', GROUP_A, {
      ...caPolicy('strict'),
      identity: subjectIs('CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=CA'),
    });
    expect(result, false, ['authenticity']);
    assert.match(check(result, 'authenticity').message!, /trusted identities/);
  });

  it('the leaf whose subject equals its issuer is not mistaken for a root', () => {
    const envelope = parseJwsEnvelope(vector('jws/ca_valid_sig_env.json'));
    const [leaf, root] = envelope.certificateChain;
    assert.equal(
      leaf!.fingerprintSha256,
      'e0d3d5b6361fb0f75a89d09b92f80a7ac5bce19c811c57d78ff1efa26e610a72',
    );
    assert.equal(leaf!.isIssuedBy(leaf!), false);
    assert.equal(leaf!.isIssuedBy(root!), true);
  });

  for (const file of ['jws/ca_invalid_sig_env.json', 'jws/sa_invalid_sig_env.json']) {
    for (const level of LEVELS) {
      it(`${file} fails integrity at ${level} (padding in base64url)`, async () => {
        const result = await evaluate(file, GROUP_A, caPolicy(level));
        expect(result, false, ['integrity']);
        assert.match(check(result, 'integrity').message!, /base64url/);
      });
    }
  }

  for (const file of ['jws/ca_expired_sig_env.json', 'jws/sa_expired_sig_env.json']) {
    it(`${file}: expiry enforced at strict, logged at permissive and audit`, async () => {
      for (const level of LEVELS) {
        const result = await evaluate(
          file,
          GROUP_A,
          caPolicy(level, at('2022-07-29T23:59:00.001Z')),
        );
        expect(result, level !== 'strict', ['expiry']);
        assert.equal(
          check(result, 'expiry').message,
          'digital signature has expired on "Fri, 29 Jul 2022 23:59:00 +0000"',
        );
      }
    });
    it(`${file} verifies fully before its expiry`, async () => {
      expect(await evaluate(file, GROUP_A, caPolicy('strict', at('2022-07-29T12:00:00Z'))), true);
    });
  }

  it('ca_plugin_sig_env.json fails at every level: its verification plugin is not installed', async () => {
    for (const level of LEVELS) {
      const result = await evaluate('jws/ca_plugin_sig_env.json', GROUP_A, caPolicy(level));
      expect(result, false, ['integrity']);
      assert.match(
        check(result, 'integrity').message!,
        /^signature requires verification plugin "plugin-name", which is not installed/,
      );
      assert.equal(check(result, 'integrity').code, 'NV2_ERR_PLUGIN_NOT_FOUND');
    }
  });
});

describe('notation vectors, group B (self-signed signers, JWS and COSE)', () => {
  const alpine = cert('x5c-alpine-2000-2123.pem');
  for (const file of ['jws/jws_signature.sig', 'cose/cose_signature.sig']) {
    it(`${file} verifies at strict, and its payload describes the target bytes`, async () => {
      const result = await evaluate(file, GROUP_B, {
        ca: [alpine],
        now: at('2025-01-01T00:00:00Z'),
      });
      expect(result, true);
      const target = vector(
        'targets/sha256-19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0.json',
      );
      assert.equal(target.byteLength, GROUP_B.size);
      assert.equal(result.signer?.fingerprintSha256, alpine.fingerprintSha256);
    });
    it(`${file} fails authenticity at strict under an unrelated anchor`, async () => {
      const result = await evaluate(file, GROUP_B, {
        ca: [cert('new_e2e.crt')],
        now: at('2025-01-01T00:00:00Z'),
      });
      expect(result, false, ['authenticity']);
    });
    it(`${file} fails the certificate validity (authentic timestamp) after 2123`, async () => {
      const result = await evaluate(file, GROUP_B, {
        ca: [alpine],
        now: at('2124-01-01T00:00:00Z'),
      });
      expect(result, false, ['authenticTimestamp']);
    });
  }

  it('reads the signing times of both formats', () => {
    const jws = parseJwsEnvelope(vector('jws/jws_signature.sig'));
    assert.equal(jws.signingTime?.toISOString(), '2023-03-14T08:10:02.000Z');
    const cose = parseCoseEnvelope(vector('cose/cose_signature.sig'));
    assert.equal(cose.signingTime?.getTime(), 1678769122_000);
    assert.equal(cose.algorithm, 'PS256');
    assert.equal(cose.certificateChain.length, 1);
  });

  describe('user metadata (sig_env_with_metadata.json)', () => {
    const signer = cert('x5c-metadata-signer-2023-01-11.pem');
    const base = { ca: [signer], now: at('2023-01-11T12:00:00Z') };
    const cases: [Record<string, string>, boolean][] = [
      [{}, true],
      [{ 'io.wabbit-networks.buildId': '123' }, true],
      [{ 'io.wabbit-networks.buildId': '321' }, false],
      [{ 'io.wabbit-networks.buildId': '123', 'io.wabbit-networks.buildTime': '1672944615' }, true],
      [{ 'io.wabbit-networks.buildId': '123', 'io.wabbit-networks.buildTime': '1' }, false],
    ];
    for (const [userMetadata, ok] of cases) {
      it(`${JSON.stringify(userMetadata)} ${ok ? 'passes' : 'fails'}`, async () => {
        const result = await evaluate('jws/sig_env_with_metadata.json', METADATA_SUBJECT, {
          ...base,
          userMetadata,
        });
        expect(result, ok, ok ? [] : ['integrity']);
      });
    }
    it('fails the authentic timestamp at strict once the one-day certificate has expired', async () => {
      const result = await evaluate('jws/sig_env_with_metadata.json', METADATA_SUBJECT, {
        ...base,
        now: at('2023-01-13T00:00:00Z'),
      });
      expect(result, false, ['authenticTimestamp']);
      const permissive = await evaluate('jws/sig_env_with_metadata.json', METADATA_SUBJECT, {
        ...base,
        level: 'permissive',
        now: at('2023-01-13T00:00:00Z'),
      });
      expect(permissive, true, ['authenticTimestamp']);
    });
  });
});

describe('notation vectors, group C (RFC 3161 timestamps)', () => {
  const tsaRoot = cert('globalsignRoot.cer');
  // The vectors' TSA chains name public OCSP and CRL servers: judged offline, recorded.
  const offline = new OfflineRevocation();
  const evaluate = (file: string, subject: Descriptor, options: PolicyOptions) =>
    evaluateWith(file, subject, options, offline);
  const now = at('2025-01-01T00:00:00Z');
  const withTsa = (anchor: string, extra: Partial<PolicyOptions> = {}): PolicyOptions => ({
    ca: [cert(anchor)],
    tsa: [tsaRoot],
    verifyTimestamp: 'always',
    now,
    ...extra,
  });

  it('withoutTimestamp.sig verifies without a tsa store and fails with one (always)', async () => {
    expect(
      await evaluate('jws/withoutTimestamp.sig', GROUP_C, { ca: [cert('TestTimestamp.crt')], now }),
      true,
    );
    const result = await evaluate(
      'jws/withoutTimestamp.sig',
      GROUP_C,
      withTsa('TestTimestamp.crt'),
    );
    expect(result, false, ['authenticTimestamp']);
    assert.match(
      check(result, 'authenticTimestamp').message!,
      /no timestamp countersignature was found/,
    );
  });

  for (const file of ['jws/jwsWithTimestamp.sig', 'cose/coseWithTimestamp.sig']) {
    it(`${file} verifies, also after the certificate expires`, async () => {
      const asked = offline.chains.length;
      expect(await evaluate(file, GROUP_C, withTsa('TestTimestamp.crt')), true);
      // The TSA's chain (TSA certificate first, the tsa store's root last) was checked.
      const tsaChain = offline.chains
        .slice(asked)
        .find((c) => c.at(-1)?.fingerprintSha256 === tsaRoot.fingerprintSha256);
      assert.ok(tsaChain !== undefined && tsaChain.length >= 2);
      expect(
        await evaluate(
          file,
          GROUP_C,
          withTsa('TestTimestamp.crt', { now: at('2034-01-01T00:00:00Z') }),
        ),
        true,
      );
    });
    it(`${file} with afterCertExpiry verifies on the certificate's own validity`, async () => {
      expect(
        await evaluate(
          file,
          GROUP_C,
          withTsa('TestTimestamp.crt', { verifyTimestamp: 'afterCertExpiry' }),
        ),
        true,
      );
    });
    it(`${file} fails under an unrelated TSA root`, async () => {
      const result = await evaluate(
        file,
        GROUP_C,
        withTsa('TestTimestamp.crt', { tsa: [cert('e2e.crt')] }),
      );
      expect(result, false, ['authenticTimestamp']);
    });
  }

  for (const file of ['jws/jwsExpiredWithTimestamp.sig', 'cose/coseExpiredWithTimestamp.sig']) {
    it(`${file} verifies through its token long after the certificate expired`, async () => {
      const anchor = 'x5c-testTSA-2024-06-18.pem';
      expect(await evaluate(file, GROUP_C, withTsa(anchor)), true);
      expect(
        await evaluate(file, GROUP_C, withTsa(anchor, { verifyTimestamp: 'afterCertExpiry' })),
        true,
      );
      const result = await evaluate(file, GROUP_C, { ca: [cert(anchor)], now });
      expect(result, false, ['authenticTimestamp']);
      assert.match(
        check(result, 'authenticTimestamp').message!,
        /verification time is after certificate "CN=testTSA.*it was expired at "Tue, 18 Jun 2024 07:30:31 \+0000"/,
      );
      const untrusted = await evaluate(file, GROUP_C, withTsa(anchor, { tsa: [cert('e2e.crt')] }));
      expect(untrusted, false, ['authenticTimestamp']);
    });
  }

  it('timestampBeforeNotBefore.sig fails: the timestamp is before the certificate notBefore', async () => {
    const result = await evaluate(
      'jws/timestampBeforeNotBefore.sig',
      GROUP_C,
      withTsa('TestTimestampNotYetValid.crt'),
    );
    expect(result, false, ['authenticTimestamp']);
    assert.match(
      check(result, 'authenticTimestamp').message!,
      /timestamp can be before certificate .*Fri, 18 Sep 2099 11:54:34 \+0000/,
    );
  });

  it('timestampAfterNotAfter.sig fails: the timestamp is after the certificate notAfter', async () => {
    const result = await evaluate(
      'cose/timestampAfterNotAfter.sig',
      GROUP_C,
      withTsa('x5c-testTSA-2000-2001.pem'),
    );
    expect(result, false, ['authenticTimestamp']);
    assert.match(
      check(result, 'authenticTimestamp').message!,
      /timestamp can be after certificate .*Tue, 18 Sep 2001 11:54:34 \+0000/,
    );
  });
});
