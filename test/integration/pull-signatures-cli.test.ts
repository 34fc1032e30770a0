/** `nv2 pull --signatures -o DIR` creates DIR (and its parents) when missing, as `oras pull -o` does. */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { nv2 } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeImageLayout } from '../helpers/oci-layout.js';

describe('nv2 pull --signatures', () => {
  it('creates the output directory when missing', async () => {
    const dir = await tempDir();
    const layout = join(dir, 'layout');
    await writeImageLayout(layout, { tag: 'v1', layers: 1, layerSize: 64 });
    const gen = await nv2(['cert', 'generate', '--cn', 'pull.example', '--out-dir', dir]);
    assert.equal(gen.code, 0, gen.stderr);
    const key = join(dir, 'pull.example.key');
    const cert = join(dir, 'pull.example.crt');
    for (const format of ['nv2', 'jws']) {
      const signed = await nv2([
        'sign',
        '--signature-format',
        format,
        '-k',
        key,
        '-c',
        cert,
        `oci-layout:${layout}:v1`,
      ]);
      assert.equal(signed.code, 0, signed.stderr);
    }
    const out = join(dir, 'new', 'signatures');
    const r = await nv2(['pull', '--signatures', `oci-layout:${layout}:v1`, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    const files = (await readdir(out)).sort();
    assert.equal(files.length, 2);
    assert.ok(files.some((f) => f.endsWith('.jwt')));
    assert.ok(files.some((f) => f.endsWith('.jws.json')));
    assert.deepEqual(r.stdout.trim().split('\n').sort(), files.map((f) => join(out, f)).sort());
    const jwt = files.find((f) => f.endsWith('.jwt'))!;
    assert.match(await readFile(join(out, jwt), 'utf8'), /^[\w-]+\.[\w-]+\.[\w-]+$/);
  });
});
