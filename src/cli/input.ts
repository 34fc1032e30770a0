import { readBoundedFile, readBoundedStream } from '../content/index.js';

/**
 * Reads a file named on the command line, `-` meaning standard input, refusing more than
 * `maxBytes`. Only faces touch process.stdin.
 */
export async function readInput(path: string, maxBytes: number, what: string): Promise<Buffer> {
  if (path === '-') return readBoundedStream(process.stdin, maxBytes, `${what} on standard input`);
  return readBoundedFile(path, maxBytes, what);
}

/** The most bytes read from a key or certificate file: real ones are a few KiB. */
export const MAX_PEM_BYTES = 1024 * 1024;
