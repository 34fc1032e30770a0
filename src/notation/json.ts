/**
 * JSON as Go's encoding/json writes it, which is what notation signs: `<`, `>`, `&`, U+2028
 * and U+2029 escaped as \u00XX. Only strings can contain them, so escaping the output of
 * JSON.stringify is exact. Byte-equal output lets nv2's envelopes match notation's.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** An RFC 3339 time with seconds, as Go's time.Time marshals it: `Z` for UTC, no fraction at whole seconds. */
export function rfc3339(time: Date): string {
  const iso = time.toISOString();
  return time.getUTCMilliseconds() === 0 ? iso.replace(/\.000Z$/, 'Z') : iso;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
