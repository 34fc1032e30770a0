/**
 * The Docker reference grammar and normalisation, checked against what distribution/reference
 * (Go: regexp.go, reference.go, normalize.go `ParseNormalizedNamed`, `splitDockerDomain`,
 * `TagNameOnly`) does with the same input.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_REGISTRY,
  MAX_NAME_LENGTH,
  type Reference,
  formatReference,
  isRegistryHost,
  isTag,
  parseDigest,
  parseReference,
  registryHostname,
  withDefaultTag,
} from '../../../src/oci/index.js';

const HEX64 = '0123456789abcdef'.repeat(4);
const HEX128 = HEX64.repeat(2);
const SHA256 = `sha256:${HEX64}`;
const SHA512 = `sha512:${HEX128}`;
const D256 = parseDigest(SHA256);
const D512 = parseDigest(SHA512);

const INVALID = { code: 'NV2_ERR_INVALID_REFERENCE' };

function refuses(input: string): void {
  assert.throws(() => parseReference(input), INVALID, JSON.stringify(input));
}

/** Parses and checks the result field by field (deepEqual also catches extra keys). */
function parses(input: string, expected: Reference): void {
  assert.deepEqual(parseReference(input), expected, JSON.stringify(input));
}

describe('parseReference: normalisation (splitDockerDomain)', () => {
  it('puts a bare name on docker.io under library/ and leaves the tag unset', () => {
    const ref = parseReference('ubuntu');
    assert.deepEqual(ref, { registry: 'docker.io', repository: 'library/ubuntu' });
    assert.equal('tag' in ref, false);
    assert.equal('digest' in ref, false);
    assert.equal(DEFAULT_REGISTRY, 'docker.io');
  });

  it('keeps a given tag and digest on familiar names', () => {
    parses('ubuntu:22.04', { registry: 'docker.io', repository: 'library/ubuntu', tag: '22.04' });
    parses(`ubuntu@${SHA256}`, {
      registry: 'docker.io',
      repository: 'library/ubuntu',
      digest: D256,
    });
  });

  it('puts a two-component name without a host on docker.io without library/', () => {
    parses('foo/bar', { registry: 'docker.io', repository: 'foo/bar' });
    parses('foo/bar/baz:1', { registry: 'docker.io', repository: 'foo/bar/baz', tag: '1' });
  });

  it('adds library/ to single-component names given with docker.io explicitly', () => {
    parses('docker.io/ubuntu', { registry: 'docker.io', repository: 'library/ubuntu' });
    parses('docker.io/library/ubuntu', { registry: 'docker.io', repository: 'library/ubuntu' });
    parses('docker.io/foo/bar', { registry: 'docker.io', repository: 'foo/bar' });
  });

  it('maps the legacy index.docker.io host to docker.io', () => {
    parses('index.docker.io/foo/bar', { registry: 'docker.io', repository: 'foo/bar' });
    parses('index.docker.io/ubuntu:x', {
      registry: 'docker.io',
      repository: 'library/ubuntu',
      tag: 'x',
    });
  });

  it('treats localhost as a host, with or without a port', () => {
    parses('localhost/foo', { registry: 'localhost', repository: 'foo' });
    parses('localhost:5000/foo:tag', { registry: 'localhost:5000', repository: 'foo', tag: 'tag' });
  });

  it('treats a first component with a dot or a colon as a host, and adds no library/', () => {
    parses('registry.io/foo', { registry: 'registry.io', repository: 'foo' });
    parses('myhost:5000/foo', { registry: 'myhost:5000', repository: 'foo' });
    parses('127.0.0.1:5000/a/b', { registry: '127.0.0.1:5000', repository: 'a/b' });
  });

  it('treats a first component without dot or colon as a namespace on docker.io', () => {
    parses('myhost/foo', { registry: 'docker.io', repository: 'myhost/foo' });
  });

  it('treats a first component with upper case as a host (namespaces are lower case)', () => {
    parses('Foo/bar', { registry: 'Foo', repository: 'bar' });
    parses('REGISTRY/a/b:T', { registry: 'REGISTRY', repository: 'a/b', tag: 'T' });
  });

  it('reads a name without a slash as a docker.io name even when it looks like host:port', () => {
    // ParseNormalizedNamed("localhost:5000") is docker.io/library/localhost, tag 5000.
    parses('localhost:5000', {
      registry: 'docker.io',
      repository: 'library/localhost',
      tag: '5000',
    });
    parses('localhost', { registry: 'docker.io', repository: 'library/localhost' });
  });

  it('parses a host with port, a nested path and a digest', () => {
    parses(`registry.io:5000/a/b@${SHA256}`, {
      registry: 'registry.io:5000',
      repository: 'a/b',
      digest: D256,
    });
  });

  it('parses a tag and a digest together', () => {
    parses(`registry.io/a:v1@${SHA512}`, {
      registry: 'registry.io',
      repository: 'a',
      tag: 'v1',
      digest: D512,
    });
  });

  it('accepts bracketed IPv6 hosts, with or without a port', () => {
    parses('[::1]:5000/repo', { registry: '[::1]:5000', repository: 'repo' });
    parses('[::1]/repo:t', { registry: '[::1]', repository: 'repo', tag: 't' });
    parses('[2001:db8::1]:443/a/b', { registry: '[2001:db8::1]:443', repository: 'a/b' });
  });

  it('refuses IPv6 hosts without brackets or with zones', () => {
    refuses('::1/repo');
    refuses('[fe80::1%eth0]:5000/repo');
    refuses('[::g]/repo');
  });
});

describe('parseReference: repository grammar', () => {
  it('refuses upper case in the repository', () => {
    refuses('Ubuntu');
    refuses('UBUNTU:latest');
    refuses('foo/Bar');
    refuses('registry.io/Foo');
    refuses(`registry.io/foo/Bar@${SHA256}`);
    refuses('docker.io/Foo');
  });

  it('allows upper case in the tag', () => {
    parses('foo:LATEST', { registry: 'docker.io', repository: 'library/foo', tag: 'LATEST' });
  });

  it('accepts the separators ".", "_", "__" and runs of "-" between alphanumerics', () => {
    for (const name of ['a.b', 'a_b', 'a__b', 'a-b', 'a--b', 'a---b', 'a.b_c__d-e', 'a1.2b']) {
      parses(`r.io/${name}`, { registry: 'r.io', repository: name });
    }
  });

  it('refuses other separators and separators at the ends of a component', () => {
    for (const name of [
      'a___b',
      'a..b',
      'a._b',
      'a.-b',
      'a-.b',
      'a_-b',
      '.a',
      'a.',
      '_a',
      'a_',
      '-a',
      'a-',
      'a/.b',
      'a//b',
      'a/',
      'a b',
      'a+b',
      'ä',
    ]) {
      refuses(`r.io/${name}`);
    }
  });

  it('refuses empty input, empty components and empty tag or digest', () => {
    refuses('');
    refuses('/foo');
    refuses('r.io/');
    refuses('foo:');
    refuses('foo@');
    refuses(':tag');
    refuses('@' + SHA256);
    refuses(' foo');
    refuses('foo ');
  });

  it('refuses 64-character hexadecimal names, but not longer or shorter ones or with a host', () => {
    refuses(HEX64);
    parses(HEX64.slice(1), { registry: 'docker.io', repository: `library/${HEX64.slice(1)}` });
    parses(`${HEX64}0`, { registry: 'docker.io', repository: `library/${HEX64}0` });
    parses(`r.io/${HEX64}`, { registry: 'r.io', repository: HEX64 });
  });

  it('limits the repository path to 255 characters; the host does not count (distribution/reference v0.6)', () => {
    assert.equal(MAX_NAME_LENGTH, 255);
    const path255 = 'a'.repeat(255);
    parses(`r.io/${path255}`, { registry: 'r.io', repository: path255 });
    parses(`${'h'.repeat(60)}.example.com/${path255}`, {
      registry: `${'h'.repeat(60)}.example.com`,
      repository: path255,
    });
    refuses(`r.io/${path255}b`);
  });

  it('refuses a repository path longer than 255 characters', () => {
    refuses(`r.io/${'a'.repeat(256)}`);
    refuses('a/'.repeat(128) + 'a');
  });

  it('accepts the longest name with the longest tag and a sha512 digest', () => {
    // Name (255) + ":" + tag (128) + "@" + sha512 digest (135) = 520 characters, all valid.
    const path = 'a'.repeat(255 - 'r.io/'.length);
    const tag = 't'.repeat(128);
    parses(`r.io/${path}:${tag}@${SHA512}`, {
      registry: 'r.io',
      repository: path,
      tag,
      digest: D512,
    });
  });
});

describe('parseReference: host grammar', () => {
  it('accepts domain components with inner hyphens and numeric ports', () => {
    parses('my-registry.example.com:443/a', {
      registry: 'my-registry.example.com:443',
      repository: 'a',
    });
  });

  it('refuses components that start or end with a hyphen, empty labels and empty ports', () => {
    refuses('-r.io/a');
    refuses('r-.io/a');
    refuses('r..io/a');
    refuses('.r.io/a');
    refuses('r.io:/a');
    refuses('r.io:abc/a');
    refuses('r_x.io/a');
  });
});

describe('parseReference: tags', () => {
  it('accepts tags of 1 to 128 characters from [A-Za-z0-9_.-], not starting with . or -', () => {
    for (const tag of ['a', '_', '0', 'v1.0-rc_1', 'A.-_', 'x'.repeat(128), '_'.repeat(128)]) {
      parses(`r.io/a:${tag}`, { registry: 'r.io', repository: 'a', tag });
    }
  });

  it('refuses a tag of 129 characters', () => {
    refuses(`r.io/a:${'x'.repeat(129)}`);
  });

  it('refuses tags starting with . or - and tags with other characters', () => {
    for (const tag of ['.a', '-a', 'a+b', 'a/b', 'a:b', 'ä', 'a b']) {
      refuses(`r.io/a:${tag}`);
    }
  });

  it('isTag agrees with the grammar', () => {
    assert.equal(isTag('latest'), true);
    assert.equal(isTag('x'.repeat(128)), true);
    assert.equal(isTag('x'.repeat(129)), false);
    assert.equal(isTag(''), false);
    assert.equal(isTag('.a'), false);
    assert.equal(isTag('a:b'), false);
  });
});

describe('parseReference: digests', () => {
  it('accepts sha256 and sha512 digests of the right length in lower case', () => {
    assert.equal(parseReference(`r.io/a@${SHA256}`).digest, SHA256);
    assert.equal(parseReference(`r.io/a@${SHA512}`).digest, SHA512);
  });

  it('refuses other algorithms, wrong lengths and upper-case hex', () => {
    refuses(`r.io/a@sha384:${'0'.repeat(96)}`);
    refuses(`r.io/a@md5:${'0'.repeat(32)}`);
    refuses(`r.io/a@sha256:${HEX64.slice(1)}`);
    refuses(`r.io/a@sha256:${HEX64}0`);
    refuses(`r.io/a@sha512:${HEX64}`);
    refuses(`r.io/a@sha256:${HEX64.toUpperCase()}`);
    refuses(`r.io/a@SHA256:${HEX64}`);
    refuses(`r.io/a@sha256:${'g'.repeat(64)}`);
    refuses(`r.io/a@${HEX64}`);
  });

  it('refuses a digest before the tag', () => {
    refuses(`r.io/a@${SHA256}:tag`);
  });
});

describe('withDefaultTag', () => {
  it('adds latest to a reference with neither tag nor digest, as TagNameOnly does', () => {
    assert.deepEqual(withDefaultTag(parseReference('ubuntu')), {
      registry: 'docker.io',
      repository: 'library/ubuntu',
      tag: 'latest',
    });
  });

  it('keeps a given tag, and adds none to a digest reference', () => {
    assert.equal(withDefaultTag(parseReference('ubuntu:22.04')).tag, '22.04');
    const digested = withDefaultTag(parseReference(`ubuntu@${SHA256}`));
    assert.equal(digested.tag, undefined);
    assert.equal(digested.digest, SHA256);
  });
});

describe('formatReference', () => {
  it('writes the normalized, fully qualified form', () => {
    const cases: [string, string][] = [
      ['ubuntu', 'docker.io/library/ubuntu'],
      ['ubuntu:22.04', 'docker.io/library/ubuntu:22.04'],
      ['index.docker.io/foo/bar', 'docker.io/foo/bar'],
      ['docker.io/ubuntu', 'docker.io/library/ubuntu'],
      ['localhost:5000/foo:tag', 'localhost:5000/foo:tag'],
      ['[::1]:5000/repo', '[::1]:5000/repo'],
      [`registry.io:5000/a/b@${SHA256}`, `registry.io:5000/a/b@${SHA256}`],
      [`r.io/a:v1@${SHA512}`, `r.io/a:v1@${SHA512}`],
    ];
    for (const [input, formatted] of cases) {
      assert.equal(formatReference(parseReference(input)), formatted, input);
    }
  });

  it('round-trips: parsing the formatted form gives the same reference', () => {
    for (const input of [
      'ubuntu',
      'foo/bar:1',
      'Foo/bar',
      'localhost/foo',
      '[::1]/repo:t',
      `registry.io:5000/a/b:c@${SHA256}`,
    ]) {
      const ref = parseReference(input);
      const formatted = formatReference(ref);
      assert.deepEqual(parseReference(formatted), ref, input);
      assert.equal(formatReference(parseReference(formatted)), formatted, input);
    }
  });
});

describe('registryHostname and isRegistryHost', () => {
  it('strips the port from names and addresses', () => {
    assert.equal(registryHostname('registry.io'), 'registry.io');
    assert.equal(registryHostname('registry.io:5000'), 'registry.io');
    assert.equal(registryHostname('localhost:5000'), 'localhost');
    assert.equal(registryHostname('127.0.0.1:5000'), '127.0.0.1');
  });

  it('keeps IPv6 brackets and strips only the port after them', () => {
    assert.equal(registryHostname('[::1]'), '[::1]');
    assert.equal(registryHostname('[::1]:5000'), '[::1]');
    assert.equal(registryHostname('[2001:db8::1]:443'), '[2001:db8::1]');
    assert.equal(registryHostname('[2001:db8::1]'), '[2001:db8::1]');
  });

  it('isRegistryHost accepts hosts with optional ports and refuses the rest', () => {
    for (const host of ['r.io', 'localhost', 'r.io:5000', '[::1]', '[::1]:5000', 'Foo']) {
      assert.equal(isRegistryHost(host), true, host);
    }
    for (const host of ['', 'r.io:', '-r.io', 'r.io/x', '::1', 'r_x.io', 'r.io:5000:1']) {
      assert.equal(isRegistryHost(host), false, host);
    }
  });
});
