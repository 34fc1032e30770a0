import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration, parseTime } from '../../../src/cli/duration.js';

const INVALID = { code: 'NV2_ERR_INVALID_ARGUMENT' };
const HOUR = 3600;
const DAY = 24 * HOUR;

describe('parseDuration', () => {
  it('converts each unit to seconds', () => {
    assert.equal(parseDuration('3600s'), 3600);
    assert.equal(parseDuration('5m'), 300);
    assert.equal(parseDuration('24h'), DAY);
    assert.equal(parseDuration('90d'), 90 * DAY);
    assert.equal(parseDuration('1w'), 7 * DAY);
    assert.equal(parseDuration('1y'), 365 * DAY);
  });

  it('adds up compound durations', () => {
    assert.equal(parseDuration('1h30m'), 90 * 60);
    assert.equal(parseDuration('1d12h'), 36 * HOUR);
    assert.equal(parseDuration('1y1d1h1m1s'), 365 * DAY + DAY + HOUR + 60 + 1);
    assert.equal(parseDuration('0h1s'), 1);
  });

  it('refuses bare numbers, zero, signs, fractions and lone units', () => {
    for (const input of ['90', '0s', '0h0m', '-1h', '+1h', '1.5h', '.5h', 'h', '', '1', 's1']) {
      assert.throws(() => parseDuration(input), INVALID, JSON.stringify(input));
    }
  });

  it('refuses unknown or upper-case units, spaces and separators', () => {
    for (const input of ['1ms', '1H', '1D', '1x', ' 1h', '1h ', '1h 30m', '1h,30m', '1 h', '1hm']) {
      assert.throws(() => parseDuration(input), INVALID, JSON.stringify(input));
    }
  });

  it('refuses durations beyond the safe integer range', () => {
    assert.throws(() => parseDuration(`${'9'.repeat(20)}y`), INVALID);
  });
});

describe('parseTime', () => {
  const NEW_YEAR = Date.UTC(2021, 0, 1);

  it('reads RFC 3339 times in UTC', () => {
    assert.equal(parseTime('2021-01-01T00:00:00Z').getTime(), NEW_YEAR);
    assert.equal(parseTime('2021-01-01T00:00:00.5Z').getTime(), NEW_YEAR + 500);
  });

  it('applies positive and negative offsets', () => {
    assert.equal(parseTime('2021-01-01T02:00:00+02:00').getTime(), NEW_YEAR);
    assert.equal(parseTime('2020-12-31T19:00:00-05:00').getTime(), NEW_YEAR);
    assert.equal(parseTime('2021-01-01T05:30:00+05:30').getTime(), NEW_YEAR);
  });

  it('reads Unix seconds', () => {
    assert.equal(parseTime('1609459200').getTime(), NEW_YEAR);
    assert.equal(parseTime('0').getTime(), 0);
  });

  it('refuses garbage and times without a zone', () => {
    for (const input of [
      '',
      'garbage',
      'now',
      'yesterday',
      '-1',
      '1e9',
      '1609459200.5',
      '0x10',
      ' 1609459200',
      '2021-01-01T00:00:00',
      '2021-01-01 00:00:00',
      '2021/01/01',
      '01/01/2021',
      'Fri, 01 Jan 2021 00:00:00 GMT',
      '2021-01-01T00:00:00+0200',
      '2021-13-01T00:00:00Z',
      '2021-01-32T00:00:00Z',
      '2021-01-01T25:00:00Z',
      '2021-01-01T00:60:00Z',
      `${'9'.repeat(20)}`,
    ]) {
      assert.throws(() => parseTime(input), INVALID, JSON.stringify(input));
    }
  });

  it('refuses calendar dates that do not exist instead of rolling them over', () => {
    // new Date() turns 2021-02-29 into 2021-03-01 and 2021-04-31 into 2021-05-01.
    for (const input of ['2021-02-29T00:00:00Z', '2021-02-30T00:00:00Z', '2021-04-31T00:00:00Z']) {
      assert.throws(() => parseTime(input), INVALID, input);
    }
    assert.equal(parseTime('2020-02-29T00:00:00Z').getTime(), Date.UTC(2020, 1, 29));
  });

  it('refuses hour 24, which RFC 3339 does not allow (time-hour is 00-23)', () => {
    assert.throws(() => parseTime('2021-01-01T24:00:00Z'), INVALID);
  });

  it('refuses Unix seconds beyond the range a Date holds, and leap seconds', () => {
    assert.equal(parseTime('8640000000000').toISOString(), '+275760-09-13T00:00:00.000Z');
    for (const input of ['8640000000001', '999999999999999', '2021-12-31T23:59:60Z']) {
      assert.throws(() => parseTime(input), INVALID, input);
    }
  });

  it('reads a date alone as its midnight UTC, and times without seconds', () => {
    assert.equal(parseTime('2021-01-01').getTime(), NEW_YEAR);
    assert.equal(parseTime('2021-01-01 01:00+01:00').getTime(), NEW_YEAR);
  });
});
