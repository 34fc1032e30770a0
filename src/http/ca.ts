import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { InvalidInputError } from '../errors.js';

/**
 * The CA certificates trusted for HTTPS when a CA file is given (`--ca-file`, the admission
 * server's `registryCaFile`): the file's certificates added to the system's, not instead of
 * them, so that other servers (a public registry, an OCSP responder) still verify.
 *
 * @example createHttpTransport({ ca: readCaFile('/etc/nv2/registry-ca.pem') })
 * @throws InvalidInputError NV2_ERR_FILE_NOT_FOUND when the file cannot be read
 */
export function readCaFile(path: string): string[] {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InvalidInputError(
      'NV2_ERR_FILE_NOT_FOUND',
      `CA file ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return [...rootCertificates, pem];
}
