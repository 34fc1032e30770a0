/**
 * Every program in the README and docs/ (each ```ts or ```js block) type-checks against the
 * built package and runs as written. The blocks import `nv2` and `nv2/<subpath>` as a user's
 * project would: a temporary project whose `node_modules/nv2` is this repository, so the
 * package's `exports` (and their `types`) decide what resolves. Each program runs in a
 * directory of its own holding what the README says it needs (`signer.key` and `signer.crt`
 * made by `nv2 cert generate`, an image manifest in `manifest.json`; `CAROL_PASSWORD` and
 * `PORT=0` in the environment). A program must either exit 0 having printed nothing on
 * standard error, or print `listening on URL` and answer the distribution API there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nv2, run } from '../helpers/cli.js';
import { SAMPLE, SAMPLE_MANIFEST, tempDir } from '../helpers/fixtures.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** A program block of a Markdown file. */
interface Block {
  /** `README.md:123` (the line of the opening fence). */
  readonly where: string;
  readonly language: 'ts' | 'js';
  readonly source: string;
}

/** The ```ts and ```js blocks of a Markdown document. */
function programBlocks(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|js)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const end = lines.indexOf('```', i + 1);
    assert.notEqual(end, -1, `${file}:${i + 1}: code block is not closed`);
    blocks.push({
      where: `${file}:${i + 1}`,
      language: open[1] as 'ts' | 'js',
      source: lines.slice(i + 1, end).join('\n') + '\n',
    });
    i = end;
  }
  return blocks;
}

async function documentedPrograms(): Promise<Block[]> {
  const files = [
    'README.md',
    ...(await readdir(join(ROOT, 'docs')))
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => `docs/${f}`),
  ];
  const blocks: Block[] = [];
  for (const file of files)
    blocks.push(...programBlocks(file, await readFile(join(ROOT, file), 'utf8')));
  return blocks;
}

/** What a program did: exited, or started a server at `url` (then `stop` ends it). */
type Outcome =
  | { kind: 'exited'; code: number | null; stdout: string; stderr: string }
  | { kind: 'listening'; url: string; stop: () => Promise<void> };

/** Runs `node file` in `cwd` until it exits or prints `listening on URL`. */
function start(file: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const exited = new Promise<void>((done) => child.on('close', () => done()));
    child.on('error', reject);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const m = /^listening on (http:\/\/\S+)$/m.exec(stdout);
      if (m !== null && !settled) {
        settled = true;
        resolve({
          kind: 'listening',
          url: m[1]!,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
    child.on('close', (code) => {
      if (!settled) {
        settled = true;
        resolve({ kind: 'exited', code, stdout, stderr });
      }
    });
  });
}

describe('programs in the README and docs/', async () => {
  const blocks = await documentedPrograms();
  const project = await tempDir();

  it('the README has programs, and every one imports nv2 through its exports', () => {
    assert.ok(
      blocks.filter((b) => b.where.startsWith('README.md')).length >= 2,
      'the README lost its library examples',
    );
    const exportsOf = Object.keys(
      (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: object }).exports,
    );
    for (const b of blocks) {
      for (const [, specifier] of b.source.matchAll(/from '(nv2(?:\/[^']*)?)'/g)) {
        const subpath = specifier === 'nv2' ? '.' : `.${specifier!.slice('nv2'.length)}`;
        assert.ok(exportsOf.includes(subpath), `${b.where}: ${specifier} is not exported`);
      }
    }
  });

  it('type-check against the built package', async () => {
    await mkdir(join(project, 'node_modules'));
    await symlink(ROOT, join(project, 'node_modules', 'nv2'), 'dir');
    await writeFile(join(project, 'package.json'), '{ "type": "module", "private": true }\n');
    const files: string[] = [];
    for (const [i, b] of blocks.entries()) {
      const file = `example-${i}.${b.language}`;
      await writeFile(join(project, file), b.source);
      files.push(file);
    }
    // The project's own compiler settings (strict and the rest), for a program beside it.
    const tsconfig = {
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: {
        rootDir: '.',
        outDir: 'out',
        declaration: false,
        sourceMap: false,
        allowJs: true,
        checkJs: true,
        noEmitOnError: true,
        typeRoots: [join(ROOT, 'node_modules', '@types')],
      },
      include: [],
      files,
    };
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    const tsc = await run(process.execPath, [TSC, '-p', join(project, 'tsconfig.json')], {
      cwd: project,
    });
    const named = tsc.stdout.replace(/example-(\d+)\.[tj]s/g, (_, i: string) =>
      blocks[Number(i)]!.where.concat(' block'),
    );
    assert.equal(tsc.code, 0, named);
  });

  for (const [i, block] of blocks.entries()) {
    it(`${block.where} runs as written`, async () => {
      const cwd = await tempDir();
      const cert = await nv2(
        ['cert', 'generate', '--cn', 'registry.wabbit-networks.io', '--name', 'signer'],
        { cwd },
      );
      assert.equal(cert.code, 0, cert.stderr);
      await writeFile(join(cwd, 'manifest.json'), SAMPLE_MANIFEST);
      const env = { PATH: process.env.PATH, CAROL_PASSWORD: 'carol-secret', PORT: '0' };
      const outcome = await start(join(project, 'out', `example-${i}.js`), cwd, env);
      if (outcome.kind === 'exited') {
        assert.deepEqual(
          { code: outcome.code, stderr: outcome.stderr },
          { code: 0, stderr: '' },
          outcome.stdout,
        );
        // The library example prints what it verified: the manifest's digest and signer.
        if (block.source.includes("'manifest.json'")) {
          assert.match(
            outcome.stdout,
            new RegExp(`^${SAMPLE.descriptor.digest} .*CN=registry\\.wabbit-networks\\.io`),
          );
        }
        return;
      }
      try {
        const base = await fetch(`${outcome.url}/v2/`);
        await base.arrayBuffer();
        assert.equal(base.headers.get('docker-distribution-api-version'), 'registry/2.0');
        if (block.source.includes('CAROL_PASSWORD')) {
          // Protected: a challenge, and carol's password buys a token that opens the API.
          assert.equal(base.status, 401);
          assert.match(base.headers.get('www-authenticate') ?? '', /^Bearer /);
          const basic = Buffer.from(`carol:${env.CAROL_PASSWORD}`).toString('base64');
          const token = await fetch(
            `${outcome.url}/auth/token?service=nv2-registry&scope=repository:acme/app:pull,push`,
            { headers: { authorization: `Basic ${basic}` } },
          );
          assert.equal(token.status, 200);
          const { token: bearer } = (await token.json()) as { token: string };
          const authorized = await fetch(`${outcome.url}/v2/`, {
            headers: { authorization: `Bearer ${bearer}` },
          });
          await authorized.arrayBuffer();
          assert.equal(authorized.status, 200);
        } else {
          assert.equal(base.status, 200);
        }
      } finally {
        await outcome.stop();
      }
    });
  }
});
