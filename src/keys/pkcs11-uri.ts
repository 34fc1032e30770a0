/**
 * PKCS#11 URIs (RFC 7512): `pkcs11:` path attributes separated by `;` name the token and
 * the object, query attributes separated by `&` say how to reach it (`module-path`,
 * `pin-source`). Values are percent-encoded; `id` is raw bytes.
 */
import { InvalidInputError } from '../errors.js';

/** What a PKCS#11 URI says, decoded. */
export interface Pkcs11Uri {
  /** The URI as given, without a `pin-value` (never shown). */
  readonly text: string;
  readonly token?: string;
  readonly manufacturer?: string;
  readonly model?: string;
  readonly serial?: string;
  readonly slotId?: number;
  /** The object's label (CKA_LABEL). */
  readonly object?: string;
  /** The object's ID (CKA_ID). */
  readonly id?: Buffer;
  /** `private`, `cert`, …; nv2 looks for the private key and the certificate itself. */
  readonly type?: string;
  readonly modulePath?: string;
  readonly moduleName?: string;
  /** Where the PIN is (`file:PATH` or a path). */
  readonly pinSource?: string;
}

const PATH_ATTRIBUTES = new Set([
  'token',
  'manufacturer',
  'serial',
  'model',
  'library-manufacturer',
  'library-description',
  'library-version',
  'object',
  'type',
  'id',
  'slot-description',
  'slot-manufacturer',
  'slot-id',
]);
const QUERY_ATTRIBUTES = new Set(['pin-source', 'pin-value', 'module-name', 'module-path']);
const OBJECT_TYPES = new Set(['public', 'private', 'cert', 'secret-key', 'data']);

function invalid(message: string): InvalidInputError {
  return new InvalidInputError('NV2_ERR_PKCS11_URI_INVALID', message);
}

function decode(value: string, what: string): Buffer {
  // RFC 3986 percent-encoding over bytes; `%` must be followed by two hex digits.
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw invalid(`${what}: bad percent-encoding`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      out.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(out);
}

function attributes(part: string, separator: string, allowed: ReadonlySet<string>, where: string) {
  const map = new Map<string, Buffer>();
  if (part === '') return map;
  for (const item of part.split(separator)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw invalid(`PKCS#11 URI ${where} attribute "${item}" has no name=value`);
    const name = item.slice(0, eq).toLowerCase();
    if (!allowed.has(name) && !name.startsWith('x-')) {
      throw invalid(`PKCS#11 URI has an unknown ${where} attribute "${name}"`);
    }
    if (map.has(name)) throw invalid(`PKCS#11 URI repeats the attribute "${name}"`);
    map.set(name, decode(item.slice(eq + 1), `PKCS#11 URI attribute "${name}"`));
  }
  return map;
}

/**
 * Parses a PKCS#11 URI. A `pin-value` is refused: a PIN on the command line shows in the
 * process list and the shell history; use `pin-source` or `NV2_PKCS11_PIN`.
 *
 * @throws InvalidInputError NV2_ERR_PKCS11_URI_INVALID
 */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (!uri.toLowerCase().startsWith('pkcs11:')) throw invalid('a PKCS#11 URI starts with pkcs11:');
  const rest = uri.slice('pkcs11:'.length);
  const q = rest.indexOf('?');
  const path = attributes(q < 0 ? rest : rest.slice(0, q), ';', PATH_ATTRIBUTES, 'path');
  const query = attributes(q < 0 ? '' : rest.slice(q + 1), '&', QUERY_ATTRIBUTES, 'query');
  if (query.has('pin-value')) {
    throw invalid(
      'PKCS#11 URI carries a pin-value: a PIN is never read from the command line; use pin-source=file:PATH or NV2_PKCS11_PIN',
    );
  }
  const text = (name: string, map = path) => map.get(name)?.toString('utf8');
  const slot = text('slot-id');
  if (slot !== undefined && !/^\d+$/.test(slot))
    throw invalid('PKCS#11 URI slot-id is not a number');
  const type = text('type');
  if (type !== undefined && !OBJECT_TYPES.has(type)) {
    throw invalid(`PKCS#11 URI type "${type}" is not one of ${[...OBJECT_TYPES].join(', ')}`);
  }
  if (!path.has('object') && !path.has('id')) {
    throw invalid('PKCS#11 URI names no key: give object=LABEL or id=%XX…');
  }
  const optional = <T>(name: string, value: T | undefined) =>
    value === undefined ? {} : { [name]: value };
  return {
    text: uri,
    ...optional('token', text('token')),
    ...optional('manufacturer', text('manufacturer')),
    ...optional('model', text('model')),
    ...optional('serial', text('serial')),
    ...optional('slotId', slot === undefined ? undefined : Number(slot)),
    ...optional('object', text('object')),
    ...optional('id', path.get('id')),
    ...optional('type', type),
    ...optional('modulePath', text('module-path', query)),
    ...optional('moduleName', text('module-name', query)),
    ...optional('pinSource', text('pin-source', query)),
  };
}
