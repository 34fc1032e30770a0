#!/usr/bin/env node
// The `nv2` executable: the only code that reads process.argv and sets the exit code.
import { enableStartupCompileCache } from './compile-cache.js';

// Before anything else is loaded, so that the rest of the CLI comes from the compile cache.
enableStartupCompileCache();
const { discardOutputToClosedPipes } = await import('./output.js');
const { run } = await import('./program.js');

discardOutputToClosedPipes();

process.exitCode = await run(process.argv.slice(2));
