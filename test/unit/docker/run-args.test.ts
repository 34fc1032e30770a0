/** docker run/create's flag grammar: where the image is among docker's own flags. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRunArguments, withImage } from '../../../src/docker/run-args.js';
import { InvalidInputError } from '../../../src/errors.js';

const image = (args: string[]): string => parseRunArguments('run', args).image;

describe('parseRunArguments', () => {
  it('takes the first positional argument as the image, the rest as its command', () => {
    const parsed = parseRunArguments('run', ['--rm', 'app:v1', 'sh', '-c', '--name x']);
    assert.equal(parsed.image, 'app:v1');
    assert.deepEqual(parsed.flags, ['--rm']);
    assert.deepEqual(parsed.command, ['sh', '-c', '--name x']);
    assert.deepEqual(withImage(parsed, 'app@sha256:1'), [
      '--rm',
      'app@sha256:1',
      'sh',
      '-c',
      '--name x',
    ]);
  });

  it('skips the values of flags that take one, in every spelling', () => {
    assert.equal(image(['--name', 'web', '-v', '/a:/b', 'app']), 'app');
    assert.equal(image(['--name=web', '--network', 'host', 'app']), 'app');
    assert.equal(image(['-e', 'A=1', '--env-file', 'f', '-p', '80:80', 'app']), 'app');
    // -h is --hostname in run, not help.
    assert.equal(image(['-h', 'box', 'app']), 'app');
    // Hidden aliases and flags of older and newer dockers.
    assert.equal(
      image(['--net', 'host', '--net-alias', 'a', '--kernel-memory', '1g', 'app']),
      'app',
    );
    assert.equal(image(['--health-start-interval', '1s', '--annotation', 'a=b', 'app']), 'app');
  });

  it('reads short clusters as pflag does', () => {
    assert.equal(image(['-it', 'app']), 'app');
    assert.equal(image(['-itd', '--rm', 'app']), 'app');
    // A flag taking a value ends the cluster: the rest of it, or the next argument.
    assert.equal(image(['-dp', '80:80', 'app']), 'app');
    assert.equal(image(['-dp80:80', 'app']), 'app');
    assert.equal(image(['-itv', '/a:/b', 'app']), 'app');
    assert.equal(image(['-e=A=1', 'app']), 'app');
    assert.equal(image(['-d=false', 'app']), 'app');
  });

  it('ends flags at --', () => {
    const parsed = parseRunArguments('create', ['-i', '--', '-weird-but-an-image']);
    assert.equal(parsed.image, '-weird-but-an-image');
    assert.deepEqual(withImage(parsed, 'x'), ['-i', '--', 'x']);
  });

  it('reads --pull and --platform, the last one given', () => {
    const parsed = parseRunArguments('run', [
      '--pull=never',
      '--pull',
      'always',
      '--platform',
      'linux/arm64',
      'app',
    ]);
    assert.equal(parsed.pull, 'always');
    assert.equal(parsed.platform, 'linux/arm64');
    assert.equal(parseRunArguments('run', ['app']).pull, 'missing');
  });

  it('treats --help as help, with or without an image', () => {
    assert.equal(parseRunArguments('run', ['--help']).help, true);
    assert.equal(parseRunArguments('run', ['--rm', '--help', 'app']).help, true);
    assert.equal(parseRunArguments('run', ['--help=false', 'app']).help, false);
  });

  it('refuses what would make the image uncertain, with the flag named', () => {
    const refused = (args: string[], flag: RegExp): void => {
      assert.throws(
        () => parseRunArguments('run', args),
        (err: unknown) =>
          err instanceof InvalidInputError &&
          err.code === 'NV2_ERR_INVALID_ARGUMENT' &&
          flag.test(err.message),
      );
    };
    refused(['--no-such-flag', 'value', 'app'], /--no-such-flag=VALUE/);
    refused(['-x', 'app'], /'x'/);
    refused(['--name'], /--name/);
    refused(['-itv'], /-v/);
    refused(['--pull', 'sometimes', 'app'], /always, missing or never/);
    refused(['--rm'], /needs an image/);
    // A flag docker does not know is fine once its value is attached.
    assert.equal(image(['--no-such-flag=value', 'app']), 'app');
  });
});
