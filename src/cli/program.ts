import { Command, CommanderError } from 'commander';
import { registerAttach } from './commands/attach.js';
import { registerAdmission } from './commands/admission.js';
import { registerCert } from './commands/cert.js';
import { registerCopy } from './commands/copy.js';
import { registerDiscover } from './commands/discover.js';
import { registerDocker } from './commands/docker.js';
import { registerGenerate } from './commands/generate.js';
import { registerList } from './commands/list.js';
import { registerLogin } from './commands/login.js';
import { registerPull } from './commands/pull.js';
import { registerPolicy } from './commands/policy.js';
import { registerPush } from './commands/push.js';
import { registerDemo } from './commands/demo.js';
import { registerInspect } from './commands/inspect.js';
import { registerKey } from './commands/key.js';
import { registerPlugin } from './commands/plugin.js';
import { registerRegistry } from './commands/registry.js';
import { registerSign } from './commands/sign.js';
import { registerTrust } from './commands/trust.js';
import { registerVerify } from './commands/verify.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { formatError } from './output.js';

/** The CLI version, set at build time from package.json. */
declare const NV2_VERSION: string | undefined;
const VERSION = typeof NV2_VERSION === 'string' ? NV2_VERSION : '0.0.0-dev';

/** Builds the `nv2` command tree. Commands parse flags, call the library and print. */
export function createProgram(): Command {
  const program = new Command('nv2')
    .description('Sign and verify OCI artifacts with x509 certificates (Notary v2)')
    .version(VERSION, '-v, --version', 'print the version')
    .option('--debug', 'print stack traces and causes with errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerDemo(program);
  registerCert(program);
  registerSign(program);
  registerVerify(program);
  registerKey(program);
  registerPlugin(program);
  registerTrust(program);
  registerPolicy(program);
  registerInspect(program);
  registerList(program);
  registerDiscover(program);
  registerPush(program);
  registerPull(program);
  registerCopy(program);
  registerAttach(program);
  registerLogin(program);
  registerRegistry(program);
  registerGenerate(program);
  registerDocker(program);
  registerAdmission(program);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; commander has already printed its one-line usage error.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    process.stderr.write(formatError(err, debug));
    return exitCodeFor(err);
  }
}
