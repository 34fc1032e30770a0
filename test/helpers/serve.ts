/** Runs `nv2 registry serve` as a real process on a random loopback port. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI } from './cli.js';

/** A registry server process. */
export interface ServeProcess {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `127.0.0.1:PORT`, for clients that take a host. */
  readonly host: string;
  readonly child: ChildProcess;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** Every line of standard output so far, JSON or not. */
  readonly lines: string[];
  /**
   * Resolves with the JSON log lines that `match` accepts once there are at least `count`
   * of them. The server logs a request after its response is sent, so a client can finish
   * before the line arrives: tests wait for a line instead of reading `logs` at once.
   */
  waitForLogs(
    match: (line: Record<string, unknown>) => boolean,
    count?: number,
  ): Promise<Record<string, unknown>[]>;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Sends SIGKILL and resolves when the process is gone. */
  kill(): Promise<void>;
}

/**
 * Starts `nv2 registry serve --addr 127.0.0.1:0 --root ROOT ...extra` and waits until it
 * listens. With `root` undefined there is no `--root` (the config file names the storage).
 */
export function serve(
  root: string | undefined,
  extra: readonly string[] = [],
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'registry',
      'serve',
      '--addr',
      '127.0.0.1:0',
      ...(root !== undefined ? ['--root', root] : []),
      ...extra,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: Record<string, unknown>[] = [];
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // 'close', not 'exit': standard output is read to its end first, so `logs` and `lines`
  // are whole once the process is known to be gone.
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => resolve(code)),
  );
  const reader = createInterface({ input: child.stdout! });
  const waitForLogs = (
    match: (line: Record<string, unknown>) => boolean,
    count = 1,
  ): Promise<Record<string, unknown>[]> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = logs.filter(match);
        if (found.length < count) return false;
        reader.off('line', onLine);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      // Runs after the helper's own listener has parsed the line into `logs`.
      const onLine = (): void => void check();
      const timer = setTimeout(() => {
        reader.off('line', onLine);
        reject(new Error(`no ${count} matching log line(s) in 10 s:\n${lines.join('\n')}`));
      }, 10_000);
      if (!check()) reader.on('line', onLine);
    });
  return new Promise((resolve, reject) => {
    reader.on('line', (line) => {
      lines.push(line);
      let url: string | undefined;
      try {
        const record = JSON.parse(line) as Record<string, unknown>;
        logs.push(record);
        if (record['msg'] === 'listening') url = String(record['url']);
      } catch {
        // --log-format pretty: `<time> listening url=<url> storage=<…>`
        url = / listening url=(\S+)/.exec(line)?.[1];
      }
      if (url === undefined) return;
      resolve({
        url,
        host: url.replace(/^https?:\/\//, ''),
        child,
        logs,
        lines,
        waitForLogs,
        exited,
        stop: () => {
          child.kill('SIGTERM');
          return exited;
        },
        kill: async () => {
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
    void exited.then((code) =>
      reject(new Error(`registry exited with ${code} before listening: ${stderr}`)),
    );
  });
}
