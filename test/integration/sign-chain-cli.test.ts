/**
 * `nv2 sign -c chain.crt` writes the chain the formats require whatever the chain file holds:
 * `cat leaf.crt ca.crt > chain.crt` after `cert generate --issuer-cert` (the CA twice) gives
 * leaf → CA, as notation accepts; a stranger in the file is refused with one clear line.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { nv2 } from '../helpers/cli.js';
import { SAMPLE_MANIFEST, tempDir } from '../helpers/fixtures.js';

describe('nv2 sign: the certificate chain file', () => {
  let dir: string;
  let manifest: string;

  before(async () => {
    dir = await tempDir();
    manifest = join(dir, 'manifest.json');
    await writeFile(manifest, SAMPLE_MANIFEST);
    for (const args of [
      ['--cn', 'Chain CA', '--name', 'ca', '--ca'],
      ['--cn', 'Other CA', '--name', 'other', '--ca'],
      [
        '--cn',
        'signer.example',
        '--name',
        'leaf',
        '--issuer-key',
        join(dir, 'ca.key'),
        '--issuer-cert',
        join(dir, 'ca.crt'),
      ],
    ]) {
      const r = await nv2(['cert', 'generate', ...args, '--out-dir', dir]);
      assert.equal(r.code, 0, r.stderr);
    }
    const leafPem = await readFile(join(dir, 'leaf.crt'), 'utf8');
    assert.equal(leafPem.match(/BEGIN CERTIFICATE/g)?.length, 2, 'leaf.crt holds leaf and CA');
    await writeFile(
      join(dir, 'chain.crt'),
      leafPem + (await readFile(join(dir, 'ca.crt'), 'utf8')),
    );
    await writeFile(
      join(dir, 'stranger.crt'),
      leafPem + (await readFile(join(dir, 'other.crt'), 'utf8')),
    );
  });

  for (const format of ['jws', 'cose', 'nv2'] as const) {
    it(`${format}: leaf, CA, CA in the file → leaf, CA in the signature, which verifies`, async () => {
      const out = join(dir, `sig-${format}`);
      const signed = await nv2([
        'sign',
        '--signature-format',
        format,
        '-k',
        join(dir, 'leaf.key'),
        '-c',
        join(dir, 'chain.crt'),
        '-o',
        out,
        `file:${manifest}`,
      ]);
      assert.equal(signed.code, 0, signed.stderr);
      const inspect = await nv2(['inspect', out, '--output', 'json']);
      assert.equal(inspect.code, 0, inspect.stderr);
      const { certificates } = JSON.parse(inspect.stdout) as {
        certificates: { subject: string }[];
      };
      assert.deepEqual(
        certificates.map((c) => c.subject),
        ['CN=signer.example', 'CN=Chain CA'],
      );
      const verified = await nv2([
        'verify',
        '-f',
        out,
        '--ca-cert',
        join(dir, 'ca.crt'),
        `file:${manifest}`,
      ]);
      assert.equal(verified.code, 0, verified.stderr);
    });
  }

  it('a certificate outside the chain is refused: exit 2, one line', async () => {
    const r = await nv2([
      'sign',
      '--signature-format',
      'jws',
      '-k',
      join(dir, 'leaf.key'),
      '-c',
      join(dir, 'stranger.crt'),
      '-o',
      join(dir, 'never'),
      `file:${manifest}`,
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^nv2: NV2_ERR_INVALID_CERTIFICATE: [^\n]*Other CA[^\n]*\n$/);
  });
});
