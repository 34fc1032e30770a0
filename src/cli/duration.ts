import { InvalidInputError } from '../errors.js';
import { dateFromUnixSeconds, parseRfc3339 } from '../oci/index.js';

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 7 * 86400,
  y: 365 * 86400,
};

/**
 * Parses a duration such as `90d`, `24h`, `1h30m` or `3600s` (units s, m, h, d, w, y) to
 * whole seconds. A bare number is refused: `90` could mean anything.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT
 */
export function parseDuration(input: string): number {
  const invalid = (): InvalidInputError =>
    new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `invalid duration ${JSON.stringify(input)}: use a number and a unit (s, m, h, d, w, y), e.g. 24h or 90d`,
    );
  if (!/^(\d+[smhdwy])+$/.test(input)) throw invalid();
  let seconds = 0;
  for (const [, amount, unit] of input.matchAll(/(\d+)([smhdwy])/g)) {
    seconds += Number(amount) * UNIT_SECONDS[unit!]!;
  }
  if (!Number.isSafeInteger(seconds) || seconds <= 0) throw invalid();
  return seconds;
}

/** What the CLI accepts beyond RFC 3339: a date alone, a space for the T, no seconds. */
const LENIENT =
  /^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2})(:\d{2}(?:\.\d+)?)?([Zz]|[+-]\d{2}:\d{2}))?$/;

/**
 * Parses a point in time: RFC 3339 (`2021-01-01T00:00:00Z`; for convenience also a date alone,
 * meaning its midnight UTC, a space for the `T`, and minutes without seconds) or Unix seconds.
 * Dates that do not exist (February 30th, hour 24) are refused rather than rolled over into
 * the next day, as `Date` would, by the same parser that reads signatures.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT
 */
export function parseTime(input: string): Date {
  const invalid = (): InvalidInputError =>
    new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `invalid time ${JSON.stringify(input)}: use RFC 3339 (2021-01-01T00:00:00Z) or Unix seconds`,
    );
  if (/^\d{1,15}$/.test(input)) {
    const date = dateFromUnixSeconds(Number(input));
    if (date === undefined) throw invalid();
    return date;
  }
  const m = LENIENT.exec(input);
  if (m === null) throw invalid();
  // At most nine fraction digits, as the RFC 3339 parser reads.
  const seconds = m[3] === undefined ? ':00' : m[3].replace(/^(:\d{2}\.\d{9})\d+$/, '$1');
  const date = parseRfc3339(
    m[2] === undefined ? `${m[1]}T00:00:00Z` : `${m[1]}T${m[2]}${seconds}${m[4]}`,
  );
  if (date === undefined) throw invalid();
  return date;
}
