import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TrustSet, verify } from '../../../src/trust/index.js';
import { CODE_SIGNING_EKU, KeyUsageFlags, generateCertificate } from '../../../src/x509/index.js';
import { sign } from '../../../src/signature/index.js';
import { SAMPLE, SAMPLE_SUBJECT } from '../../helpers/fixtures.js';

describe('generateCertificate', () => {
  it('makes a self-signed signing certificate that nv2 verifies signatures with', async () => {
    const now = new Date('2030-01-01T12:00:00.500Z');
    const { privateKey, certificate } = await generateCertificate({
      commonName: 'Registry.Example.com',
      days: 10,
      now,
    });
    assert.equal(certificate.subject, 'CN=Registry.Example.com');
    assert.deepEqual([...certificate.dnsNames], ['Registry.Example.com']);
    assert.equal(certificate.keyUsage, KeyUsageFlags.digitalSignature);
    assert.deepEqual(certificate.extendedKeyUsage, [CODE_SIGNING_EKU]);
    assert.equal(certificate.isCA, false);
    assert.equal(certificate.notBefore.toISOString(), '2030-01-01T11:59:00.000Z');
    assert.equal(certificate.notAfter.getTime() - certificate.notBefore.getTime(), 10 * 86400_000);
    const jws = sign(
      SAMPLE.descriptor,
      { key: privateKey, certificateChain: [certificate.der] },
      {
        references: ['registry.example.com/a:1'],
        now,
      },
    );
    const result = await verify(
      jws,
      SAMPLE_SUBJECT,
      new TrustSet({ certificates: [certificate] }),
      { now },
    );
    assert.equal(result.digest, SAMPLE.descriptor.digest);
  });

  it('makes a CA with a path length, and signing certificates issued by it chain to it', async () => {
    const root = await generateCertificate({
      commonName: 'Root, Inc.',
      ca: true,
      pathLength: 0,
      keyType: 'ec-p384',
    });
    assert.equal(root.certificate.subject, 'CN=Root\\, Inc.');
    assert.deepEqual(root.certificate.basicConstraints, { ca: true, pathLength: 0 });
    assert.equal(root.certificate.keyUsage, KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign);
    const leaf = await generateCertificate({
      commonName: 'registry.example.com',
      issuer: { key: root.privateKey, certificate: root.certificate },
    });
    assert.equal(leaf.certificate.issuer, root.certificate.subject);
    assert.ok(leaf.certificate.isIssuedBy(root.certificate));
    const jws = sign(SAMPLE.descriptor, {
      key: leaf.privateKey,
      certificateChain: [leaf.certificate.der],
    });
    const result = await verify(jws, SAMPLE_SUBJECT, new TrustSet({ roots: [root.certificate] }));
    assert.deepEqual(
      result.certificateChain.map((c) => c.fingerprintSha256),
      [leaf.certificate.fingerprintSha256, root.certificate.fingerprintSha256],
    );
  });

  it('refuses empty or over-long names and bad validity', async () => {
    for (const options of [
      { commonName: ' ' },
      { commonName: 'a'.repeat(65) },
      { commonName: 'a', days: 0 },
      { commonName: 'a', days: 1.5 },
    ]) {
      await assert.rejects(generateCertificate(options), { code: 'NV2_ERR_INVALID_ARGUMENT' });
    }
  });
});
