import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { VerificationInconclusiveError } from '../errors.js';

/** The environment variable naming the docker executable to run (default `docker` on PATH). */
export const DOCKER_BINARY_ENV = 'NV2_DOCKER';

/** A running `docker` whose standard output is read as a stream. */
export interface DockerStream {
  readonly stdout: Readable;
  /** Docker's exit code and what it wrote to standard error. */
  readonly exited: Promise<{ code: number; stderr: string }>;
}

/** Runs the docker client: the engine-side work (pull, push, tag, save) stays with docker. */
export interface DockerCommand {
  /** The executable run. */
  readonly binary: string;
  /** Runs docker on the terminal (inherited stdio); resolves its exit code. */
  run(args: readonly string[]): Promise<number>;
  /** Runs docker, copying its standard output to `echo` as it comes, and returns it too. */
  runCapturing(args: readonly string[], echo: Writable): Promise<{ code: number; stdout: string }>;
  /** Runs docker quietly (no input, nothing shown), returning its exit code and output. */
  capture(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Runs docker with its standard output as a stream (for `docker save`). */
  stream(args: readonly string[]): DockerStream;
}

/** The most output of a captured docker command kept (an image inspection is a few KiB). */
const MAX_CAPTURED_BYTES = 4 * 1024 * 1024;

function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  // As a shell reports it: 128 + the signal number.
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return 128 + (signal !== null ? (numbers[signal] ?? 1) : 1);
}

function spawnFailed(binary: string, err: Error): VerificationInconclusiveError {
  const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
  return new VerificationInconclusiveError(
    'NV2_ERR_DOCKER_COMMAND',
    missing
      ? `cannot run ${binary}: not found (install the docker client, or name it with ${DOCKER_BINARY_ENV})`
      : `cannot run ${binary}: ${err.message}`,
    { cause: err },
  );
}

/**
 * The docker client named by `NV2_DOCKER` in `env`, else `docker` found on PATH. The child
 * gets `env` as its environment.
 */
export function createDockerCommand(
  env: Readonly<Record<string, string | undefined>>,
): DockerCommand {
  const named = env[DOCKER_BINARY_ENV];
  const binary = named !== undefined && named !== '' ? named : 'docker';
  const childEnv = { ...env };
  return {
    binary,
    run(args) {
      return new Promise((resolve, reject) => {
        const child = spawn(binary, args, { stdio: 'inherit', env: childEnv });
        child.on('error', (err) => reject(spawnFailed(binary, err)));
        child.on('close', (code, signal) => resolve(exitCode(code, signal)));
      });
    },
    runCapturing(args, echo) {
      return new Promise((resolve, reject) => {
        const child = spawn(binary, args, { stdio: ['inherit', 'pipe', 'inherit'], env: childEnv });
        const chunks: Buffer[] = [];
        child.stdout.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          echo.write(chunk);
        });
        child.on('error', (err) => reject(spawnFailed(binary, err)));
        child.on('close', (code, signal) =>
          resolve({ code: exitCode(code, signal), stdout: Buffer.concat(chunks).toString('utf8') }),
        );
      });
    },
    capture(args) {
      return new Promise((resolve, reject) => {
        const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        let kept = 0;
        const keep = (into: Buffer[]) => (chunk: Buffer) => {
          if (kept >= MAX_CAPTURED_BYTES) return;
          kept += chunk.length;
          into.push(chunk);
        };
        child.stdout.on('data', keep(out));
        child.stderr.on('data', keep(err));
        child.on('error', (e) => reject(spawnFailed(binary, e)));
        child.on('close', (code, signal) =>
          resolve({
            code: exitCode(code, signal),
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(err).toString('utf8').trim(),
          }),
        );
      });
    },
    stream(args) {
      const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
      const errors: Buffer[] = [];
      child.stderr.on('data', (chunk: Buffer) => errors.push(chunk));
      const exited = new Promise<{ code: number; stderr: string }>((resolve, reject) => {
        child.on('error', (err) => reject(spawnFailed(binary, err)));
        child.on('close', (code, signal) =>
          resolve({
            code: exitCode(code, signal),
            stderr: Buffer.concat(errors).toString('utf8').trim(),
          }),
        );
      });
      // Settled by the reader; an unobserved spawn failure must not crash the process.
      exited.catch(() => undefined);
      return { stdout: child.stdout, exited };
    },
  };
}
