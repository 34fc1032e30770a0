/** docs/errors.md documents every error code, and nothing that is not one (fastify's habit). */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { CODES } from '../../src/errors.js';
import { ExitCode } from '../../src/cli/exit-codes.js';

const DOC = new URL('../../../docs/errors.md', import.meta.url);

describe('docs/errors.md', async () => {
  const text = await readFile(DOC, 'utf8');
  const documented = new Set(
    [...text.matchAll(/^\|\s*`(NV2_ERR_[A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]),
  );

  it('documents every code', () => {
    assert.deepEqual(
      CODES.filter((c) => !documented.has(c)),
      [],
    );
  });

  it('documents no code that does not exist', () => {
    assert.deepEqual(
      [...documented].filter((c) => !(CODES as readonly (string | undefined)[]).includes(c)),
      [],
    );
  });

  it('lists every exit code', () => {
    for (const code of Object.values(ExitCode))
      assert.match(text, new RegExp(`^\\|\\s*${code}\\s*\\|`, 'm'));
  });
});
