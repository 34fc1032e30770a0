#!/usr/bin/env node
// The `docker-nv2` executable, the docker CLI plugin: docker runs it as `docker-nv2 nv2 ARGS…`
// (and `docker-nv2 docker-cli-plugin-metadata` to learn what it is).
import { runPlugin } from '../docker/index.js';
import { exitCodeFor } from './exit-codes.js';
import { discardOutputToClosedPipes, formatError } from './output.js';

/** The version, set at build time from package.json. */
declare const NV2_VERSION: string | undefined;
const VERSION = typeof NV2_VERSION === 'string' ? NV2_VERSION : '0.0.0-dev';

discardOutputToClosedPipes();
const argv = process.argv.slice(2);
// Docker owns the plugin's flags; stack traces are asked for through the environment.
const debug = process.env.NV2_DEBUG === '1';
try {
  process.exitCode = await runPlugin(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    version: VERSION,
  });
} catch (err) {
  process.stderr.write(formatError(err, debug).replace(/^nv2:/, 'docker nv2:'));
  process.exitCode = exitCodeFor(err);
}
