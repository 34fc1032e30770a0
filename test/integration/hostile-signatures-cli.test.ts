/**
 * Signatures anyone with push access can place beside an image, as the CLI meets them:
 * `list`, `inspect` and `verify --output json` never crash (exit 4) on them; they show the
 * signature as invalid with its typed reason.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { openOciLayout } from '../../src/content/index.js';
import { pushSignature } from '../../src/notary/index.js';
import { type CliResult, nv2 } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeImageLayout } from '../helpers/oci-layout.js';
import { type TestIdentity, craftJws, selfSignedSigner, x5cOf } from '../helpers/pki.js';

/** No crash: not exit 4, no stack trace, no "internal error". */
function assertNoCrash(r: CliResult, what: string): void {
  assert.notEqual(r.code, 4, `${what} crashed:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error|RangeError|\n\s+at /, what);
}

describe('hostile signatures in the CLI', () => {
  let dir: string;
  let layout: string;
  let signer: TestIdentity;
  let certFile: string;
  let subject: { mediaType: string; digest: string; size: number };

  before(async () => {
    dir = await tempDir();
    layout = join(dir, 'layout');
    const image = await writeImageLayout(layout, { tag: 'v1', layers: 1, layerSize: 64 });
    subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
    signer = await selfSignedSigner('registry.example.com');
    certFile = join(dir, 'signer.crt');
    await writeFile(certFile, signer.certPem);
  });

  /** A signature for the image, signed by the trusted signer, with `claims` added. */
  function hostile(claims: Record<string, unknown>): string {
    return craftJws(
      { typ: 'x509', alg: 'ES256', x5c: x5cOf(signer) },
      { ...subject, iat: Math.floor(Date.now() / 1000), ...claims },
      signer.key,
    );
  }

  for (const claim of ['iat', 'nbf', 'exp'] as const) {
    it(`a signature with "${claim}": 1e13 is listed, inspected and verified as invalid`, async () => {
      const jws = hostile({ [claim]: 1e13 });
      const file = join(dir, `${claim}.jwt`);
      await writeFile(file, jws);
      const store = join(dir, `store-${claim}`);
      await writeImageLayout(store, { tag: 'v1', layers: 1, layerSize: 64 });
      const target = await openOciLayout(store);
      await pushSignature(target, await target.resolve('v1'), jws);

      const list = await nv2(['list', `oci-layout:${store}:v1`, '--output', 'json']);
      assertNoCrash(list, 'list');
      assert.equal(list.code, 0, list.stderr);
      const rows = (JSON.parse(list.stdout) as { signatures: { error?: { code: string } }[] })
        .signatures;
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.error?.code, 'NV2_ERR_SIGNATURE_MALFORMED');
      const text = await nv2(['list', `oci-layout:${store}:v1`]);
      assertNoCrash(text, 'list (text)');
      assert.match(text.stdout, /NV2_ERR_SIGNATURE_MALFORMED/);

      const inspect = await nv2(['inspect', file, '--output', 'json']);
      assertNoCrash(inspect, 'inspect');
      assert.equal(inspect.code, 0, inspect.stderr);
      const shown = JSON.parse(inspect.stdout) as { times: Record<string, string> };
      assert.match(shown.times[claim]!, /^invalid/);

      for (const args of [
        ['verify', `oci-layout:${store}:v1`, '-c', certFile, '--output', 'json'],
        ['verify', '-f', file, '-c', certFile, `oci-layout:${layout}:v1`, '--output', 'json'],
      ]) {
        const verify = await nv2(args);
        assertNoCrash(verify, args.join(' '));
        assert.equal(verify.code, 1, verify.stderr);
        assert.match(verify.stdout + verify.stderr, /NV2_ERR_SIGNATURE_MALFORMED/);
      }
    });
  }

  it('a homoglyph in a Notary Project JWS makes verify fail (exit 1) where it held', async () => {
    const manifest = join(dir, 'manifest.json');
    await writeFile(
      manifest,
      await readFile(join(layout, 'blobs', 'sha256', subject.digest.slice(7))),
    );
    const gen = await nv2(['cert', 'generate', '--cn', 'homoglyph.example', '--out-dir', dir]);
    assert.equal(gen.code, 0, gen.stderr);
    const key = join(dir, 'homoglyph.example.key');
    const cert = join(dir, 'homoglyph.example.crt');
    const envelope = join(dir, 'good.jws.json');
    const signed = await nv2([
      'sign',
      '--signature-format',
      'jws',
      '-k',
      key,
      '-c',
      cert,
      '-o',
      envelope,
      `file:${manifest}`,
    ]);
    assert.equal(signed.code, 0, signed.stderr);
    const good = await nv2(['verify', '-f', envelope, '-c', cert, `file:${manifest}`]);
    assert.equal(good.code, 0, good.stderr);
    const json = JSON.parse(await readFile(envelope, 'utf8')) as Record<string, string>;
    for (const member of ['protected', 'payload', 'signature']) {
      const text = json[member]!;
      const i = text.search(/[A-Za-z]/);
      const altered =
        text.slice(0, i) + String.fromCharCode(0x100 + text.charCodeAt(i)) + text.slice(i + 1);
      const bad = join(dir, `homoglyph-${member}.jws.json`);
      await writeFile(bad, JSON.stringify({ ...json, [member]: altered }));
      const r = await nv2(['verify', '-f', bad, '-c', cert, `file:${manifest}`]);
      assertNoCrash(r, member);
      assert.equal(r.code, 1, `${member}: ${r.stderr}`);
      assert.match(r.stderr, /^nv2: NV2_ERR_SIGNATURE_\w+: .*not base64url/);
    }
  });
});
