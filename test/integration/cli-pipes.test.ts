/**
 * A standard output whose reader has gone (`nv2 … | head -1`) ends nothing but the output:
 * no stack trace, the command finishes, the exit status is the command's (docs/errors.md).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { CLI, type CliResult, nv2, run } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeImageLayout } from '../helpers/oci-layout.js';

/** Runs nv2 with a standard output pipe whose reading end is closed before nv2 writes. */
function nv2IntoClosedPipe(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    const err: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolvePromise({ code: code ?? -1, stdout: '', stderr: Buffer.concat(err).toString() }),
    );
  });
}

describe('a closed standard output', () => {
  let dir: string;
  let layout: string;

  before(async () => {
    dir = await tempDir();
    layout = join(dir, 'layout');
    await writeImageLayout(layout, { tag: 'v1', layers: 1, layerSize: 64 });
    const gen = await nv2(['cert', 'generate', '--cn', 'pipes.example', '--out-dir', dir]);
    assert.equal(gen.code, 0, gen.stderr);
  });

  it('nv2 verify --help | head -0: silent, exit 0', async () => {
    const viaShell = await run('sh', [
      '-c',
      `"${process.execPath}" "${CLI}" verify --help | head -0`,
    ]);
    assert.equal(viaShell.stderr, '');
    const r = await nv2IntoClosedPipe(['verify', '--help']);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
  });

  it('nv2 sign … | head -1: the signature is pushed, silent, exit 0', async () => {
    const args = [
      'sign',
      '-k',
      join(dir, 'pipes.example.key'),
      '-c',
      join(dir, 'pipes.example.crt'),
      `oci-layout:${layout}:v1`,
    ];
    const viaShell = await run('sh', [
      '-c',
      `${[process.execPath, CLI, ...args].map((a) => `"${a}"`).join(' ')} | head -0`,
    ]);
    assert.equal(viaShell.stderr, '');
    const r = await nv2IntoClosedPipe(args);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    const list = await nv2(['list', `oci-layout:${layout}:v1`, '--output', 'json']);
    assert.equal(list.code, 0, list.stderr);
    const { signatures } = JSON.parse(list.stdout) as { signatures: { error?: unknown }[] };
    assert.equal(signatures.length, 2, 'both runs pushed their signature');
    assert.ok(signatures.every((s) => s.error === undefined));
  });

  it('a failing command keeps its exit status and its one-line error on standard error', async () => {
    const r = await nv2IntoClosedPipe(['verify', '-f', join(dir, 'missing.jwt'), 'file:-']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^nv2: NV2_ERR_FILE_NOT_FOUND: [^\n]*\n$/);
  });
});
