/**
 * `nv2 admission serve` as a child process, with a serving certificate made by
 * `nv2 admission certs`: what a Deployment runs, driven over HTTPS.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { CLI, nv2 } from './cli.js';
import { tempDir } from './fixtures.js';

/** The answer to an AdmissionReview, as far as tests look. */
export interface ReviewAnswer {
  readonly status: number;
  readonly body: { response: { allowed: boolean; status?: { message: string } } };
}

/** A running `nv2 admission serve`. */
export interface AdmissionProcess {
  /** POSTs an AdmissionReview to /validate. */
  validate(review: unknown): Promise<ReviewAnswer>;
  /** The JSON lines logged so far. */
  readonly lines: Record<string, unknown>[];
  /** Stops it with SIGTERM; resolves to its exit code. */
  stop(): Promise<number | null>;
  stderr(): string;
}

/** Starts `nv2 admission serve --addr 127.0.0.1:0 --tls-cert … --tls-key … ARGS`. */
export async function serveAdmission(args: readonly string[]): Promise<AdmissionProcess> {
  const out = await tempDir();
  const made = await nv2([
    'admission',
    'certs',
    '--service',
    'hook',
    '--namespace',
    'ns',
    '--out',
    out,
  ]);
  assert.equal(made.code, 0, made.stderr);
  const child = spawn(
    process.execPath,
    [
      CLI,
      'admission',
      'serve',
      '--addr',
      '127.0.0.1:0',
      '--tls-cert',
      join(out, 'tls.crt'),
      '--tls-key',
      join(out, 'tls.key'),
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  // 'close': standard output is read to its end before `lines` is known to be whole.
  const exited = new Promise<number | null>((r) => child.on('close', r));
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (c: Buffer) => {
      buffered += c.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        if (line['msg'] === 'admission server listening') resolve(line['port'] as number);
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  const ca = await readFile(join(out, 'ca.crt'));
  const validate = (body: unknown): Promise<ReviewAnswer> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/validate',
          method: 'POST',
          ca,
          servername: 'hook.ns.svc',
          headers: { 'Content-Type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () =>
            resolve({ status: res.statusCode!, body: JSON.parse(text) as never }),
          );
        },
      );
      req.on('error', reject);
      req.end(Buffer.from(JSON.stringify(body)));
    });
  return {
    validate,
    lines,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    stderr: () => stderr,
  };
}
