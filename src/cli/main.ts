#!/usr/bin/env node
// The `nv2` executable: the only code that reads process.argv and sets the exit code.
import { discardOutputToClosedPipes } from './output.js';
import { run } from './program.js';

discardOutputToClosedPipes();

process.exitCode = await run(process.argv.slice(2));
