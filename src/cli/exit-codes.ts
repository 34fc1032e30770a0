import {
  InvalidInputError,
  RegistryResponseError,
  StorageError,
  VerificationFailedError,
  VerificationInconclusiveError,
} from '../errors.js';

/** Process exit codes, documented in docs/errors.md. Stable: scripts depend on them. */
export const ExitCode = {
  /** Success: the signature verified, the command did what it was asked. */
  ok: 0,
  /** The signature was examined and does not hold (invalid, untrusted, not for this content). */
  verificationFailed: 1,
  /** Usage or input error: bad flags, missing or unreadable files, unusable keys or certificates. */
  usage: 2,
  /** No verdict: an I/O or runtime failure unrelated to the signature. */
  inconclusive: 3,
  /** A bug in nv2: please report it with the output of --debug. */
  internal: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const REGISTRY_INPUT_CODES: ReadonlySet<string> = new Set([
  'NV2_ERR_CONTENT_NOT_FOUND',
  'NV2_ERR_REGISTRY_UNAUTHORIZED',
  'NV2_ERR_REGISTRY_DENIED',
  'NV2_ERR_REGISTRY_REJECTED',
  'NV2_ERR_REGISTRY_UNSUPPORTED',
]);

/** Maps an error to its exit code, by class: one table for every command. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof VerificationFailedError) return ExitCode.verificationFailed;
  if (err instanceof RegistryResponseError) {
    // What the user asked for does not exist or is not theirs: an input error. The registry
    // failing (5xx, nonsense answers) decides nothing: inconclusive.
    return REGISTRY_INPUT_CODES.has(err.code) ? ExitCode.usage : ExitCode.inconclusive;
  }
  if (err instanceof InvalidInputError) return ExitCode.usage;
  if (err instanceof VerificationInconclusiveError || err instanceof StorageError) {
    return ExitCode.inconclusive;
  }
  return ExitCode.internal;
}
