// Bundles the CLI into dist/cli/ so that `nv2` starts fast: one module graph to load
// instead of hundreds of files. Code needed only by some commands (certificate issuing)
// stays in lazily loaded chunks. The library itself is shipped unbundled by tsc.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
rmSync(new URL('../dist/cli/chunks', import.meta.url), { recursive: true, force: true });

await build({
  entryPoints: { main: 'src/cli/main.ts' },
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  // Prefer the ESM builds of dependencies: they load faster and tree-shake.
  mainFields: ['module', 'main'],
  target: 'node20',
  minify: true,
  keepNames: true,
  sourcemap: true,
  define: { NV2_VERSION: JSON.stringify(version) },
  // Bundled CommonJS dependencies call require(); give them one.
  banner: {
    js: "import { createRequire as __nv2CreateRequire } from 'node:module'; const require = __nv2CreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

// The docker CLI plugin (`docker-nv2`): a second, separate entry with its own bundle.
await build({
  entryPoints: { 'docker-nv2': 'src/cli/docker-nv2.ts' },
  outdir: 'dist/cli',
  bundle: true,
  format: 'esm',
  platform: 'node',
  mainFields: ['module', 'main'],
  target: 'node20',
  minify: true,
  keepNames: true,
  sourcemap: true,
  define: { NV2_VERSION: JSON.stringify(version) },
  banner: {
    js: "import { createRequire as __nv2CreateRequire } from 'node:module'; const require = __nv2CreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
