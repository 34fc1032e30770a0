/**
 * The OCI layouts of test/vectors/notation/oci-layout: each signature manifest is read
 * (older form), rebuilt byte for byte by the builder, and its envelope judged against the
 * subject through the evaluator with the README's anchors and times.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  NotationMediaTypes,
  THUMBPRINT_ANNOTATION,
  buildSignatureManifest,
  isNotationSignatureManifest,
  parseJwsEnvelope,
  readSignatureManifest,
} from '../../../src/notation/index.js';
import { evaluateNotationSignature } from '../../../src/verification/index.js';
import type { Descriptor } from '../../../src/oci/index.js';
import type { Certificate } from '../../../src/x509/index.js';
import { type PolicyOptions, at, cert, policy, revocation, vector } from './helpers.js';

interface Layout {
  readonly subject: Descriptor;
  readonly signature?: { readonly descriptor: Descriptor; readonly bytes: Buffer };
  blob(digest: string): Buffer;
}

function layout(name: string): Layout {
  const blob = (digest: string): Buffer =>
    vector(`oci-layout/${name}/blobs/sha256/${digest.slice('sha256:'.length)}`);
  const index = JSON.parse(vector(`oci-layout/${name}/index.json`).toString()) as {
    manifests: Descriptor[];
  };
  const tagged = (ref: string) =>
    index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref);
  const subject = tagged('v1')!;
  const signature = index.manifests.find(
    (m) =>
      m.annotations === undefined &&
      isNotationSignatureManifest(JSON.parse(blob(m.digest).toString())),
  );
  return {
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(signature !== undefined
      ? { signature: { descriptor: signature, bytes: blob(signature.digest) } }
      : {}),
    blob,
  };
}

async function judge(name: string, options: PolicyOptions) {
  const l = layout(name);
  const manifest = readSignatureManifest(l.signature!.bytes);
  assert.deepEqual(manifest.subject, l.subject);
  return evaluateNotationSignature(l.blob(manifest.envelope.digest), l.subject, policy(options), {
    mediaType: manifest.envelope.mediaType,
    revocation,
  });
}

const E2E = cert('e2e.crt');
const NEW_E2E = cert('new_e2e.crt');
const LEVELS = ['strict', 'permissive', 'audit'] as const;
const failed = (r: { checks: readonly { type: string; passed?: boolean | undefined }[] }) =>
  r.checks.filter((c) => c.passed === false).map((c) => c.type);

describe('notation OCI layouts', () => {
  it('e2e has no signature', () => {
    assert.equal(layout('e2e').signature, undefined);
  });

  for (const name of ['e2e-valid-signature', 'e2e-expired-signature', 'e2e-with-expired-cert']) {
    it(`${name}: the builder reproduces the signature manifest byte for byte (older form)`, () => {
      const l = layout(name);
      const read = readSignatureManifest(l.signature!.bytes);
      assert.equal(read.form, 'image');
      assert.equal(read.envelope.mediaType, NotationMediaTypes.jws);
      const envelope = l.blob(read.envelope.digest);
      const chain: readonly Certificate[] = parseJwsEnvelope(envelope).certificateChain;
      assert.deepEqual(
        read.thumbprints,
        chain.map((c) => c.fingerprintSha256),
      );
      const built = buildSignatureManifest({
        subject: l.subject,
        envelope,
        envelopeMediaType: read.envelope.mediaType,
        certificateChain: chain,
        created: new Date(read.created!),
        form: 'image',
      });
      assert.deepEqual(
        JSON.parse(built.manifest.toString()),
        JSON.parse(l.signature!.bytes.toString()),
      );
      assert.equal(built.manifest.toString(), l.signature!.bytes.toString());
      assert.equal(built.descriptor.digest, l.signature!.descriptor.digest);
      // The referrers tag index lists it with the artifactType notation derives and its annotations.
      const referrers = JSON.parse(
        l
          .blob(
            JSON.parse(vector(`oci-layout/${name}/index.json`).toString()).manifests.find(
              (m: Descriptor) =>
                m.annotations?.['org.opencontainers.image.ref.name']?.startsWith('sha256-'),
            ).digest,
          )
          .toString(),
      ) as { manifests: Descriptor[] };
      assert.equal(referrers.manifests[0]?.artifactType, built.descriptor.artifactType);
      assert.deepEqual(referrers.manifests[0]?.annotations, built.descriptor.annotations);
    });
  }

  it('e2e-valid-signature verifies at strict; with new_e2e.crt authenticity fails (logged at audit)', async () => {
    const result = await judge('e2e-valid-signature', {
      ca: [E2E],
      now: at('2025-01-01T00:00:00Z'),
    });
    assert.equal(result.verified, true, JSON.stringify(result.checks));
    for (const level of LEVELS) {
      const untrusted = await judge('e2e-valid-signature', {
        level,
        ca: [NEW_E2E],
        now: at('2025-01-01T00:00:00Z'),
      });
      assert.deepEqual(failed(untrusted), ['authenticity']);
      assert.equal(untrusted.verified, level === 'audit');
    }
  });

  it('e2e-expired-signature fails expiry at strict, verifies with it logged at permissive and audit', async () => {
    for (const level of LEVELS) {
      const result = await judge('e2e-expired-signature', {
        level,
        ca: [E2E],
        now: at('2025-01-01T00:00:00Z'),
      });
      assert.deepEqual(failed(result), ['expiry']);
      assert.equal(result.verified, level !== 'strict');
    }
    const inWindow = await judge('e2e-expired-signature', {
      ca: [E2E],
      now: at('2023-06-27T05:21:00Z'),
    });
    assert.equal(inWindow.verified, true);
  });

  it('e2e-invalid-signature fails integrity at every level (unsupported envelope media type)', async () => {
    const l = layout('e2e-invalid-signature');
    const read = readSignatureManifest(l.signature!.bytes);
    assert.equal(read.thumbprints, undefined);
    for (const level of LEVELS) {
      const result = await judge('e2e-invalid-signature', {
        level,
        ca: [E2E],
        now: at('2025-01-01T00:00:00Z'),
      });
      assert.deepEqual(failed(result), ['integrity']);
      assert.equal(result.verified, false);
      assert.match(
        result.checks[0]!.message!,
        /application\/vnd\.oci\.image\.layer\.v1\.tar is not supported/,
      );
    }
  });

  it('e2e-with-expired-cert fails the authentic timestamp at strict, verifies with a warning at permissive and audit', async () => {
    const anchor = cert('expired_e2e.crt');
    for (const level of LEVELS) {
      const result = await judge('e2e-with-expired-cert', {
        level,
        ca: [anchor],
        now: at('2025-01-01T00:00:00Z'),
      });
      assert.deepEqual(failed(result), ['authenticTimestamp']);
      assert.equal(result.verified, level !== 'strict');
      assert.match(
        result.checks[2]!.message!,
        /O=Internet Widgits Pty Ltd,ST=Some-State,C=AU.*Tue, 27 Jun 2023 06:10:00 \+0000/,
      );
    }
    const before = await judge('e2e-with-expired-cert', {
      ca: [anchor],
      now: at('2023-06-27T06:08:00Z'),
    });
    assert.equal(before.verified, true);
  });

  it('override-style actions: expired and untrusted verify when those checks are set to log', async () => {
    const overrides = {
      expiry: 'log',
      authenticity: 'log',
      authenticTimestamp: 'log',
      revocation: 'log',
    } as const;
    const expired = await judge('e2e-expired-signature', {
      ca: [E2E],
      overrides,
      now: at('2025-01-01T00:00:00Z'),
    });
    assert.equal(expired.verified, true);
    const untrusted = await judge('e2e-valid-signature', {
      ca: [NEW_E2E],
      overrides,
      now: at('2025-01-01T00:00:00Z'),
    });
    assert.equal(untrusted.verified, true);
    const enforced = await judge('e2e-expired-signature', {
      level: 'permissive',
      overrides: { expiry: 'enforce' },
      ca: [E2E],
      now: at('2025-01-01T00:00:00Z'),
    });
    assert.equal(enforced.verified, false);
  });
});

describe('signature manifest builder, current form', () => {
  it('writes artifactType, the empty config with its data, one layer, subject and the annotations', () => {
    const l = layout('e2e-valid-signature');
    const read = readSignatureManifest(l.signature!.bytes);
    const envelope = l.blob(read.envelope.digest);
    const chain = parseJwsEnvelope(envelope).certificateChain;
    const built = buildSignatureManifest({
      subject: l.subject,
      envelope,
      envelopeMediaType: NotationMediaTypes.jws,
      certificateChain: chain,
      created: new Date('2023-06-27T05:30:33.512Z'),
    });
    const m = JSON.parse(built.manifest.toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(m), [
      'schemaVersion',
      'mediaType',
      'artifactType',
      'config',
      'layers',
      'subject',
      'annotations',
    ]);
    assert.equal(m['artifactType'], 'application/vnd.cncf.notary.signature');
    assert.deepEqual(m['config'], {
      mediaType: 'application/vnd.oci.empty.v1+json',
      digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
      size: 2,
      data: 'e30=',
    });
    assert.deepEqual(m['layers'], [read.envelope]);
    assert.deepEqual(m['subject'], l.subject);
    assert.deepEqual(m['annotations'], {
      [THUMBPRINT_ANNOTATION]:
        '["e38aea13f2b051f7183cca64a51ee676f4d4456f41d9fecf15eb367efc7343b9"]',
      'org.opencontainers.image.created': '2023-06-27T05:30:33Z',
    });
    const again = readSignatureManifest(built.manifest);
    assert.equal(again.form, 'artifact');
    assert.deepEqual(again.thumbprints, [
      'e38aea13f2b051f7183cca64a51ee676f4d4456f41d9fecf15eb367efc7343b9',
    ]);
  });

  it('the reader refuses manifests that are not signatures, or have other than one layer', () => {
    assert.throws(
      () => readSignatureManifest(Buffer.from('{"schemaVersion":2,"config":{"mediaType":"x/y"}}')),
      {
        code: 'NV2_ERR_INVALID_MANIFEST',
      },
    );
    assert.throws(
      () =>
        readSignatureManifest(
          Buffer.from('{"artifactType":"application/vnd.cncf.notary.signature","layers":[]}'),
        ),
      { code: 'NV2_ERR_INVALID_MANIFEST' },
    );
  });
});
