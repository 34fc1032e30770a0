/**
 * Signing with keys inside a PKCS#11 token: a SoftHSM 2 token initialized for this run, RSA
 * and EC keys generated inside it, certificates issued by the test PKI and imported beside
 * them. Signatures in the three formats are verified by nv2 and by OpenSSL; named token
 * keys; the errors a user meets; and signing against nv2's registry and CNCF distribution,
 * verified by `nv2 verify` under a trust policy.
 */
import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { NotationMediaTypes, parseNotationEnvelope } from '../../src/notation/index.js';
import type { Certificate } from '../../src/x509/index.js';
import { type CliResult, lines, nv2, ok, run } from '../helpers/cli.js';
import { distributionMissing, startDistribution } from '../helpers/distribution.js';
import { SAMPLE, SAMPLE_MANIFEST, VECTORS_DIR, tempDir } from '../helpers/fixtures.js';
import { type TestIdentity, rootCA } from '../helpers/pki.js';
import { startRegistry } from '../helpers/registry.js';
import {
  type SoftHsm,
  certifyTokenKey,
  generateTokenKey,
  initTokenWithoutUserPin,
  softhsmMissing,
  startSoftHsm,
} from '../helpers/softhsm.js';

const missing = softhsmMissing();

interface TokenKey {
  readonly label: string;
  readonly type: string;
  readonly id: string;
  /** The nv2 format's default algorithm, and the Notary Project formats' algorithm. */
  readonly nv2Alg: string;
  readonly notationAlg: string;
}

const KEYS: readonly TokenKey[] = [
  { label: 'rsa', type: 'rsa:2048', id: '01', nv2Alg: 'RS256', notationAlg: 'PS256' },
  { label: 'ec256', type: 'EC:prime256v1', id: '02', nv2Alg: 'ES256', notationAlg: 'ES256' },
  { label: 'ec384', type: 'EC:secp384r1', id: '03', nv2Alg: 'ES384', notationAlg: 'ES384' },
];

const HASHES: Readonly<Record<string, string>> = {
  RS256: 'sha256',
  PS256: 'sha256',
  ES256: 'sha256',
  ES384: 'sha384',
};

/** DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs) from JWS/COSE r‖s, for OpenSSL. */
function derEcdsa(raw: Uint8Array): Buffer {
  const half = raw.byteLength / 2;
  const integer = (bytes: Uint8Array): Buffer => {
    let b = Buffer.from(bytes);
    while (b.byteLength > 1 && b[0] === 0 && b[1]! < 0x80) b = b.subarray(1);
    if (b[0]! >= 0x80) b = Buffer.concat([Buffer.from([0]), b]);
    return Buffer.concat([Buffer.from([0x02, b.byteLength]), b]);
  };
  const body = Buffer.concat([integer(raw.subarray(0, half)), integer(raw.subarray(half))]);
  const length =
    body.byteLength < 0x80 ? Buffer.from([body.byteLength]) : Buffer.from([0x81, body.byteLength]);
  return Buffer.concat([Buffer.from([0x30]), length, body]);
}

/** Checks a signature with `openssl dgst -verify`, an implementation independent of nv2. */
async function opensslVerifies(
  dir: string,
  publicKey: KeyObject,
  alg: string,
  input: Uint8Array,
  signature: Uint8Array,
): Promise<CliResult> {
  const pub = join(dir, `${alg}.pub.pem`);
  const data = join(dir, `${alg}.data`);
  const sig = join(dir, `${alg}.sig`);
  await writeFile(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(data, input);
  await writeFile(sig, alg.startsWith('ES') ? derEcdsa(signature) : signature);
  const pss = alg.startsWith('PS')
    ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest']
    : [];
  return run('openssl', [
    'dgst',
    `-${HASHES[alg]!}`,
    '-verify',
    pub,
    ...pss,
    '-signature',
    sig,
    data,
  ]);
}

/** A failed run: the exit code, one line on standard error, and the error code in it. */
function fails(result: CliResult, exit: number, code: string, what: string): void {
  assert.equal(result.code, exit, `${what}: exit ${result.code}\n${result.stderr}`);
  assert.equal(lines(result.stderr).length, 1, `${what}: one line\n${result.stderr}`);
  assert.match(result.stderr, new RegExp(`^nv2: ${code}: `), what);
}

describe('PKCS#11 token keys (SoftHSM 2)', { skip: missing }, () => {
  let hsm: SoftHsm;
  let work: string;
  let root: TestIdentity;
  let manifest: string;
  const certs = new Map<string, Certificate>();
  const chains = new Map<string, string>();

  before(async () => {
    hsm = await startSoftHsm();
    process.env['SOFTHSM2_CONF'] = hsm.conf;
    delete process.env['NV2_PKCS11_PIN'];
    delete process.env['NV2_PKCS11_MODULE'];
    delete process.env['NV2_SIGNING_KEYS'];
    work = await tempDir();
    process.env['NV2_CONFIG_DIR'] = join(work, 'config');
    root = await rootCA('HSM Test Root');
    await writeFile(join(work, 'root.crt'), root.certPem);
    for (const key of KEYS) {
      const publicKey = await generateTokenKey(hsm, key.type, key.id, key.label);
      const cert = await certifyTokenKey(hsm, publicKey, root, key.id, key.label);
      certs.set(key.label, cert);
      const chain = join(work, `${key.label}.chain.pem`);
      await writeFile(chain, cert.toPem() + root.certPem);
      chains.set(key.label, chain);
    }
    manifest = join(work, 'manifest.json');
    await writeFile(manifest, SAMPLE_MANIFEST);
  });

  for (const key of KEYS) {
    it(`${key.label}: signs in the nv2 format inside the token (${key.nv2Alg}, certificate from the token); nv2 and OpenSSL verify it`, async () => {
      const out = join(work, `${key.label}.jwt`);
      const signed = ok(
        await nv2(['sign', '-k', hsm.uri(key.label), '-o', out, `file:${manifest}`]),
        'sign',
      );
      assert.equal(signed.stdout, `${SAMPLE.descriptor.digest}\n`);
      const jws = (await readFile(out, 'utf8')).trim();
      const [header, payload, signature] = jws.split('.');
      const parsed = JSON.parse(Buffer.from(header!, 'base64url').toString()) as {
        alg: string;
        x5c: string[];
      };
      assert.equal(parsed.alg, key.nv2Alg);
      assert.deepEqual(parsed.x5c, [certs.get(key.label)!.der.toString('base64')]);
      ok(
        await nv2(['verify', '-f', out, '--ca-cert', join(work, 'root.crt'), `file:${manifest}`]),
        'nv2 verify',
      );
      ok(
        await opensslVerifies(
          work,
          certs.get(key.label)!.publicKey,
          key.nv2Alg,
          Buffer.from(`${header}.${payload}`),
          Buffer.from(signature!, 'base64url'),
        ),
        'openssl verify',
      );
    });

    for (const format of ['jws', 'cose'] as const) {
      it(`${key.label}: signs in the Notary Project ${format} format (${key.notationAlg}); nv2 and OpenSSL verify it`, async () => {
        const out = join(work, `${key.label}.${format}`);
        ok(
          await nv2([
            'sign',
            '--signature-format',
            format,
            '-k',
            hsm.uri(key.label),
            '-c',
            chains.get(key.label)!,
            '-o',
            out,
            `file:${manifest}`,
          ]),
          'sign',
        );
        const envelope = parseNotationEnvelope(
          await readFile(out),
          format === 'jws' ? NotationMediaTypes.jws : NotationMediaTypes.cose,
        );
        assert.equal(envelope.algorithm, key.notationAlg);
        assert.equal(envelope.certificateChain.length, 2);
        ok(
          await nv2(['verify', '-f', out, '--ca-cert', join(work, 'root.crt'), `file:${manifest}`]),
          'nv2 verify',
        );
        ok(
          await opensslVerifies(
            work,
            certs.get(key.label)!.publicKey,
            key.notationAlg,
            envelope.signingInput,
            envelope.signature,
          ),
          'openssl verify',
        );
      });
    }
  }

  it('names a token key with nv2 key add, and signs with the default key', async () => {
    const added = ok(
      await nv2(['key', 'add', 'hsm', '-k', hsm.uri('ec256'), '-c', chains.get('ec256')!]),
      'key add',
    );
    assert.equal(added.stdout, 'hsm (default)\n');
    const listed = JSON.parse(
      ok(await nv2(['key', 'list', '--output', 'json']), 'key list').stdout,
    ) as { default: string; keys: { name: string; keyPath: string }[] };
    assert.equal(listed.default, 'hsm');
    assert.equal(listed.keys[0]!.keyPath, hsm.uri('ec256'));
    const out = join(work, 'default.cose');
    ok(
      await nv2(['sign', '--signature-format', 'cose', '-o', out, `file:${manifest}`]),
      'sign with the default key',
    );
    assert.equal(
      parseNotationEnvelope(await readFile(out), NotationMediaTypes.cose).certificateChain[0]!
        .fingerprintSha256,
      certs.get('ec256')!.fingerprintSha256,
    );
    ok(await nv2(['key', 'remove', 'hsm']), 'key remove');
    fails(
      await nv2(['sign', '--signature-format', 'cose', '-o', out, `file:${manifest}`]),
      2,
      'NV2_ERR_SIGNING_KEY_NOT_FOUND',
      'no default key',
    );
  });

  it('reads the PIN from NV2_PKCS11_PIN when the URI has no pin-source', async () => {
    const uri = hsm.uri('rsa', { pin: false });
    const sign = () => nv2(['sign', '-k', uri, '-o', join(work, 'env.jwt'), `file:${manifest}`]);
    fails(await sign(), 2, 'NV2_ERR_PKCS11_PIN_REQUIRED', 'no PIN anywhere');
    process.env['NV2_PKCS11_PIN'] = hsm.pin;
    try {
      ok(await sign(), 'PIN from the environment');
    } finally {
      delete process.env['NV2_PKCS11_PIN'];
    }
  });

  it('gives one clear line with a typed code for each token error', async () => {
    const target = `file:${manifest}`;
    const out = ['-o', join(work, 'error.jwt')];
    const sign = (uri: string, extra: string[] = []) =>
      nv2(['sign', '-k', uri, ...extra, ...out, target]);
    fails(
      await sign(
        `pkcs11:token=${hsm.label};object=nothing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:${hsm.pinFile}`,
      ),
      2,
      'NV2_ERR_PKCS11_OBJECT_NOT_FOUND',
      'no such object',
    );
    fails(
      await sign(hsm.uri('rsa').replace(`token=${hsm.label}`, 'token=elsewhere')),
      2,
      'NV2_ERR_PKCS11_TOKEN_NOT_FOUND',
      'no such token',
    );
    fails(
      await sign(hsm.uri('rsa', { module: join(work, 'no-such-module.so') })),
      2,
      'NV2_ERR_PKCS11_MODULE',
      'module not found',
    );
    fails(
      await sign(`pkcs11:token=${hsm.label};object=rsa?pin-source=file:${hsm.pinFile}`),
      2,
      'NV2_ERR_PKCS11_MODULE',
      'no module given',
    );
    fails(
      await sign(`${hsm.uri('rsa', { pin: false })}&pin-value=${hsm.pin}`),
      2,
      'NV2_ERR_PKCS11_URI_INVALID',
      'a PIN in the URI',
    );
    fails(
      await sign(hsm.uri('rsa'), ['-c', chains.get('ec256')!]),
      2,
      'NV2_ERR_KEY_CERT_MISMATCH',
      'a certificate of another key',
    );
    // A key the formats cannot use: RSA-1024, certified and stored like the others.
    const weak = await generateTokenKey(hsm, 'rsa:1024', '09', 'weak');
    await certifyTokenKey(hsm, weak, root, '09', 'weak');
    fails(await sign(hsm.uri('weak')), 2, 'NV2_ERR_UNSUPPORTED_KEY', 'RSA-1024');
    // Last: a wrong PIN (SoftHSM counts no attempts, a real token would lock after a few).
    const wrongPin = join(work, 'wrong-pin');
    await writeFile(wrongPin, '000000\n');
    fails(
      await sign(hsm.uri('rsa').replace(hsm.pinFile, wrongPin)),
      2,
      'NV2_ERR_PKCS11_PIN_INCORRECT',
      'wrong PIN',
    );
    // After wrong PINs SoftHSM raises CKF_USER_PIN_COUNT_LOW (it never locks): nv2 says so.
    const again = await sign(hsm.uri('rsa').replace(hsm.pinFile, wrongPin));
    fails(again, 2, 'NV2_ERR_PKCS11_PIN_INCORRECT', 'wrong PIN again');
    assert.match(again.stderr, /the token refused the PIN; it reports few tries left$/m);
    // The closest SoftHSM comes to a token that will not let its user in: one initialised
    // by its security officer whose user PIN was never set. Refused before any PIN is read.
    await initTokenWithoutUserPin(hsm, 'unissued');
    const unissued = await sign(
      hsm.uri('rsa').replace(`token=${hsm.label}`, 'token=unissued').replace(hsm.pinFile, wrongPin),
    );
    fails(unissued, 2, 'NV2_ERR_PKCS11_PIN_NOT_INITIALIZED', 'user PIN never set');
    assert.match(
      unissued.stderr,
      /token "unissued": its user PIN was never set; the token's security officer must set it/,
    );
  });
});

const NOTATION_LAYOUT = fileURLToPath(new URL('notation/oci-layout/e2e', VECTORS_DIR));
const SUBJECT = 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9';
const noDistribution = distributionMissing();

for (const name of ['nv2', 'distribution'] as const) {
  describe(
    `PKCS#11 signing against ${name === 'nv2' ? "nv2's registry" : 'CNCF distribution'}, verified under a trust policy`,
    { skip: missing ?? (name === 'distribution' ? noDistribution : undefined) },
    () => {
      let hsm: SoftHsm;
      let host: string;
      let close: () => Promise<void>;
      let work: string;
      let chain: string;
      let ecChain: string;

      before(async () => {
        hsm = await startSoftHsm('registry-signing');
        process.env['SOFTHSM2_CONF'] = hsm.conf;
        const registry = name === 'nv2' ? await startRegistry() : await startDistribution();
        host = registry.host;
        close = () => registry.close();
        work = await tempDir();
        const root = await rootCA('Registry HSM Root');
        const rsa = await generateTokenKey(hsm, 'rsa:2048', '01', 'release');
        const rsaCert = await certifyTokenKey(hsm, rsa, root, '01', 'release', {
          cn: 'release.example',
        });
        const ec = await generateTokenKey(hsm, 'EC:prime256v1', '02', 'release-ec');
        const ecCert = await certifyTokenKey(hsm, ec, root, '02', 'release-ec', {
          cn: 'release.example',
        });
        chain = join(work, 'release.chain.pem');
        await writeFile(chain, rsaCert.toPem() + root.certPem);
        ecChain = join(work, 'release-ec.chain.pem');
        await writeFile(ecChain, ecCert.toPem() + root.certPem);
        const config = join(work, 'config');
        await mkdir(join(config, 'truststore', 'x509', 'ca', 'hsm'), { recursive: true });
        await writeFile(join(config, 'truststore', 'x509', 'ca', 'hsm', 'root.crt'), root.certPem);
        await writeFile(
          join(config, 'trustpolicy.json'),
          JSON.stringify({
            version: '1.0',
            trustPolicies: [
              {
                name: 'hsm-signed',
                registryScopes: ['*'],
                signatureVerification: { level: 'strict' },
                trustStores: ['ca:hsm'],
                trustedIdentities: ['*'],
              },
            ],
          }),
        );
        process.env['NV2_CONFIG_DIR'] = config;
        const layout = join(work, 'layout');
        await cp(NOTATION_LAYOUT, layout, { recursive: true });
        ok(await nv2(['copy', `oci-layout:${layout}:v1`, `${host}/hsm/app:v1`]), 'copy subject');
      });
      after(async () => close());

      it('pushes nv2, jws and cose signatures made in the token; nv2 verify accepts all three by policy', async () => {
        const ref = `${host}/hsm/app:v1`;
        const pushed: string[] = [];
        for (const [format, uri, certs] of [
          ['nv2', hsm.uri('release'), chain],
          ['jws', hsm.uri('release-ec'), ecChain],
          ['cose', hsm.uri('release'), chain],
        ] as const) {
          const out = lines(
            ok(
              await nv2(['sign', '--signature-format', format, '-k', uri, '-c', certs, ref]),
              `sign ${format}`,
            ).stdout,
          );
          assert.equal(out[0], SUBJECT);
          assert.match(out[1]!, /^sha256:[0-9a-f]{64}$/);
          pushed.push(out[1]!);
        }
        assert.equal(new Set(pushed).size, 3);
        const json = ok(await nv2(['verify', '--output', 'json', ref]), 'verify json').stdout;
        const report = JSON.parse(json) as { signatures: { verified: boolean }[] };
        assert.deepEqual(
          report.signatures.map((s) => s.verified),
          [true, true, true],
          json,
        );
        const verified = ok(await nv2(['verify', ref]), 'verify by policy');
        assert.equal(verified.stdout, `${SUBJECT}\n`);
        assert.match(verified.stderr, /3 signatures found, 3 verified/);
      });
    },
  );
}
