/**
 * `nv2 key add|list|remove|default` and `nv2 sign --key NAME` with key files, through the
 * built CLI: nv2's own signingkeys.json, and notation's, pointed at with --signing-keys or
 * NV2_SIGNING_KEYS.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadCertificates } from '../../src/x509/index.js';
import { type CliResult, lines, nv2, ok } from '../helpers/cli.js';
import { SAMPLE, SAMPLE_MANIFEST, tempDir } from '../helpers/fixtures.js';

function fails(result: CliResult, exit: number, code: string, what: string): void {
  assert.equal(result.code, exit, `${what}: exit ${result.code}\n${result.stderr}`);
  assert.equal(lines(result.stderr).length, 1, `${what}: one line\n${result.stderr}`);
  assert.match(result.stderr, new RegExp(`^nv2: ${code}: `), what);
}

describe('nv2 key and nv2 sign --key NAME', () => {
  let work: string;
  let manifest: string;
  const file = (name: string) => join(work, name);

  before(async () => {
    work = await tempDir();
    process.env['NV2_CONFIG_DIR'] = join(work, 'config');
    delete process.env['NV2_SIGNING_KEYS'];
    for (const [cn, name, extra] of [
      ['Keys Root', 'root', ['--ca']],
      [
        'release.example',
        'release',
        ['--issuer-key', file('root.key'), '--issuer-cert', file('root.crt')],
      ],
      [
        'other.example',
        'other',
        ['--issuer-key', file('root.key'), '--issuer-cert', file('root.crt')],
      ],
    ] as const) {
      ok(
        await nv2(['cert', 'generate', ...extra, '--cn', cn, '--name', name, '--out-dir', work]),
        `cert ${name}`,
      );
    }
    manifest = file('manifest.json');
    await writeFile(manifest, SAMPLE_MANIFEST);
  });

  it('adds keys (the first becomes the default), lists, and refuses a clash or a mismatched pair', async () => {
    assert.equal(
      ok(
        await nv2(['key', 'add', 'release', '-k', file('release.key'), '-c', file('release.crt')]),
        'add',
      ).stdout,
      'release (default)\n',
    );
    assert.equal(
      ok(
        await nv2(['key', 'add', 'other', '-k', file('other.key'), '-c', file('other.crt')]),
        'add other',
      ).stdout,
      'other\n',
    );
    fails(
      await nv2(['key', 'add', 'release', '-k', file('release.key'), '-c', file('release.crt')]),
      2,
      'NV2_ERR_SIGNING_KEY_EXISTS',
      'clash',
    );
    fails(
      await nv2(['key', 'add', 'mixed', '-k', file('release.key'), '-c', file('other.crt')]),
      2,
      'NV2_ERR_KEY_CERT_MISMATCH',
      'mismatch',
    );
    fails(
      await nv2(['key', 'add', 'nocert', '-k', file('release.key')]),
      2,
      'NV2_ERR_INVALID_ARGUMENT',
      'no certificate',
    );
    const listed = lines(ok(await nv2(['key', 'list']), 'list').stdout);
    assert.deepEqual(listed, [
      `* release\t${file('release.key')} ${file('release.crt')}`,
      `  other\t${file('other.key')} ${file('other.crt')}`,
    ]);
    // notation's format on disk.
    const saved = JSON.parse(await readFile(join(work, 'config', 'signingkeys.json'), 'utf8')) as {
      default: string;
      keys: { name: string; keyPath: string; certPath: string }[];
    };
    assert.equal(saved.default, 'release');
    assert.deepEqual(saved.keys[1], {
      name: 'other',
      keyPath: file('other.key'),
      certPath: file('other.crt'),
    });
  });

  it('signs with the default key and with --key NAME, in every format', async () => {
    const out = file('default.jwt');
    ok(await nv2(['sign', '-o', out, `file:${manifest}`]), 'sign with the default');
    ok(
      await nv2(['verify', '-f', out, '-c', file('release.crt'), `file:${manifest}`]),
      'verify the default key',
    );
    const header = JSON.parse(
      Buffer.from((await readFile(out, 'utf8')).split('.')[0]!, 'base64url').toString(),
    ) as { x5c: string[] };
    const release = loadCertificates(await readFile(file('release.crt')), 'release.crt');
    assert.equal(header.x5c[0], release[0]!.der.toString('base64'), 'signed by the default key');
    for (const format of ['nv2', 'jws', 'cose']) {
      const sig = file(`other.${format}`);
      ok(
        await nv2([
          'sign',
          '--signature-format',
          format,
          '--key',
          'other',
          '-o',
          sig,
          `file:${manifest}`,
        ]),
        `sign ${format} --key other`,
      );
      ok(
        await nv2(['verify', '-f', sig, '--ca-cert', file('root.crt'), `file:${manifest}`]),
        `verify ${format}`,
      );
    }
    fails(
      await nv2(['sign', '--key', 'nobody', '-o', out, `file:${manifest}`]),
      2,
      'NV2_ERR_FILE_NOT_FOUND',
      'neither a name nor a file',
    );
  });

  it('changes the default, removes keys, and says when none is left', async () => {
    assert.equal(ok(await nv2(['key', 'default', 'other']), 'default').stdout, 'other\n');
    assert.match(ok(await nv2(['key', 'list']), 'list').stdout, /^\* other/m);
    fails(await nv2(['key', 'default', 'nobody']), 2, 'NV2_ERR_SIGNING_KEY_NOT_FOUND', 'unknown');
    ok(await nv2(['key', 'remove', 'other']), 'remove other');
    ok(await nv2(['key', 'remove', 'release']), 'remove release');
    assert.equal(ok(await nv2(['key', 'list']), 'list').stdout, '');
    fails(
      await nv2(['sign', '-o', file('none.jwt'), `file:${manifest}`]),
      2,
      'NV2_ERR_SIGNING_KEY_NOT_FOUND',
      'no default',
    );
    // The key files are left alone.
    assert.ok((await readFile(file('release.key'))).byteLength > 0);
  });

  it("signs with a key from notation's signingkeys.json (--signing-keys or NV2_SIGNING_KEYS)", async () => {
    const notation = join(work, 'notation');
    await mkdir(notation);
    const notationFile = join(notation, 'signingkeys.json');
    await writeFile(
      notationFile,
      JSON.stringify({
        default: 'wabbit-networks',
        keys: [
          { name: 'wabbit-networks', keyPath: file('release.key'), certPath: file('release.crt') },
          { name: 'kms', id: 'key-1', pluginName: 'com.example.kms' },
        ],
      }),
    );
    const out = file('notation.cose');
    ok(
      await nv2([
        'sign',
        '--signing-keys',
        notationFile,
        '--signature-format',
        'cose',
        '-o',
        out,
        `file:${manifest}`,
      ]),
      'sign with notation default',
    );
    ok(
      await nv2(['verify', '-f', out, '--ca-cert', file('root.crt'), `file:${manifest}`]),
      'verify',
    );
    process.env['NV2_SIGNING_KEYS'] = notationFile;
    try {
      assert.match(ok(await nv2(['key', 'list']), 'list').stdout, /^\* wabbit-networks\t/m);
      const signed = ok(
        await nv2(['sign', '--key', 'wabbit-networks', '-o', file('n.jwt'), `file:${manifest}`]),
        'sign via the environment',
      );
      assert.equal(signed.stdout, `${SAMPLE.descriptor.digest}\n`);
    } finally {
      delete process.env['NV2_SIGNING_KEYS'];
    }
  });
});
