/**
 * `WWW-Authenticate` parsing (RFC 9110 §11.6.1): one or more challenges, each a scheme followed
 * by a token68 or by comma-separated `name=value` parameters, values being tokens or quoted
 * strings with backslash escapes. Registries answer `Bearer realm="…",service="…",scope="…"`
 * (docker token auth) or `Basic realm="…"`; several challenges may share one header, and
 * several headers are joined with commas, which parse the same way.
 */

/** One authentication challenge. */
export interface Challenge {
  /** The scheme, lower-cased (`bearer`, `basic`). */
  readonly scheme: string;
  /** Parameters by lower-cased name; the first occurrence of a name wins. */
  readonly params: Readonly<Record<string, string>>;
  /** The token68 form (`Negotiate abc==`), when the challenge has one instead of parameters. */
  readonly token68?: string;
}

/** Longest header parsed; real challenges are a few hundred bytes. */
export const MAX_CHALLENGE_HEADER_LENGTH = 16 * 1024;

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const SEPARATORS = /[ \t,]*/y;
const SPACES = /[ \t]*/y;
/** `name = value`, value a token or a quoted string (group 2) or a token (group 3). */
const PARAM =
  /([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([!#$%&'*+\-.^_`|~0-9A-Za-z]+))/y;
/** A token68, ending the challenge (a comma or the end follows). */
const TOKEN68 = /([A-Za-z0-9\-._~+/]+=*)[ \t]*(?=,|$)/y;

/** Matches a sticky pattern at `at`; the match and where it ended, or undefined. */
function matchAt(pattern: RegExp, s: string, at: number): RegExpExecArray | undefined {
  pattern.lastIndex = at;
  return pattern.exec(s) ?? undefined;
}

/**
 * Parses a `WWW-Authenticate` value into its challenges, in order. Malformed parts are skipped,
 * never thrown on: a registry's odd header must not hide the challenge that can be used.
 *
 * @example parseChallenges('Bearer realm="https://auth.io/token",service="reg"')
 * // [{ scheme: 'bearer', params: { realm: 'https://auth.io/token', service: 'reg' } }]
 */
export function parseChallenges(header: string): Challenge[] {
  if (header.length > MAX_CHALLENGE_HEADER_LENGTH) return [];
  const s = header;
  const out: Challenge[] = [];
  let i = 0;
  while (i < s.length) {
    i += matchAt(SEPARATORS, s, i)![0].length;
    if (i >= s.length) break;
    const scheme = matchAt(TOKEN, s, i);
    if (scheme === undefined) {
      i++; // not a token character: skip it
      continue;
    }
    i += scheme[0].length;
    i += matchAt(SPACES, s, i)![0].length;
    const params: Record<string, string> = {};
    const first = matchAt(PARAM, s, i);
    const token68 = first === undefined ? matchAt(TOKEN68, s, i) : undefined;
    if (token68 !== undefined) {
      i += token68[0].length;
      out.push({ scheme: scheme[0].toLowerCase(), params, token68: token68[1]! });
      continue;
    }
    // Parameters, separated by commas, until something that is not one: the next scheme.
    for (;;) {
      const separators = matchAt(SEPARATORS, s, i)![0].length;
      const param = matchAt(PARAM, s, i + separators);
      if (param === undefined) break;
      i += separators + param[0].length;
      const name = param[1]!.toLowerCase();
      const value = param[2] !== undefined ? param[2].replace(/\\(.)/g, '$1') : param[3]!;
      if (!Object.hasOwn(params, name)) params[name] = value;
    }
    out.push({ scheme: scheme[0].toLowerCase(), params });
  }
  return out;
}
