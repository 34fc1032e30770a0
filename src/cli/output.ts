import { isNv2Error } from '../errors.js';

/** Output formats of commands that print results. */
export const OUTPUT_FORMATS = ['text', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Writes a line to standard output. */
export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Writes a warning to standard error; it never changes the exit code. */
export function warn(message: string): void {
  process.stderr.write(`nv2: warning: ${message}\n`);
}

/** Writes JSON to standard output, indented for people and parseable by scripts. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Formats an error for standard error: one line, `nv2: CODE: message`. With `debug`, the
 * stack and causes follow.
 */
export function formatError(err: unknown, debug: boolean): string {
  const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ');
  let line: string;
  if (isNv2Error(err)) line = `nv2: ${err.code}: ${oneLine(err.message)}`;
  else if (err instanceof Error) line = `nv2: internal error: ${oneLine(err.message)}`;
  else line = `nv2: internal error: ${oneLine(String(err))}`;
  if (!debug) return `${line}\n`;
  let out = `${line}\n`;
  let cause: unknown = err;
  while (cause instanceof Error) {
    out += `${cause.stack ?? cause.message}\n`;
    cause = cause.cause;
    if (cause !== undefined) out += 'caused by: ';
  }
  return out;
}

/**
 * Makes a reader that closes early (`nv2 … | head -1`) end nothing but the output: writes to
 * a standard stream whose reader has gone (EPIPE) are discarded, the command runs to its end,
 * and the process exits with the status the command would have had. Work already done (a
 * signature pushed, a file written) stays done, and no half-finished step is left behind, as
 * it could be if the process stopped at the first failed write. Unix tools die of SIGPIPE
 * instead, but Node ignores that signal and reports an 'error' event, which unhandled ends
 * the process with a stack trace. Only the executables call this: it changes process-wide
 * streams.
 */
export function discardOutputToClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
      throw err;
    });
  }
}
