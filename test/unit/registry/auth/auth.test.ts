import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../../src/errors.js';
import {
  PasswordChecker,
  hashPassword,
  parseHtpasswd,
} from '../../../../src/registry/auth/htpasswd.js';
import { FailureLimiter } from '../../../../src/registry/auth/limiter.js';
import { ANONYMOUS, AccessRules } from '../../../../src/registry/auth/rules.js';
import {
  generateTokenSigningKey,
  issueToken,
  loadTokenSigningKey,
  verifyToken,
} from '../../../../src/registry/auth/tokens.js';
import { tempDir } from '../../../helpers/fixtures.js';

describe('htpasswd', () => {
  it('reads bcrypt entries and checks passwords ($2y$ as written by htpasswd -B)', async () => {
    const hash = await hashPassword('pw', { cost: 4 });
    assert.match(hash, /^\$2y\$04\$/);
    const users = parseHtpasswd(`# users\n\nalice:${hash}\n`);
    const checker = new PasswordChecker(users);
    assert.equal(await checker.check('alice', 'pw'), true);
    assert.equal(await checker.check('alice', 'PW'), false);
    assert.equal(await checker.check('bob', 'pw'), false);
  });

  it('refuses hashes other than bcrypt, malformed lines and duplicates', () => {
    for (const text of [
      'alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=',
      'alice:$apr1$abc$def',
      'alice:plain',
      'no-colon',
      `a:$2y$04$${'a'.repeat(53)}\na:$2y$04$${'a'.repeat(53)}`,
    ]) {
      assert.throws(() => parseHtpasswd(text), { code: 'NV2_ERR_INVALID_ARGUMENT' }, text);
    }
  });
});

describe('access rules', () => {
  const rules = new AccessRules(
    [
      { repositories: ['acme/*'], users: ['alice'], roles: ['signer'] },
      { repositories: ['acme/app'], groups: ['dev'], roles: ['writer'] },
      { repositories: ['*'], users: ['root'], roles: ['admin'] },
      { repositories: ['public/*'], anonymous: true, roles: ['reader'] },
    ],
    { dev: ['bob'] },
  );

  it('unions the roles of every matching rule, with `*` crossing `/`', () => {
    assert.deepEqual([...rules.actions(rules.identity('alice'), 'acme/team/app')].sort(), [
      'pull',
      'sign',
    ]);
    assert.deepEqual([...rules.actions(rules.identity('bob'), 'acme/app')].sort(), [
      'pull',
      'push',
    ]);
    assert.deepEqual([...rules.actions(rules.identity('bob'), 'acme/other')], []);
    assert.deepEqual([...rules.actions(ANONYMOUS, 'public/x')], ['pull']);
    assert.deepEqual([...rules.actions(ANONYMOUS, 'acme/app')], []);
    assert.equal(rules.catalog(rules.identity('root')), true);
    assert.equal(rules.catalog(rules.identity('alice')), false);
  });

  it('refuses unknown roles and groups, anonymous writers and rules for nobody', () => {
    const cases = [
      [{ repositories: ['a'], users: ['x'], roles: ['owner'] }],
      [{ repositories: ['a'], groups: ['nope'], roles: ['reader'] }],
      [{ repositories: ['a'], anonymous: true, roles: ['writer'] }],
      [{ repositories: ['a'], roles: ['reader'] }],
      [{ repositories: ['A B'], users: ['x'], roles: ['reader'] }],
    ];
    for (const c of cases) {
      assert.throws(
        () => new AccessRules(c as never),
        (err: unknown) =>
          err instanceof InvalidInputError && err.code === 'NV2_ERR_INVALID_ARGUMENT',
      );
    }
  });
});

describe('tokens', () => {
  const key = generateTokenSigningKey();
  const now = Date.UTC(2030, 0, 1);
  const expected = { issuer: 'iss', service: 'svc', now };

  it('round-trips the access claim', async () => {
    const token = await issueToken(key, {
      issuer: 'iss',
      service: 'svc',
      subject: 'alice',
      access: [{ type: 'repository', name: 'a/b', actions: ['pull'] }],
      expiresInSeconds: 60,
      now,
    });
    const verified = await verifyToken(key, token, expected);
    assert.equal(verified.subject, 'alice');
    assert.deepEqual([...verified.access.get('repository:a/b')!], ['pull']);
    await assert.rejects(verifyToken(key, token, { ...expected, now: now + 120_000 }), {
      reason: 'expired',
    });
    await assert.rejects(verifyToken(key, token, { ...expected, service: 'other' }), {
      reason: 'audience',
    });
    await assert.rejects(verifyToken(generateTokenSigningKey(), token, expected), {
      reason: 'signature',
    });
  });

  it('generates a key file with mode 0600 once, and refuses one others can read', async () => {
    const dir = await tempDir();
    const path = join(dir, 'auth', 'key.pem');
    const first = await loadTokenSigningKey(path, { create: true });
    const again = await loadTokenSigningKey(path, { create: true });
    assert.equal(first.kid, again.kid);
    assert.equal(first.alg, 'ES256');
    await chmod(path, 0o644);
    await assert.rejects(loadTokenSigningKey(path), { code: 'NV2_ERR_INVALID_KEY' });
    const missing = join(dir, 'missing.pem');
    await assert.rejects(loadTokenSigningKey(missing), { code: 'NV2_ERR_FILE_NOT_FOUND' });
    await writeFile(missing, 'junk', { mode: 0o600 });
    await assert.rejects(loadTokenSigningKey(missing), { code: 'NV2_ERR_INVALID_KEY' });
  });
});

describe('failure limiter', () => {
  it('allows a burst of failures, then asks to wait until one is forgiven', () => {
    let clock = 0;
    const limiter = new FailureLimiter({ burst: 2, refillSeconds: 10 }, () => clock);
    assert.equal(limiter.retryAfter('a'), 0);
    limiter.fail('a');
    limiter.fail('a');
    assert.equal(limiter.retryAfter('a'), 10);
    assert.equal(limiter.retryAfter('b'), 0);
    clock = 4_000;
    assert.equal(limiter.retryAfter('a'), 6);
    clock = 10_000;
    assert.equal(limiter.retryAfter('a'), 0);
  });
});
