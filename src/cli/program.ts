import { Command, CommanderError } from 'commander';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { formatError } from './output.js';

/** The CLI version, set at build time from package.json. */
declare const NV2_VERSION: string | undefined;
const VERSION = typeof NV2_VERSION === 'string' ? NV2_VERSION : '0.0.0-dev';

type Register = (program: Command) => void;

/**
 * Every top-level command, in the order help lists them: its names and the module that
 * registers it. Modules are imported only when needed (the bundle puts each in its own chunk),
 * so that `nv2 verify` loads verification and not the registry server, the admission webhook
 * or certificate issuing: start-up time is mostly module loading.
 */
const COMMANDS: readonly (readonly [readonly string[], () => Promise<Register>])[] = [
  // The demo plays real command lines, so it is handed `run` (it does not import this file).
  [
    ['demo'],
    async () => {
      const { registerDemo } = await import('./commands/demo.js');
      return (program) => registerDemo(program, run);
    },
  ],
  [['cert'], async () => (await import('./commands/cert.js')).registerCert],
  [['sign'], async () => (await import('./commands/sign.js')).registerSign],
  [['verify'], async () => (await import('./commands/verify.js')).registerVerify],
  [['key'], async () => (await import('./commands/key.js')).registerKey],
  [['plugin'], async () => (await import('./commands/plugin.js')).registerPlugin],
  [['trust'], async () => (await import('./commands/trust.js')).registerTrust],
  [['policy'], async () => (await import('./commands/policy.js')).registerPolicy],
  [['inspect'], async () => (await import('./commands/inspect.js')).registerInspect],
  [['list'], async () => (await import('./commands/list.js')).registerList],
  [['discover'], async () => (await import('./commands/discover.js')).registerDiscover],
  [['push'], async () => (await import('./commands/push.js')).registerPush],
  [['pull'], async () => (await import('./commands/pull.js')).registerPull],
  [['copy'], async () => (await import('./commands/copy.js')).registerCopy],
  [['attach'], async () => (await import('./commands/attach.js')).registerAttach],
  [['login', 'logout'], async () => (await import('./commands/login.js')).registerLogin],
  [['registry'], async () => (await import('./commands/registry.js')).registerRegistry],
  [['generate'], async () => (await import('./commands/generate.js')).registerGenerate],
  [['docker'], async () => (await import('./commands/docker.js')).registerDocker],
  [['admission'], async () => (await import('./commands/admission.js')).registerAdmission],
];

/** Options of the program itself; none takes a value, so the first other word is a command. */
const VERSION_FLAGS = new Set(['-v', '--version']);
const HELP_FLAGS = new Set(['-h', '--help']);

/**
 * Which commands `argv` needs registered: only the one it names when it names a known one,
 * none for a bare `--version`, and all of them otherwise (help, no command, an unknown or
 * misspelt one, which commander answers with its suggestions from the full list).
 */
function commandsFor(argv: readonly string[]): (typeof COMMANDS)[number][] {
  const word = argv.find((arg) => !arg.startsWith('-'));
  if (word === undefined) {
    const versionOnly =
      argv.some((arg) => VERSION_FLAGS.has(arg)) && !argv.some((arg) => HELP_FLAGS.has(arg));
    return versionOnly ? [] : [...COMMANDS];
  }
  const named = COMMANDS.find(([names]) => names.includes(word));
  return named === undefined ? [...COMMANDS] : [named];
}

/**
 * Builds the `nv2` command tree (every command, or those of `argv` when given). Commands
 * parse flags, call the library and print.
 */
export async function createProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command('nv2')
    .description('Sign and verify OCI artifacts with x509 certificates (Notary v2)')
    .version(VERSION, '-v, --version', 'print the version')
    .option('--debug', 'print stack traces and causes with errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const wanted = argv === undefined ? [...COMMANDS] : commandsFor(argv);
  const registers = await Promise.all(wanted.map(([, load]) => load()));
  for (const register of registers) register(program);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    const program = await createProgram(argv);
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
