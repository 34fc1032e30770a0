/**
 * The module layout as data (STYLE.md, "What may import what"), checked against the imports
 * actually written under src/. A violation names the file and line.
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');

/** Which internal modules each module may import (`errors` is allowed everywhere). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  http: [],
  index: ['oci', 'content', 'signature', 'x509', 'trust', 'policy', 'verification'],
  oci: [],
  content: ['oci'],
  signature: ['oci'],
  x509: [],
  trust: ['oci', 'signature', 'x509'],
  notation: ['oci', 'signature', 'x509', 'trust', 'http', 'plugins'],
  policy: ['oci', 'content', 'signature', 'x509', 'trust', 'notation'],
  // The registry judges its content under a trust policy (UI verdicts, enforcement at pull).
  registry: ['oci', 'content', 'trust', 'policy', 'notary', 'verification'],
  remote: ['oci', 'content', 'http'],
  notary: ['oci', 'content', 'signature', 'x509', 'trust', 'notation', 'policy'],
  verification: ['oci', 'content', 'signature', 'x509', 'trust', 'notation', 'policy', 'notary'],
  plugins: ['signature'],
  keys: ['content', 'signature', 'x509', 'plugins'],
  admission: ['oci', 'content', 'x509', 'trust', 'policy', 'verification', 'remote', 'http'],
  docker: [
    'oci',
    'content',
    'signature',
    'x509',
    'trust',
    'policy',
    'notary',
    'verification',
    'remote',
  ],
  cli: [
    'http',
    'oci',
    'content',
    'signature',
    'x509',
    'trust',
    'notation',
    'policy',
    'registry',
    'remote',
    'notary',
    'verification',
    'keys',
    'plugins',
    'admission',
    'docker',
  ],
};

/** Third-party packages each module may import. */
const ALLOWED_PACKAGES: Readonly<Record<string, readonly string[]>> = {
  x509: ['@peculiar/asn1-schema', '@peculiar/asn1-x509', '@peculiar/x509', 'reflect-metadata'],
  notation: [
    'cbor2',
    '@peculiar/asn1-cms',
    '@peculiar/asn1-ocsp',
    '@peculiar/asn1-schema',
    '@peculiar/asn1-tsp',
    '@peculiar/asn1-x509',
  ],
  keys: ['pkcs11js'],
  registry: [
    'jose',
    'bcryptjs',
    '@aws-sdk/client-s3',
    '@aws-sdk/s3-request-presigner',
    'pg',
    // Resumable SHA-256 of upload sessions whose chunks reach several replicas.
    'hash-wasm',
    // The server entry (registry/server/): metrics and the configuration file.
    'prom-client',
    'yaml',
  ],
  docker: ['tar-stream'],
  admission: ['prom-client'],
  cli: ['commander', 'yaml', 'tar-stream'],
};

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

function moduleOf(file: string): string {
  const rel = relative(ROOT, file).split('/');
  return rel.length === 1 ? rel[0]!.replace(/\.[jt]s$/, '') : rel[0]!;
}

/** Source lines with comments blanked out, so that JSDoc examples do not count as code. */
async function codeLines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8'))
    .split('\n')
    .map((line) => (/^\s*(\*|\/\*|\/\/)/.test(line) ? '' : line));
}

/**
 * Files other modules may import besides index.ts files: constants a face needs without
 * loading the module (the registry's defaults, shown in `nv2 registry --help`).
 */
const LIGHT_ENTRIES: ReadonlySet<string> = new Set(['registry/server/defaults.js']);

const IMPORT = /(?:^|\s)(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

/**
 * Import circles allowed for now, each as its files sorted and joined by ' <-> ', with the
 * reason. Empty: any circle in src/ fails the test.
 */
const ALLOWED_CIRCLES: ReadonlySet<string> = new Set<string>([]);

/**
 * The import graph of src/: every file to the files it imports, type-only and lazy imports
 * included (a circle of types is still two files that cannot be understood one without the
 * other).
 */
async function importGraph(files: readonly string[]): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = new Set<string>();
    for (const line of await codeLines(file)) {
      for (const m of line.matchAll(IMPORT)) {
        const spec = m[1] ?? m[2]!;
        if (spec.startsWith('.')) targets.add(resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
      }
    }
    graph.set(
      file,
      [...targets].filter((t) => t !== file),
    );
  }
  return graph;
}

/** The strongly connected components of more than one file (Tarjan), each sorted. */
function circles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('architecture', async () => {
  const files = await sourceFiles(ROOT);

  it('every top-level module is in the table', () => {
    for (const file of files)
      assert.ok(moduleOf(file) in ALLOWED, `${relative(ROOT, file)}: module not in the table`);
  });

  it('modules import only what the table allows, through index.ts', async () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = moduleOf(file);
      const lines = await codeLines(file);
      lines.forEach((line, i) => {
        for (const m of line.matchAll(IMPORT)) {
          const spec = m[1] ?? m[2]!;
          const where = `${relative(ROOT, file)}:${i + 1}: ${spec}`;
          if (spec.startsWith('node:')) continue;
          if (!spec.startsWith('.')) {
            const pkg = spec.startsWith('@')
              ? spec.split('/').slice(0, 2).join('/')
              : spec.split('/')[0]!;
            if (!(ALLOWED_PACKAGES[from] ?? []).includes(pkg))
              violations.push(`${where} (package not allowed in ${from})`);
            continue;
          }
          const target = relative(ROOT, resolve(dirname(file), spec));
          const to = moduleOf(join(ROOT, target));
          if (to === from || to === 'errors') continue;
          if (!(ALLOWED[from] ?? []).includes(to))
            violations.push(`${where} (${from} may not import ${to})`);
          else if (
            target.split('/').length > 1 &&
            !target.endsWith('/index.js') &&
            !LIGHT_ENTRIES.has(target)
          ) {
            violations.push(`${where} (import ${to} through its index.ts)`);
          }
        }
      });
    }
    assert.deepEqual(violations, []);
  });

  it('no import circles among the files of src/', async () => {
    const found = circles(await importGraph(files))
      .map((component) => component.map((f) => relative(ROOT, f)).join(' <-> '))
      .filter((circle) => !ALLOWED_CIRCLES.has(circle));
    assert.deepEqual(found, []);
  });

  it('the circle finder finds a circle', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
    ]);
    assert.deepEqual(circles(graph), [['a', 'b', 'c']]);
  });

  it('docs/architecture.md names every module of the table', async () => {
    const doc = await readFile(resolve(ROOT, '../docs/architecture.md'), 'utf8');
    const missing = Object.keys(ALLOWED).filter(
      (module) =>
        !['errors', 'index'].includes(module) &&
        !doc.includes(`\`${module}/\``) &&
        !doc.includes(`\`${module}\``),
    );
    assert.deepEqual(missing, []);
  });

  it('library modules do not print, exit or read argv', async () => {
    const violations: string[] = [];
    for (const file of files) {
      if (moduleOf(file) === 'cli') continue;
      const text = (await codeLines(file)).join('\n');
      for (const banned of [
        'console.',
        'process.exit',
        'process.argv',
        'process.stdout',
        'process.stdin',
      ]) {
        if (text.includes(banned)) violations.push(`${relative(ROOT, file)}: ${banned}`);
      }
    }
    assert.deepEqual(violations, []);
  });
});
