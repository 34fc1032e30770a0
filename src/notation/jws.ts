import type { KeyObject } from 'node:crypto';
import { decodeBase64, decodeBase64url } from '../signature/index.js';
import type { Certificate } from '../x509/index.js';
import { type NotationAlgorithm, isNotationAlgorithm, signBytes } from './algorithms.js';
import {
  Headers,
  MAX_ENVELOPE_BYTES,
  NOTARY_SIGNED_HEADERS,
  NotationMediaTypes,
} from './constants.js';
import { type NotationEnvelope, checkSignedAttributes, malformed, parseChain } from './envelope.js';
import { parseRfc3339 } from '../oci/index.js';
import { goJson, isPlainObject, rfc3339 } from './json.js';
import type { SignRequest } from './sign-request.js';

const ENVELOPE_MEMBERS: ReadonlySet<string> = new Set([
  'payload',
  'protected',
  'header',
  'signature',
]);
const NOTARY_PROTECTED: ReadonlySet<string> = new Set([
  'alg',
  'cty',
  'crit',
  ...NOTARY_SIGNED_HEADERS,
]);

function stringMember(obj: Record<string, unknown>, name: string, where: string): string {
  const value = obj[name];
  if (typeof value !== 'string') throw malformed(`${where} has no string member "${name}"`);
  return value;
}

/**
 * Parses a Notary Project JWS envelope (flattened JWS JSON serialization, RFC 7515 §7.2.2):
 * strict base64url, the Notary Project header rules, `x5c` in standard base64.
 *
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_MALFORMED, NV2_ERR_SIGNATURE_CRIT,
 *   NV2_ERR_SIGNATURE_TOO_LARGE
 */
export function parseJwsEnvelope(bytes: Uint8Array): NotationEnvelope {
  if (bytes.byteLength > MAX_ENVELOPE_BYTES)
    throw malformed(`JWS envelope exceeds ${MAX_ENVELOPE_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw malformed('JWS envelope is not UTF-8 JSON');
  }
  if (!isPlainObject(value)) throw malformed('JWS envelope is not a JSON object');
  for (const key of Object.keys(value)) {
    if (!ENVELOPE_MEMBERS.has(key)) {
      throw malformed(
        `JWS envelope has member "${key}"; only the flattened JSON serialization with one signature is accepted`,
      );
    }
  }
  const payloadText = stringMember(value, 'payload', 'JWS envelope');
  const protectedText = stringMember(value, 'protected', 'JWS envelope');
  const signatureText = stringMember(value, 'signature', 'JWS envelope');
  const header = value['header'];
  if (!isPlainObject(header)) throw malformed('JWS envelope has no unprotected header object');

  const payload = decodeBase64url(payloadText, 'JWS payload');
  const signature = decodeBase64url(signatureText, 'JWS signature');
  const protectedBytes = decodeBase64url(protectedText, 'JWS protected header');
  let protectedHeader: unknown;
  try {
    protectedHeader = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(protectedBytes));
  } catch {
    throw malformed('JWS protected header is not UTF-8 JSON');
  }
  if (!isPlainObject(protectedHeader)) throw malformed('JWS protected header is not a JSON object');
  const alg = protectedHeader['alg'];
  if (!isNotationAlgorithm(alg)) {
    throw malformed(
      `JWS alg ${JSON.stringify(alg)} is not one of PS256, PS384, PS512, ES256, ES384, ES512`,
    );
  }
  const time = (name: string): Date | undefined => parseRfc3339(protectedHeader[name]);
  const { scheme, critical, fields } = checkSignedAttributes({
    contentType: protectedHeader['cty'],
    critical: protectedHeader['crit'],
    signingScheme: protectedHeader[Headers.signingScheme],
    signingTime: time(Headers.signingTime),
    authenticSigningTime: time(Headers.authenticSigningTime),
    expiry: time(Headers.expiry),
    verificationPlugin: protectedHeader[Headers.verificationPlugin],
    verificationPluginMinVersion: protectedHeader[Headers.verificationPluginMinVersion],
    present: new Set(Object.keys(protectedHeader)),
  });

  const x5c = header['x5c'];
  if (!Array.isArray(x5c) || !x5c.every((c) => typeof c === 'string')) {
    throw malformed('JWS unprotected header has no x5c list of base64 certificates');
  }
  const certificateChain = parseChain(
    (x5c as string[]).map((c, i) => decodeBase64(c, `x5c[${i}]`)),
  );
  const agent = header[Headers.signingAgent];
  if (agent !== undefined && typeof agent !== 'string')
    throw malformed(`${Headers.signingAgent} is not a string`);
  const token = header[Headers.timestampSignature];
  if (token !== undefined && typeof token !== 'string') {
    throw malformed(`${Headers.timestampSignature} is not a base64 string`);
  }
  const extendedAttributes = Object.fromEntries(
    Object.entries(protectedHeader).filter(([k]) => !NOTARY_PROTECTED.has(k)),
  );
  const optional = <T>(name: string, v: T | undefined) => (v === undefined ? {} : { [name]: v });
  return {
    format: 'jws',
    mediaType: NotationMediaTypes.jws,
    algorithm: alg,
    contentType: NotationMediaTypes.payload,
    payload,
    signingScheme: scheme,
    ...fields,
    extendedAttributes,
    critical,
    certificateChain,
    ...optional('signingAgent', agent as string | undefined),
    ...optional(
      'timestampToken',
      token === undefined ? undefined : decodeBase64(token as string, Headers.timestampSignature),
    ),
    signature,
    signingInput: Buffer.from(`${protectedText}.${payloadText}`, 'latin1'),
  };
}

/** The `crit` list in notation's JWS order: scheme, critical extended attributes, authenticSigningTime, expiry. */
function jwsCritical(request: SignRequest): string[] {
  const crit: string[] = [Headers.signingScheme];
  for (const attr of request.extendedAttributes ?? []) if (attr.critical) crit.push(attr.key);
  if (request.signingScheme === 'notary.x509.signingAuthority')
    crit.push(Headers.authenticSigningTime);
  if (request.expiry !== undefined) crit.push(Headers.expiry);
  return crit;
}

/** The protected header notation writes: every key, sorted, as Go marshals a map. */
export function jwsProtectedHeader(request: SignRequest, alg: NotationAlgorithm): string {
  const header: Record<string, unknown> = {
    alg,
    crit: jwsCritical(request),
    cty: NotationMediaTypes.payload,
    [Headers.signingScheme]: request.signingScheme,
  };
  const time = rfc3339(request.signingTime);
  if (request.signingScheme === 'notary.x509') header[Headers.signingTime] = time;
  else header[Headers.authenticSigningTime] = time;
  if (request.expiry !== undefined) header[Headers.expiry] = rfc3339(request.expiry);
  for (const attr of request.extendedAttributes ?? []) header[attr.key] = attr.value;
  const sorted = Object.fromEntries(
    Object.keys(header)
      .sort()
      .map((k) => [k, header[k]]),
  );
  return Buffer.from(goJson(sorted), 'utf8').toString('base64url');
}

/** The bytes a JWS envelope signs: `protected.payload`, both base64url. */
export function jwsSigningInput(
  request: SignRequest,
  payload: Uint8Array,
  alg: NotationAlgorithm,
): Buffer {
  return Buffer.from(
    `${jwsProtectedHeader(request, alg)}.${Buffer.from(payload).toString('base64url')}`,
    'latin1',
  );
}

/**
 * Assembles a JWS envelope from its signing input (`jwsSigningInput`), the signature over
 * it and the unprotected header: the chain, the signing agent and, when given, the RFC 3161
 * timestamp token over the signature.
 */
export function assembleJwsEnvelope(
  signingInput: Uint8Array,
  signature: Uint8Array,
  request: SignRequest,
  chain: readonly Certificate[],
  timestampToken?: Uint8Array,
): Buffer {
  const [protectedText, payloadText] = Buffer.from(signingInput).toString('latin1').split('.');
  const header: Record<string, unknown> = {};
  header['x5c'] = chain.map((c) => c.der.toString('base64'));
  if (request.signingAgent !== undefined) header[Headers.signingAgent] = request.signingAgent;
  if (timestampToken !== undefined)
    header[Headers.timestampSignature] = Buffer.from(timestampToken).toString('base64');
  return Buffer.from(
    goJson({
      payload: payloadText,
      protected: protectedText,
      header,
      signature: Buffer.from(signature).toString('base64url'),
    }),
    'utf8',
  );
}

/** Produces a JWS envelope for `payload`, byte for byte as notation does. */
export function signJwsEnvelope(
  request: SignRequest,
  payload: Uint8Array,
  alg: NotationAlgorithm,
  key: KeyObject,
  chain: readonly Certificate[],
): Buffer {
  const input = jwsSigningInput(request, payload, alg);
  return assembleJwsEnvelope(input, signBytes(alg, key, input), request, chain);
}
