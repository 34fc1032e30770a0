#!/usr/bin/env node
// The `nv2` executable: the only code that reads process.argv and sets the exit code.
import { run } from './program.js';

process.exitCode = await run(process.argv.slice(2));
