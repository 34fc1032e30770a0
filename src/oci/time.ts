/**
 * Time values read from signatures, manifests and files: one strict RFC 3339 parser and one
 * range check for Unix times, so that no caller rolls an impossible date over into a real
 * one or builds a `Date` whose `toISOString()` throws.
 */

/**
 * The largest magnitude, in milliseconds from the epoch, a `Date` can hold (ECMA-262
 * §21.4.1.1: 100,000,000 days either side of 1970).
 */
export const MAX_TIME_MS = 8.64e15;

/** The same bound in seconds: the range of a JWT NumericDate nv2 accepts. */
export const MAX_UNIX_SECONDS = MAX_TIME_MS / 1000;

/** The date of a Unix time in seconds, or undefined when it is not finite or not representable. */
export function dateFromUnixSeconds(seconds: number): Date | undefined {
  return isUnixSeconds(seconds) ? new Date(seconds * 1000) : undefined;
}

/**
 * True for a number a `Date` can hold as Unix seconds (see `dateFromUnixSeconds`). Checked
 * without building the `Date`: every signature verified checks up to three claims.
 */
export function isUnixSeconds(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= MAX_UNIX_SECONDS;
}

// RFC 3339 §5.6 date-time: full-date "T" partial-time time-offset, "T" and "Z" in either case.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Days in `month` (1-12) of `year`, Gregorian (RFC 3339 §5.7). */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Parses an RFC 3339 date-time (`2027-02-28T12:00:00Z`, `…T12:00:00.5+01:00`) strictly; undefined
 * when `value` is not one. Every field is range-checked before any arithmetic (RFC 3339 §5.7):
 * month 01-12, the day within its month (February 29th in leap years only), hour 00-23, minute
 * and second 00-59, offset within ±23:59, at most nine fraction digits (read to the
 * millisecond). A leap second (`:60`) is refused, as Go's `time.Parse` (and so notation) does,
 * and neither the `T` nor an offset may be left out.
 *
 * @example parseRfc3339('2027-02-30T00:00:00Z') // undefined, not March 2nd
 */
export function parseRfc3339(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const m = DATE_TIME.exec(value);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(
    Number,
  ) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offsetHours = Number(m[10]);
    const offsetRest = Number(m[11]);
    if (offsetHours > 23 || offsetRest > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetRest);
  }
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offsetMinutes, second, millis);
  return date;
}
