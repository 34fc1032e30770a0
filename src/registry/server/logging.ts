import type { RequestRecord } from '../index.js';

/**
 * The server's log (server.ts): its lines as JSON or for people, the access log, and a sink
 * that batches lines into few writes.
 */

/** Writes one log line; the format decides what a line looks like. */
export type LogSink = (line: string) => void;

function formatBytes(n: number): string {
  return n < 1024
    ? `${n}B`
    : n < 1024 * 1024
      ? `${(n / 1024).toFixed(1)}KiB`
      : `${(n / 1048576).toFixed(1)}MiB`;
}

/** Structured logging: one JSON object per line, or a short human line with `pretty`. */
export function createLogger(format: 'json' | 'pretty', sink: LogSink) {
  return (msg: string, fields: Record<string, unknown> = {}): void => {
    const time = new Date().toISOString();
    if (format === 'json') {
      sink(JSON.stringify({ time, level: fields['level'] ?? 'info', msg, ...fields }));
      return;
    }
    const rest = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    sink(`${time} ${msg}${rest ? ` ${rest}` : ''}`);
  };
}

/**
 * The access log: one line per request, with the fields of `RequestRecord` (the cause of a
 * 5xx as text: Errors do not serialize). It runs on every request, so the JSON line is one
 * object literal of a fixed shape (fields left undefined are omitted by `JSON.stringify`)
 * rather than copies spread into copies.
 */
export function createAccessLogger(format: 'json' | 'pretty', sink: LogSink) {
  return (r: RequestRecord): void => {
    const time = new Date().toISOString();
    const level =
      r.cause !== undefined
        ? 'error'
        : r.authFailure !== undefined ||
            r.enforcement?.decision === 'deny' ||
            r.enforcement?.decision === 'audit'
          ? 'warn'
          : 'info';
    if (format === 'json') {
      sink(
        JSON.stringify({
          time,
          level,
          msg: 'request',
          method: r.method,
          path: r.path,
          route: r.route,
          status: r.status,
          bytesIn: r.bytesIn,
          bytesOut: r.bytesOut,
          durationMs: r.durationMs,
          errorCode: r.errorCode,
          user: r.user,
          authFailure: r.authFailure,
          enforcement: r.enforcement,
          cause: r.cause !== undefined ? String(r.cause) : undefined,
        }),
      );
      return;
    }
    const err = r.errorCode !== undefined ? ` ${r.errorCode}` : '';
    const user = r.user !== undefined ? ` user=${r.user}` : '';
    const auth = r.authFailure !== undefined ? ` auth=${JSON.stringify(r.authFailure)}` : '';
    sink(
      `${time} ${r.method} ${r.path} ${r.status}${err} ${formatBytes(r.bytesOut)} ${r.durationMs.toFixed(1)}ms${user}${auth}`,
    );
  };
}

/**
 * A log sink that writes the lines of one turn of the event loop together to `out` (the CLI
 * passes standard output): under load, one write for many requests instead of one per request
 * (`process.stdout` writes each call with its own blocking system call when it is a file or a
 * pipe, which cost a tenth of the CPU time of a small request). A line waits at most until the
 * end of the current turn; `flush` writes what is pending at once, and runs at exit.
 */
export function createBatchedLogSink(out: { write(text: string): unknown }): {
  write: LogSink;
  flush(): void;
} {
  let pending: string[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    out.write(text);
  };
  process.once('exit', flush);
  return {
    write(line) {
      pending.push(`${line}\n`);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
