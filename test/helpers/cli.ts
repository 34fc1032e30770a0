/** Runs the built `nv2` CLI (dist/cli/main.js) as a user would: a real process. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The bundled CLI entry point. */
export const CLI = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));

/** What a CLI run produced. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `nv2 ...args` in `cwd`, feeding `stdin` if given. */
export function nv2(
  args: readonly string[],
  options: { cwd?: string; stdin?: Buffer | string } = {},
): Promise<CliResult> {
  return run(process.execPath, [CLI, ...args], options);
}

/**
 * Runs a program (nv2, or an independent tool such as openssl) and collects what it printed;
 * `env` replaces the environment when given.
 */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; stdin?: Buffer | string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.env !== undefined ? { env: options.env } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolvePromise({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
    // A process that exits without reading its input closes the pipe: not an error here.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin);
  });
}

/**
 * A self-signed TLS server certificate and key for 127.0.0.1 (serverAuth, IP SAN) in `dir`
 * as `tls.crt` and `tls.key`, made by openssl, an independent tool.
 */
export async function makeTlsCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  const gen = await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  if (gen.code !== 0) throw new Error(`openssl failed: ${gen.stderr}`);
  return { cert, key };
}

/** Asserts that a run exited 0, showing `what` and everything it printed if not; returns it. */
export function ok(result: CliResult, what: string): CliResult {
  assert.equal(result.code, 0, `${what}: exit ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** The non-empty lines of a command's output. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

/** Runs skopeo, with no signature policy of its own (the tests judge signatures with nv2). */
export function skopeo(...args: string[]): Promise<CliResult> {
  return run('skopeo', ['--insecure-policy', ...args]);
}
