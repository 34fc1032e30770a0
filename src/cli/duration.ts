import { InvalidInputError } from '../errors.js';

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

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2}))?$/;

/**
 * Parses a point in time: RFC 3339 (`2021-01-01T00:00:00Z`, a date alone meaning its
 * midnight UTC) or Unix seconds. Dates that do not exist (February 30th, hour 24) are refused
 * rather than rolled over into the next day, as `Date` would.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT
 */
export function parseTime(input: string): Date {
  const invalid = (): InvalidInputError =>
    new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `invalid time ${JSON.stringify(input)}: use RFC 3339 (2021-01-01T00:00:00Z) or Unix seconds`,
    );
  if (/^\d{1,15}$/.test(input)) return new Date(Number(input) * 1000);
  const m = RFC3339.exec(input);
  if (m === null) throw invalid();
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) =>
    Number(v ?? 0),
  ) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    throw invalid();
  const zone = m[8];
  if (m[4] !== undefined && zone !== undefined && zone.length === 6) {
    if (Number(zone.slice(1, 3)) > 23 || Number(zone.slice(4, 6)) > 59) throw invalid();
  }
  const date = new Date(
    m[4] === undefined ? `${m[1]}-${m[2]}-${m[3]}T00:00:00Z` : input.replace(' ', 'T'),
  );
  if (Number.isNaN(date.getTime())) throw invalid();
  return date;
}
