/**
 * signingkeys.json in notation's format: parsing what notation writes, refusing what it would
 * not accept, and the add/remove/default edits `nv2 key` makes.
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  addSigningKey,
  findSigningKey,
  formatSigningKeys,
  parseSigningKeys,
  readSigningKeys,
  removeSigningKey,
  resolveEntry,
  setDefaultSigningKey,
  writeSigningKeys,
} from '../../../src/keys/index.js';
import { tempDir } from '../../helpers/fixtures.js';

/** A file as notation writes it: a key pair, a plugin key, and a default. */
const NOTATION_FILE = JSON.stringify({
  default: 'wabbit-networks',
  keys: [
    {
      name: 'wabbit-networks',
      keyPath: '/home/user/.config/notation/localkeys/wabbit-networks.key',
      certPath: '/home/user/.config/notation/localkeys/wabbit-networks.crt',
    },
    {
      name: 'kms',
      id: 'arn:aws:kms:us-east-1:111122223333:key/1234',
      pluginName: 'com.example.kms',
      pluginConfig: { region: 'us-east-1' },
    },
  ],
});

describe('signingkeys.json', () => {
  it("reads notation's file: key pairs, plugin keys and the default", () => {
    const keys = parseSigningKeys(NOTATION_FILE, 'signingkeys.json');
    assert.equal(keys.default, 'wabbit-networks');
    assert.deepEqual(findSigningKey(keys, undefined), {
      name: 'wabbit-networks',
      keyPath: '/home/user/.config/notation/localkeys/wabbit-networks.key',
      certPath: '/home/user/.config/notation/localkeys/wabbit-networks.crt',
    });
    assert.deepEqual(findSigningKey(keys, 'kms'), {
      name: 'kms',
      id: 'arn:aws:kms:us-east-1:111122223333:key/1234',
      pluginName: 'com.example.kms',
      pluginConfig: { region: 'us-east-1' },
    });
  });

  it('writes what it read unchanged, default first', () => {
    const keys = parseSigningKeys(NOTATION_FILE, 'f');
    assert.deepEqual(JSON.parse(formatSigningKeys(keys)), JSON.parse(NOTATION_FILE));
    assert.ok(formatSigningKeys(keys).startsWith('{\n  "default": '));
  });

  it('refuses malformed files with NV2_ERR_SIGNING_KEYS_INVALID', () => {
    for (const text of [
      'not json',
      '[]',
      '{"keys": {}}',
      '{"keys": [{"keyPath": "k", "certPath": "c"}]}',
      '{"keys": [{"name": "a", "keyPath": "k"}]}',
      '{"keys": [{"name": "a", "certPath": "c"}]}',
      '{"keys": [{"name": "a", "id": "x"}]}',
      '{"keys": [{"name": "a", "keyPath": "k", "certPath": "c", "pluginName": "p", "id": "x"}]}',
      '{"keys": [{"name": "a", "id": "x", "pluginName": "p", "pluginConfig": {"n": 1}}]}',
      '{"keys": [{"name": "a", "keyPath": "k", "certPath": "c"}, {"name": "a", "keyPath": "k", "certPath": "c"}]}',
      '{"default": "b", "keys": [{"name": "a", "keyPath": "k", "certPath": "c"}]}',
    ]) {
      assert.throws(
        () => parseSigningKeys(text, 'f'),
        { code: 'NV2_ERR_SIGNING_KEYS_INVALID' },
        text,
      );
    }
  });

  it('accepts a pkcs11: keyPath without a certPath (the certificate is in the token)', () => {
    const keys = parseSigningKeys(
      '{"keys": [{"name": "hsm", "keyPath": "pkcs11:token=t;object=k"}]}',
      'f',
    );
    assert.deepEqual(keys.keys, [{ name: 'hsm', keyPath: 'pkcs11:token=t;object=k' }]);
  });

  it('adds (the first key becomes the default), sets the default, removes', () => {
    let keys = addSigningKey(
      { keys: [] },
      { name: 'a', keyPath: '/a.key', certPath: '/a.crt' },
      false,
    );
    assert.equal(keys.default, 'a');
    keys = addSigningKey(keys, { name: 'b', keyPath: '/b.key', certPath: '/b.crt' }, false);
    assert.equal(keys.default, 'a');
    assert.throws(() => addSigningKey(keys, { name: 'b', keyPath: '/c', certPath: '/c' }, false), {
      code: 'NV2_ERR_SIGNING_KEY_EXISTS',
    });
    keys = setDefaultSigningKey(keys, 'b');
    assert.equal(findSigningKey(keys, undefined).name, 'b');
    assert.throws(() => setDefaultSigningKey(keys, 'zz'), {
      code: 'NV2_ERR_SIGNING_KEY_NOT_FOUND',
    });
    keys = removeSigningKey(keys, 'b');
    assert.equal(keys.default, undefined);
    assert.deepEqual(
      keys.keys.map((k) => k.name),
      ['a'],
    );
    assert.throws(() => findSigningKey(keys, undefined), { code: 'NV2_ERR_SIGNING_KEY_NOT_FOUND' });
    assert.throws(() => removeSigningKey(keys, 'b'), { code: 'NV2_ERR_SIGNING_KEY_NOT_FOUND' });
  });

  it('resolves relative paths against the directory of the file that names them', () => {
    assert.deepEqual(
      resolveEntry(
        { name: 'a', keyPath: 'keys/a.key', certPath: '/abs/a.crt' },
        '/etc/nv2/signingkeys.json',
      ),
      { name: 'a', keyPath: '/etc/nv2/keys/a.key', certPath: '/abs/a.crt' },
    );
    const uri = 'pkcs11:token=t;object=k';
    assert.deepEqual(resolveEntry({ name: 'h', keyPath: uri }, '/etc/x.json'), {
      name: 'h',
      keyPath: uri,
    });
  });

  it('reads a missing file as no keys, and writes atomically with mode 0600', async () => {
    const dir = await tempDir();
    const file = join(dir, 'config', 'signingkeys.json');
    assert.deepEqual(await readSigningKeys(file), { keys: [] });
    const keys = addSigningKey({ keys: [] }, { name: 'a', keyPath: '/a', certPath: '/c' }, true);
    await writeSigningKeys(file, keys);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await readSigningKeys(file), keys);
    await writeFile(file, '{');
    await assert.rejects(readSigningKeys(file), { code: 'NV2_ERR_SIGNING_KEYS_INVALID' });
    assert.equal(await readFile(file, 'utf8'), '{');
  });
});
