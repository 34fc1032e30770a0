import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_UNIX_SECONDS,
  dateFromUnixSeconds,
  isUnixSeconds,
  parseRfc3339,
} from '../../../src/oci/index.js';

describe('parseRfc3339', () => {
  it('reads every day of every month of a leap and a common year, and no day after', () => {
    for (const year of [2027, 2028, 1900, 2000]) {
      for (let month = 1; month <= 12; month++) {
        const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
        for (let day = 1; day <= 31; day++) {
          const text = `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}T00:00:00Z`;
          const parsed = parseRfc3339(text);
          if (day <= last) assert.equal(parsed?.getTime(), Date.UTC(year, month - 1, day), text);
          else assert.equal(parsed, undefined, text);
        }
      }
    }
  });

  it('applies offsets and reads fractions to the millisecond', () => {
    assert.equal(
      parseRfc3339('2027-01-01T00:30:00+01:00')?.toISOString(),
      '2026-12-31T23:30:00.000Z',
    );
    assert.equal(
      parseRfc3339('2027-01-01T00:00:00.123456789Z')?.toISOString(),
      '2027-01-01T00:00:00.123Z',
    );
    assert.equal(parseRfc3339('0001-01-01T00:00:00Z')?.getUTCFullYear(), 1);
    assert.equal(parseRfc3339('0099-03-01T00:00:00Z')?.getUTCFullYear(), 99);
  });

  it('refuses anything that is not an RFC 3339 date-time', () => {
    for (const value of [
      '2027-01-01T24:00:00Z',
      '2027-01-01T00:60:00Z',
      '2027-01-01T00:00:60Z',
      '2027-01-01T00:00:00+24:00',
      '2027-01-01T00:00:00-00:60',
      '2027-01-01T00:00:00.Z',
      '2027-01-01T00:00:00.1234567890Z',
      '2027-01-01',
      '2027-01-01T00:00Z',
      '+02027-01-01T00:00:00Z',
      ' 2027-01-01T00:00:00Z',
      '2027-01-01T00:00:00Z\n',
      1_800_000_000,
      null,
    ]) {
      assert.equal(parseRfc3339(value), undefined, String(value));
    }
  });
});

describe('dateFromUnixSeconds', () => {
  it('holds the whole Date range and nothing beyond it', () => {
    assert.equal(dateFromUnixSeconds(0)?.getTime(), 0);
    assert.equal(
      dateFromUnixSeconds(MAX_UNIX_SECONDS)?.toISOString(),
      '+275760-09-13T00:00:00.000Z',
    );
    assert.equal(dateFromUnixSeconds(-MAX_UNIX_SECONDS)?.getTime(), -8.64e15);
    for (const v of [MAX_UNIX_SECONDS + 1, -MAX_UNIX_SECONDS - 1, 1e300, NaN, Infinity]) {
      assert.equal(dateFromUnixSeconds(v), undefined, String(v));
      assert.equal(isUnixSeconds(v), false);
    }
    assert.equal(isUnixSeconds('1'), false);
  });
});
