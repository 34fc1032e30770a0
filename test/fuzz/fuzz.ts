/**
 * Shared settings of the property-based tests (fast-check). Each property states its own
 * number of runs; together they cover on the order of 10^5 inputs per `npm test`.
 *
 * A failure prints fast-check's report: the counterexample, and `seed` and `path`. To replay
 * exactly that case, run the failing file with them in the environment:
 *
 *   FC_SEED=<seed> FC_PATH=<path> node --test .build/test/fuzz/<file>.test.js
 *
 * FC_SEED alone replays the whole run of every property with that seed. FC_RUNS multiplies
 * every property's number of runs (e.g. FC_RUNS=10 for a longer search; default 1).
 */
import * as fc from 'fast-check';
import { Nv2Error } from '../../src/errors.js';

const seed = process.env['FC_SEED'];
const path = process.env['FC_PATH'];
const scale = Number(process.env['FC_RUNS'] ?? '1');

/** fast-check parameters for a property meant to run `numRuns` times per CI run. */
export function fuzzParameters<T>(numRuns: number): fc.Parameters<T> {
  return {
    numRuns: Math.max(1, Math.round(numRuns * (Number.isFinite(scale) && scale > 0 ? scale : 1))),
    ...(seed !== undefined && seed !== '' ? { seed: Number(seed) } : {}),
    ...(path !== undefined && path !== '' ? { path } : {}),
    // The report names seed and path even when a later shrink step fails differently.
    verbose: fc.VerbosityLevel.Verbose,
  };
}

/**
 * Runs `parse(input)`: returns normally, or throws an error of one of `allowed` (the
 * library's typed errors, `Nv2Error` by default). Anything else (a TypeError, a RangeError,
 * a plain Error) is rethrown with the input, so the property fails.
 */
export function parsesOrRefuses(
  parse: () => unknown,
  allowed: readonly (abstract new (...args: never[]) => Error)[] = [Nv2Error],
): void {
  try {
    parse();
  } catch (err) {
    if (allowed.some((type) => err instanceof type)) return;
    throw new Error(`not a typed refusal: ${String(err)}`, { cause: err });
  }
}

/** Characters of every kind a hostile input mixes: ASCII, Latin-1, and beyond (surrogates too). */
export const anyText = (maxLength = 64): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', maxLength });

/** `text` changed at one place: a character replaced, inserted or deleted. */
export function mutateText(text: string): fc.Arbitrary<string> {
  const index = fc.nat({ max: Math.max(0, text.length - 1) });
  const char = fc.oneof(
    fc.constantFrom('A', 'a', '0', '-', '_', '+', '/', '=', '.', ' ', '\n', '\u0000', '"'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  );
  return fc.oneof(
    fc.tuple(index, char).map(([i, c]) => text.slice(0, i) + c + text.slice(i + 1)),
    fc.tuple(index, char).map(([i, c]) => text.slice(0, i) + c + text.slice(i)),
    index.map((i) => text.slice(0, i) + text.slice(i + 1)),
  );
}

/** `bytes` changed at one place: a byte replaced (bits flipped), inserted or deleted. */
export function mutateBytes(bytes: Uint8Array): fc.Arbitrary<Buffer> {
  const index = fc.nat({ max: Math.max(0, bytes.length - 1) });
  const byte = fc.integer({ min: 0, max: 255 });
  const b = Buffer.from(bytes);
  return fc.oneof(
    fc.tuple(index, fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const out = Buffer.from(b);
      out[i] = out[i]! ^ x;
      return out;
    }),
    fc
      .tuple(index, byte)
      .map(([i, x]) => Buffer.concat([b.subarray(0, i), Buffer.from([x]), b.subarray(i)])),
    index.map((i) => Buffer.concat([b.subarray(0, i), b.subarray(i + 1)])),
  );
}
