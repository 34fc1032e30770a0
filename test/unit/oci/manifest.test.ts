import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_MANIFEST_MEDIA_TYPE,
  MAX_MANIFEST_BYTES,
  MediaTypes,
  describeManifest,
  digestOf,
  isMediaType,
  manifestMediaTypeField,
} from '../../../src/oci/index.js';

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const OCI_MANIFEST = json({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, layers: [] });
const UNTYPED_MANIFEST = json({ schemaVersion: 2, layers: [] });
const EXPLICIT = 'application/vnd.example.thing+json';

describe('describeManifest: media type precedence', () => {
  it('uses the explicit media type over the manifest’s own field', () => {
    const { descriptor } = describeManifest(OCI_MANIFEST, { mediaType: EXPLICIT });
    assert.equal(descriptor.mediaType, EXPLICIT);
  });

  it('uses the manifest’s mediaType field when none is given', () => {
    assert.equal(describeManifest(OCI_MANIFEST).descriptor.mediaType, MediaTypes.ociManifest);
    assert.equal(
      describeManifest(OCI_MANIFEST, { mediaType: undefined }).descriptor.mediaType,
      MediaTypes.ociManifest,
    );
    const index = json({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] });
    assert.equal(describeManifest(index).descriptor.mediaType, MediaTypes.ociIndex);
  });

  it('falls back to Docker schema 2 when the manifest has no mediaType field', () => {
    assert.equal(
      DEFAULT_MANIFEST_MEDIA_TYPE,
      'application/vnd.docker.distribution.manifest.v2+json',
    );
    assert.equal(
      describeManifest(UNTYPED_MANIFEST).descriptor.mediaType,
      DEFAULT_MANIFEST_MEDIA_TYPE,
    );
    assert.equal(
      describeManifest(Buffer.from('{}')).descriptor.mediaType,
      DEFAULT_MANIFEST_MEDIA_TYPE,
    );
  });
});

describe('describeManifest: descriptor', () => {
  it('computes digest and size from the exact bytes', () => {
    const spaced = Buffer.from('{ }\n');
    const { descriptor, content } = describeManifest(spaced);
    assert.equal(descriptor.size, 4);
    assert.equal(descriptor.digest, digestOf(spaced));
    assert.notEqual(descriptor.digest, digestOf(Buffer.from('{}')));
    assert.deepEqual(Buffer.from(content), spaced);
  });

  it('uses sha512 on request', () => {
    const { descriptor } = describeManifest(Buffer.from('{}'), { digestAlgorithm: 'sha512' });
    assert.equal(descriptor.digest, digestOf(Buffer.from('{}'), 'sha512'));
  });

  it('reads only the bytes of a view, not the rest of its buffer', () => {
    const whole = Buffer.from(
      `garbage${JSON.stringify({ mediaType: MediaTypes.ociIndex })}garbage`,
    );
    const view = whole.subarray(7, whole.length - 7);
    const { descriptor } = describeManifest(view);
    assert.equal(descriptor.mediaType, MediaTypes.ociIndex);
    assert.equal(descriptor.size, view.length);
    assert.equal(descriptor.digest, digestOf(Buffer.from(view)));
  });
});

describe('describeManifest: refusals', () => {
  it('refuses an invalid explicit media type', () => {
    for (const mediaType of [
      '',
      'json',
      'application/',
      '/json',
      'application/json; charset=utf-8',
      'application/ json',
      '.application/json',
      'application/json/x',
      `application/${'x'.repeat(128)}`,
    ]) {
      assert.throws(
        () => describeManifest(OCI_MANIFEST, { mediaType }),
        {
          code: 'NV2_ERR_INVALID_MEDIA_TYPE',
        },
        mediaType,
      );
    }
  });

  it('refuses a manifest whose own mediaType field is malformed or not a string', () => {
    for (const field of ['not a media type', '', 42, null, ['application/json'], {}]) {
      assert.throws(
        () => describeManifest(json({ mediaType: field })),
        {
          code: 'NV2_ERR_INVALID_MEDIA_TYPE',
        },
        JSON.stringify(field),
      );
    }
  });

  it('refuses bytes that are not a JSON object when no media type is given', () => {
    for (const text of ['not json', '', '[]', 'null', '"string"', '42', 'true', '{', '{}x']) {
      assert.throws(
        () => describeManifest(Buffer.from(text)),
        {
          code: 'NV2_ERR_INVALID_MANIFEST',
        },
        JSON.stringify(text),
      );
    }
  });

  it('accepts the same bytes as opaque content when a media type is given', () => {
    for (const text of ['not json', '[]', 'null', '"string"', '42']) {
      const bytes = Buffer.from(text);
      const { descriptor } = describeManifest(bytes, { mediaType: EXPLICIT });
      assert.equal(descriptor.mediaType, EXPLICIT);
      assert.equal(descriptor.digest, digestOf(bytes));
      assert.equal(descriptor.size, bytes.length);
    }
    const binary = Buffer.from([0xff, 0x00, 0xfe]);
    assert.equal(describeManifest(binary, { mediaType: EXPLICIT }).descriptor.size, 3);
  });
});

describe('describeManifest: size limit', () => {
  it('is 4 MiB', () => {
    assert.equal(MAX_MANIFEST_BYTES, 4 * 1024 * 1024);
  });

  it('accepts exactly MAX_MANIFEST_BYTES with an explicit media type', () => {
    const bytes = Buffer.alloc(MAX_MANIFEST_BYTES, 0x20);
    const { descriptor } = describeManifest(bytes, { mediaType: EXPLICIT });
    assert.equal(descriptor.size, MAX_MANIFEST_BYTES);
  });

  it('accepts a JSON manifest of exactly MAX_MANIFEST_BYTES', () => {
    const bytes = Buffer.alloc(MAX_MANIFEST_BYTES, 0x20);
    bytes.write('{}', 0);
    assert.equal(describeManifest(bytes).descriptor.size, MAX_MANIFEST_BYTES);
  });

  it('refuses MAX_MANIFEST_BYTES + 1, with or without a media type', () => {
    const bytes = Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20);
    bytes.write('{}', 0);
    assert.throws(() => describeManifest(bytes, { mediaType: EXPLICIT }), {
      code: 'NV2_ERR_FILE_TOO_LARGE',
    });
    assert.throws(() => describeManifest(bytes), { code: 'NV2_ERR_FILE_TOO_LARGE' });
  });
});

describe('manifestMediaTypeField', () => {
  it('returns the field, or undefined when there is none', () => {
    assert.equal(manifestMediaTypeField(OCI_MANIFEST), MediaTypes.ociManifest);
    assert.equal(manifestMediaTypeField(UNTYPED_MANIFEST), undefined);
  });

  it('refuses non-objects and malformed fields with their codes', () => {
    assert.throws(() => manifestMediaTypeField(Buffer.from('[1]')), {
      code: 'NV2_ERR_INVALID_MANIFEST',
    });
    assert.throws(() => manifestMediaTypeField(json({ mediaType: 'x' })), {
      code: 'NV2_ERR_INVALID_MEDIA_TYPE',
    });
  });
});

describe('isMediaType', () => {
  it('accepts RFC 6838 type/subtype names up to 127 characters each', () => {
    for (const value of [
      ...Object.values(MediaTypes),
      'A/B',
      'a/b',
      `a/${'x'.repeat(127)}`,
      'a/b!#$&^_.+-',
    ]) {
      assert.equal(isMediaType(value), true, value);
    }
  });

  it('refuses parameters, empty parts, leading punctuation, overlong parts and non-strings', () => {
    for (const value of [
      'a/b;c=d',
      'a/',
      '/b',
      'a',
      'a/+b',
      '+a/b',
      `a/${'x'.repeat(128)}`,
      'a /b',
      'a/b\n',
      42,
      undefined,
    ]) {
      assert.equal(isMediaType(value), false, String(value));
    }
  });
});
