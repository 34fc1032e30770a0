/** PKCS#11 URIs (RFC 7512): the examples of the RFC, percent-encoding, and what nv2 refuses. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePkcs11Uri } from '../../../src/keys/index.js';

describe('parsePkcs11Uri', () => {
  it('reads path and query attributes, percent-decoded', () => {
    const uri = parsePkcs11Uri(
      'pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;object=my-key;id=%01%02%ff;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin',
    );
    assert.equal(uri.token, 'The Software PKCS#11 Softtoken');
    assert.equal(uri.manufacturer, 'Snake Oil, Inc.');
    assert.equal(uri.object, 'my-key');
    assert.deepEqual(uri.id, Buffer.from([1, 2, 255]));
    assert.equal(uri.type, 'private');
    assert.equal(uri.modulePath, '/usr/lib/softhsm/libsofthsm2.so');
    assert.equal(uri.pinSource, 'file:/run/pin');
  });

  it('reads slot-id as a number, and an id alone as enough to name a key', () => {
    const uri = parsePkcs11Uri('pkcs11:slot-id=3;id=%a1');
    assert.equal(uri.slotId, 3);
    assert.deepEqual(uri.id, Buffer.from([0xa1]));
    assert.equal(uri.object, undefined);
  });

  it('refuses malformed URIs and a PIN value with NV2_ERR_PKCS11_URI_INVALID', () => {
    for (const text of [
      'pkcs12:object=a',
      'pkcs11:',
      'pkcs11:token=t',
      'pkcs11:object=a%zz',
      'pkcs11:object',
      'pkcs11:object=a;object=b',
      'pkcs11:object=a;colour=blue',
      'pkcs11:object=a;slot-id=x',
      'pkcs11:object=a;type=wrong',
      'pkcs11:object=a?pin-value=1234',
    ]) {
      assert.throws(() => parsePkcs11Uri(text), { code: 'NV2_ERR_PKCS11_URI_INVALID' }, text);
    }
  });

  it('accepts vendor attributes (x-…)', () => {
    assert.equal(parsePkcs11Uri('pkcs11:object=a;x-vendor=1?x-other=2').object, 'a');
  });
});
