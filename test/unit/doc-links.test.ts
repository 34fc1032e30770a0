/**
 * The README, docs/ and the test vectors' READMEs link only to files that exist inside the
 * repository (or to the web): a clone on its own has every page they point to.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Markdown files of `dir` (relative to the root), recursively when `deep`. */
async function markdown(dir: string, deep: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && deep) out.push(...(await markdown(path, deep)));
    else if (entry.isFile() && entry.name.endsWith('.md')) out.push(path);
  }
  return out.sort();
}

/** The targets of the inline links `[text](target)` of a Markdown text, code excluded. */
function links(text: string): string[] {
  const prose = text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

describe('links in the documentation', async () => {
  const files = [
    'README.md',
    ...(await markdown('docs', false)),
    ...(await markdown(join('test', 'vectors'), true)),
  ];

  it('finds the documents', () => {
    assert.ok(files.includes(join('docs', 'signature-format.md')));
    assert.ok(files.includes(join('docs', 'artifact-layout.md')));
    assert.ok(files.includes(join('test', 'vectors', 'README.md')));
  });

  for (const file of files) {
    it(`${file} links only inside the repository`, async () => {
      const text = await readFile(join(ROOT, file), 'utf8');
      for (const target of links(text)) {
        if (/^(https?:|mailto:|#)/.test(target)) continue;
        const path = resolve(ROOT, dirname(file), target.replace(/#.*$/, ''));
        const inside = relative(ROOT, path);
        assert.ok(
          inside !== '' && !inside.startsWith('..') && !inside.startsWith(sep),
          `${file}: ${target} points outside the repository`,
        );
        assert.ok(existsSync(path), `${file}: ${target} does not exist`);
      }
    });
  }
});
