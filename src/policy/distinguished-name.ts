/**
 * Distinguished names as trusted identities write them (`x509.subject: C=US, ST=WA, O=Acme`):
 * RFC 4514 string parsing and the subset comparison the Notary Project trust policy uses.
 * Hand-written because the grammar is small and the X.509 library that parses it needs a
 * reflection polyfill loaded at start-up, which `nv2 verify` should not pay for.
 */
import type { NameAttribute } from '../x509/index.js';

/** Attribute types that are the same attribute under another name. */
const TYPE_ALIASES: Readonly<Record<string, string>> = { S: 'ST', EMAILADDRESS: 'E' };

/** Attributes a trusted identity must name (Notary Project trust policy, "Trusted identities"). */
export const REQUIRED_IDENTITY_ATTRIBUTES = ['C', 'ST', 'O'] as const;

/** The canonical spelling of an attribute type: upper case, aliases resolved, OIDs kept. */
export function canonicalAttributeType(type: string): string {
  const upper = type.toUpperCase().replace(/^OID\./, '');
  return TYPE_ALIASES[upper] ?? upper;
}

const TYPE_PATTERN = /^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)$/;

/**
 * Parses an RFC 4514 distinguished name into its attributes, in written order. Multi-valued
 * RDNs (`+`) and hex-encoded BER values (`#…`) are refused, as notation refuses them.
 *
 * @example parseDistinguishedName('CN=e2e, O=Notary, ST=WA, C=US')
 * @throws Error with a message saying what is wrong (callers wrap it with the field's name)
 */
export function parseDistinguishedName(input: string): NameAttribute[] {
  const out: NameAttribute[] = [];
  let i = 0;
  const n = input.length;
  const skipSpaces = (): void => {
    while (i < n && input[i] === ' ') i++;
  };
  while (true) {
    skipSpaces();
    const typeStart = i;
    while (i < n && input[i] !== '=' && input[i] !== ',' && input[i] !== '+') i++;
    const type = input.slice(typeStart, i).trim();
    if (i >= n || input[i] !== '=')
      throw new Error(`"${input.slice(typeStart, i)}" is not an attribute TYPE=VALUE`);
    if (!TYPE_PATTERN.test(type)) throw new Error(`"${type}" is not an attribute type`);
    i++; // '='
    skipSpaces();
    if (input[i] === '#') throw new Error(`the hex-encoded value of ${type} is not supported`);
    let value = '';
    const bytes: number[] = [];
    const flushBytes = (): void => {
      if (bytes.length > 0) value += Buffer.from(bytes.splice(0)).toString('utf8');
    };
    let trailingSpaces = 0;
    while (i < n && input[i] !== ',' && input[i] !== ';' && input[i] !== '+') {
      const c = input[i]!;
      if (c === '\\') {
        const next = input.slice(i + 1, i + 3);
        if (/^[0-9A-Fa-f]{2}$/.test(next)) {
          bytes.push(parseInt(next, 16));
          i += 3;
        } else if (i + 1 < n && ' "#+,;<=>\\'.includes(input[i + 1]!)) {
          flushBytes();
          value += input[i + 1];
          i += 2;
        } else {
          throw new Error(`invalid escape in the value of ${type}`);
        }
        trailingSpaces = 0;
        continue;
      }
      if (c === '"' || c === '<' || c === '>' || c === '=')
        throw new Error(`unescaped ${c} in the value of ${type}`);
      flushBytes();
      value += c;
      trailingSpaces = c === ' ' ? trailingSpaces + 1 : 0;
      i++;
    }
    flushBytes();
    if (trailingSpaces > 0) value = value.slice(0, -trailingSpaces);
    if (value === '') throw new Error(`${type} has an empty value`);
    out.push({ type: canonicalAttributeType(type), value });
    if (i >= n) break;
    if (input[i] === '+') throw new Error('multi-valued RDNs are not supported');
    i++; // ',' or ';'
  }
  return out;
}

/**
 * Whether every attribute of `subset` is in `of` with an equal value (notation's
 * `IsSubsetDN`): a trusted identity matches a certificate whose subject has at least its
 * attributes, in any order.
 */
export function isSubsetName(
  subset: readonly NameAttribute[],
  of: readonly NameAttribute[],
): boolean {
  return subset.every((a) =>
    of.some((b) => canonicalAttributeType(b.type) === a.type && b.value === a.value),
  );
}

/** Formats attributes back as an RFC 4514 string (values escaped), for messages. */
export function formatDistinguishedName(attributes: readonly NameAttribute[]): string {
  return attributes
    .map(
      (a) =>
        `${a.type}=${a.value
          .replace(/([,+"\\<>;=])/g, '\\$1')
          .replace(/^([ #])/, '\\$1')
          .replace(/ $/, '\\ ')}`,
    )
    .join(', ');
}
