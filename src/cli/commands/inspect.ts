import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.js';
import {
  MAX_SIGNATURE_BYTES,
  decodeBase64,
  decodeBase64url,
  describeKey,
  sniffEnvelopeMediaType,
} from '../../signature/index.js';
import type { describeNotationEnvelope } from '../../notation/index.js';
import { MAX_ENVELOPE_BYTES, dateFromUnixSeconds } from '../../oci/index.js';
import { Certificate } from '../../x509/index.js';
import { readInput } from '../input.js';
import { type OutputFormat, print, printJson } from '../output.js';
import { outputFormat } from './options.js';

interface InspectFlags {
  output: OutputFormat;
}

const TIME_CLAIMS = ['iat', 'nbf', 'exp'] as const;

/**
 * The verifier's strict decoder: a segment it would not read is not shown as something else.
 * Refused as bad input (the file given), as the rest of inspect does.
 */
function decodeSegment(part: string, what: string): Buffer {
  try {
    return decodeBase64url(part, what);
  } catch (err) {
    throw new InvalidInputError('NV2_ERR_SIGNATURE_MALFORMED', (err as Error).message);
  }
}

function decodePart(part: string, what: string): Record<string, unknown> {
  const bytes = decodeSegment(part, what);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new InvalidInputError(
      'NV2_ERR_SIGNATURE_MALFORMED',
      `${what} is not base64url-encoded JSON`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError('NV2_ERR_SIGNATURE_MALFORMED', `${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function describeCertificate(entry: unknown, index: number): Record<string, unknown> {
  try {
    if (typeof entry !== 'string' && !(entry instanceof Uint8Array))
      throw new Error('not a string');
    const cert = new Certificate(
      typeof entry === 'string' ? decodeBase64(entry, `x5c[${index}]`) : entry,
    );
    return {
      index,
      subject: cert.subject,
      issuer: cert.issuer,
      serialNumber: cert.serialNumber,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      sha256Fingerprint: cert.fingerprintSha256,
      keyType: describeKey(cert.publicKey),
      ca: cert.isCA,
      dnsNames: cert.dnsNames,
    };
  } catch {
    return { index, error: 'not a parseable X.509 certificate' };
  }
}

function printCertificates(certificates: readonly Record<string, unknown>[]): void {
  for (const cert of certificates) {
    print(`Certificate ${String(cert['index'])}${cert['index'] === 0 ? ' (signing)' : ''}`);
    for (const [k, v] of Object.entries(cert)) {
      if (k !== 'index') print(`  ${k}: ${Array.isArray(v) ? v.join(', ') || '-' : String(v)}`);
    }
  }
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Prints a Notary Project envelope: its headers, payload and certificate chain. */
function inspectEnvelope(
  envelope: ReturnType<typeof describeNotationEnvelope>,
  output: OutputFormat,
): void {
  const certificates = envelope.certificates.map(describeCertificate);
  if (output === 'json') {
    printJson({
      format: envelope.mediaType,
      protectedHeader: envelope.protectedHeader,
      unprotectedHeader: envelope.unprotectedHeader,
      payload: envelope.payload,
      certificates,
      signatureBytes: envelope.signatureBytes,
      ...(envelope.timestampTokenBytes !== undefined
        ? { timestampTokenBytes: envelope.timestampTokenBytes }
        : {}),
    });
    return;
  }
  print(`Envelope: ${envelope.mediaType} (Notary Project)`);
  print('Protected header');
  for (const [k, v] of Object.entries(envelope.protectedHeader)) print(`  ${k}: ${show(v)}`);
  print('Unprotected header');
  for (const [k, v] of Object.entries(envelope.unprotectedHeader)) print(`  ${k}: ${show(v)}`);
  print('Payload');
  print(`  ${show(envelope.payload)}`);
  printCertificates(certificates);
  print(`Signature: ${envelope.signatureBytes} bytes`);
}

/**
 * Decodes a signature for people, without verifying it: even a signature that would be
 * refused (unknown alg, bad crit) is shown, so that users can see why.
 */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show the header, claims and certificates of a signature (does not verify it)')
    .argument('<signature>', 'signature file, or - for standard input')
    .option('--output <format>', 'text or json', outputFormat, 'text')
    .action(async (path: string, flags: InspectFlags) => {
      const bytes = await readInput(
        path,
        Math.max(MAX_SIGNATURE_BYTES, MAX_ENVELOPE_BYTES),
        'signature',
      );
      // Notary Project envelopes (JWS JSON, COSE_Sign1) are recognized by their first byte.
      const envelopeType = sniffEnvelopeMediaType(bytes);
      if (envelopeType !== undefined) {
        const notation = await import('../../notation/index.js');
        inspectEnvelope(notation.describeNotationEnvelope(bytes, envelopeType), flags.output);
        return;
      }
      if (bytes.byteLength > MAX_SIGNATURE_BYTES) {
        throw new InvalidInputError(
          'NV2_ERR_SIGNATURE_TOO_LARGE',
          `${path} exceeds ${MAX_SIGNATURE_BYTES} bytes`,
        );
      }
      const text = bytes.toString('latin1').trimEnd();
      const parts = text.split('.');
      if (parts.length !== 3) {
        throw new InvalidInputError(
          'NV2_ERR_SIGNATURE_MALFORMED',
          `${path} is not a JWS compact serialization of three dot-separated parts`,
        );
      }
      const header = decodePart(parts[0]!, 'header');
      const claims = decodePart(parts[1]!, 'claims');
      const times: Record<string, string> = {};
      for (const name of TIME_CLAIMS) {
        const v = claims[name];
        if (typeof v !== 'number') continue;
        // Shown even when out of range: inspect explains what a verifier would refuse.
        times[name] =
          dateFromUnixSeconds(v)?.toISOString() ?? 'invalid: outside the representable time range';
      }
      const certificates = Array.isArray(header['x5c'])
        ? (header['x5c'] as unknown[]).map(describeCertificate)
        : [];
      const signatureBytes = decodeSegment(parts[2]!, 'signature').byteLength;
      if (flags.output === 'json') {
        printJson({ header, claims, times, certificates, signatureBytes });
        return;
      }
      print('Header');
      for (const [k, v] of Object.entries(header)) {
        if (k === 'x5c' && Array.isArray(v)) print(`  x5c: ${v.length} certificate(s), below`);
        else print(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
      }
      print('Claims');
      for (const [k, v] of Object.entries(claims)) {
        if (k === 'references' && Array.isArray(v)) {
          print('  references:');
          for (const ref of v) print(`    - ${String(ref)}`);
        } else {
          const time = times[k];
          print(
            `  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}${time !== undefined ? ` (${time})` : ''}`,
          );
        }
      }
      printCertificates(certificates);
      print(`Signature: ${signatureBytes} bytes`);
    });
}
