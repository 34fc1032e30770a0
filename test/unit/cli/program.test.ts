import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgram } from '../../../src/cli/program.js';

const ALL = [
  'demo',
  'cert',
  'sign',
  'verify',
  'key',
  'plugin',
  'trust',
  'policy',
  'inspect',
  'list',
  'discover',
  'push',
  'pull',
  'copy',
  'attach',
  'login',
  'logout',
  'registry',
  'generate',
  'docker',
  'admission',
];

async function names(argv?: readonly string[]): Promise<string[]> {
  return (await createProgram(argv)).commands.map((c) => c.name());
}

describe('createProgram', () => {
  it('registers every command, in help order, without argv', async () => {
    assert.deepEqual(await names(), ALL);
  });

  it('registers only the command argv names, after global options', async () => {
    assert.deepEqual(await names(['verify', '-f', 'sig.jwt', 'file:m.json']), ['verify']);
    assert.deepEqual(await names(['--debug', 'cert', 'generate']), ['cert']);
  });

  it('registers login and logout together, from one module', async () => {
    assert.deepEqual(await names(['logout', 'example.com']), ['login', 'logout']);
  });

  it('registers nothing for a bare --version, and everything for help or an unknown command', async () => {
    assert.deepEqual(await names(['--version']), []);
    assert.deepEqual(await names(['-v', '--help']), ALL);
    assert.deepEqual(await names([]), ALL);
    assert.deepEqual(await names(['help', 'verify']), ALL);
    assert.deepEqual(await names(['verfy']), ALL);
  });

  it('gives every command and subcommand the exit override', async () => {
    const program = await createProgram(['verify']);
    const verify = program.commands[0]!;
    // With the override, a usage error throws instead of exiting the process.
    assert.throws(() => verify.parse(['--no-such-flag'], { from: 'user' }), {
      code: 'commander.unknownOption',
    });
  });
});
