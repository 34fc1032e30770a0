import { Tag, decode } from 'cbor2';
import { InvalidInputError } from '../errors.js';
import { decodeBase64, decodeBase64url } from '../signature/index.js';
import { NotationMediaTypes } from './constants.js';
import { isPlainObject } from './json.js';

/** An envelope decoded for people, without verifying anything. */
export interface EnvelopeDescription {
  readonly mediaType: string;
  readonly protectedHeader: Record<string, unknown>;
  readonly unprotectedHeader: Record<string, unknown>;
  /** The payload as JSON when it is JSON, else as text. */
  readonly payload: unknown;
  /** DER certificates of `x5c` / `x5chain`, signing certificate first. */
  readonly certificates: readonly Buffer[];
  readonly signatureBytes: number;
  readonly timestampTokenBytes?: number;
}

function fail(why: string): InvalidInputError {
  return new InvalidInputError('NV2_ERR_SIGNATURE_MALFORMED', why);
}

/** Strict standard base64, or undefined when `text` is not: for showing, not for deciding. */
function base64OrUndefined(text: string): Buffer | undefined {
  try {
    return decodeBase64(text, 'base64');
  } catch {
    return undefined;
  }
}

function payloadOf(bytes: Uint8Array): unknown {
  const text = Buffer.from(bytes).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** CBOR values as JSON-friendly values: byte strings as base64, tags 1 as ISO times. */
function plain(value: unknown): unknown {
  // A tag-1 time beyond the Date range decodes to an invalid Date: shown, not thrown on.
  if (value instanceof Date)
    return Number.isNaN(value.getTime())
      ? 'invalid time (outside the representable range)'
      : value.toISOString();
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  if (value instanceof Tag) return { tag: Number(value.tag), value: plain(value.contents) };
  if (value instanceof Map)
    return Object.fromEntries([...value].map(([k, v]) => [String(k), plain(v)]));
  if (Array.isArray(value)) return value.map(plain);
  return value;
}

/**
 * Decodes a Notary Project JWS or COSE envelope leniently, so that even one a verifier would
 * refuse can be shown.
 *
 * @throws InvalidInputError NV2_ERR_SIGNATURE_MALFORMED when it cannot be decoded at all
 */
export function describeNotationEnvelope(
  bytes: Uint8Array,
  mediaType: string,
): EnvelopeDescription {
  if (mediaType === NotationMediaTypes.jws) {
    let envelope: unknown;
    try {
      envelope = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      throw fail('JWS envelope is not JSON');
    }
    if (!isPlainObject(envelope)) throw fail('JWS envelope is not a JSON object');
    const text = (name: string): string =>
      typeof envelope[name] === 'string' ? envelope[name] : '';
    // The strict decoder, as the verifier reads them: what is shown is what would be verified.
    const segment = (name: string): Buffer => {
      try {
        return decodeBase64url(text(name), `JWS ${name}`);
      } catch (err) {
        throw fail((err as Error).message);
      }
    };
    const protectedBytes = segment('protected');
    const payload = segment('payload');
    const signature = segment('signature');
    let protectedHeader: unknown;
    try {
      protectedHeader = JSON.parse(protectedBytes.toString('utf8'));
    } catch {
      protectedHeader = {};
    }
    const header = isPlainObject(envelope['header']) ? envelope['header'] : {};
    const x5c = Array.isArray(header['x5c']) ? header['x5c'] : [];
    const token = header['io.cncf.notary.timestampSignature'];
    const tokenBytes = typeof token === 'string' ? base64OrUndefined(token) : undefined;
    const unprotectedHeader = { ...header };
    if (x5c.length > 0) unprotectedHeader['x5c'] = `${x5c.length} certificate(s)`;
    if (tokenBytes !== undefined)
      unprotectedHeader['io.cncf.notary.timestampSignature'] = `<${tokenBytes.byteLength} bytes>`;
    return {
      mediaType,
      protectedHeader: isPlainObject(protectedHeader) ? protectedHeader : {},
      unprotectedHeader,
      payload: payloadOf(payload),
      // An entry that is not strict base64 is shown as an unparseable certificate.
      certificates: x5c.map((c) =>
        typeof c === 'string' ? (base64OrUndefined(c) ?? Buffer.alloc(0)) : Buffer.alloc(0),
      ),
      signatureBytes: signature.byteLength,
      ...(tokenBytes !== undefined ? { timestampTokenBytes: tokenBytes.byteLength } : {}),
    };
  }
  let top: unknown;
  try {
    top = decode(bytes);
  } catch {
    throw fail('COSE envelope is not CBOR');
  }
  const parts = top instanceof Tag ? top.contents : top;
  if (!Array.isArray(parts) || parts.length !== 4) throw fail('not a COSE_Sign1 structure');
  const [protectedBytes, unprotected, payload, signature] = parts as unknown[];
  let protectedHeader: unknown = new Map();
  try {
    if (protectedBytes instanceof Uint8Array) protectedHeader = decode(protectedBytes);
  } catch {
    protectedHeader = new Map();
  }
  const unprotectedMap = unprotected instanceof Map ? unprotected : new Map<unknown, unknown>();
  const chain: unknown = unprotectedMap.get(33);
  const certificates = (chain instanceof Uint8Array ? [chain] : Array.isArray(chain) ? chain : [])
    .filter((c): c is Uint8Array => c instanceof Uint8Array)
    .map((c) => Buffer.from(c));
  const token: unknown = unprotectedMap.get('io.cncf.notary.timestampSignature');
  const protectedPlain = plain(protectedHeader);
  return {
    mediaType,
    protectedHeader: isPlainObject(protectedPlain) ? protectedPlain : {},
    unprotectedHeader: plain(unprotectedMap) as Record<string, unknown>,
    payload: payload instanceof Uint8Array ? payloadOf(payload) : null,
    certificates,
    signatureBytes: signature instanceof Uint8Array ? signature.byteLength : 0,
    ...(token instanceof Uint8Array ? { timestampTokenBytes: token.byteLength } : {}),
  };
}
