// Bundles the CLI into dist/cli/ so that `nv2` starts fast: one module graph to load
// instead of hundreds of files. Code needed only by some commands (certificate issuing)
// stays in lazily loaded chunks. The library itself is shipped unbundled by tsc.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
rmSync(new URL('../dist/cli/chunks', import.meta.url), { recursive: true, force: true });

/** What both executables are bundled with. */
const common = {
  outdir: 'dist/cli',
  bundle: true,
  format: 'esm',
  platform: 'node',
  // Prefer the ESM builds of dependencies: they load faster and tree-shake.
  mainFields: ['module', 'main'],
  target: 'node22.12',
  minify: true,
  keepNames: true,
  sourcemap: true,
  define: { NV2_VERSION: JSON.stringify(version) },
  // Bundled CommonJS dependencies call require(); give them one.
  banner: {
    js: "import { createRequire as __nv2CreateRequire } from 'node:module'; const require = __nv2CreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
  // The PKCS#11 binding is a native addon, loaded from node_modules only when a pkcs11: key is used.
  external: ['pkcs11js'],
};

// `nv2`: split, so that code only some commands need loads when they run.
await build({
  ...common,
  entryPoints: { main: 'src/cli/main.ts' },
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
});

// The docker CLI plugin (`docker-nv2`): a second, separate entry with its own bundle.
await build({ ...common, entryPoints: { 'docker-nv2': 'src/cli/docker-nv2.ts' } });
