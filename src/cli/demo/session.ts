/**
 * How the demo runs commands: each step is a real `nv2` command line, run in this process by
 * the same `run()` the `nv2` binary calls, with its output captured, shown indented under the
 * command, and checked against what the story expects. A step that does not behave as
 * expected stops the demo with an error (exit code 4): the demo doubles as an end-to-end test.
 */
import { Nv2Error } from '../../errors.js';
import { print } from '../output.js';

/** What a step expects of its command. */
export type Expectation = 'succeeds' | 'is refused';

/** What a command printed and how it exited. */
export interface CommandOutcome {
  readonly code: number;
  readonly output: string;
}

/** Runs `nv2 ARGS` in-process and returns its exit code (the CLI's `run`). */
export type CommandRunner = (argv: readonly string[]) => Promise<number>;

/** The width long output lines are wrapped at, so that hints stay readable. */
const WIDTH = 100;

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function wrap(line: string, indent: string): string[] {
  if (line.length + indent.length <= WIDTH) return [indent + line];
  const out: string[] = [];
  let current = '';
  for (const word of line.split(' ')) {
    if (current !== '' && indent.length + current.length + 1 + word.length > WIDTH) {
      out.push(indent + current);
      current = `  ${word}`;
    } else {
      current = current === '' ? word : `${current} ${word}`;
    }
  }
  if (current !== '') out.push(indent + current);
  return out;
}

type Write = typeof process.stdout.write;

/**
 * Runs `task` with everything written to standard output and standard error collected
 * instead of shown. The CLI writes with `process.stdout.write`, so this sees exactly what a
 * user would.
 */
async function captured(task: () => Promise<number>): Promise<CommandOutcome> {
  const chunks: string[] = [];
  const sink = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const callback = rest.find((r): r is () => void => typeof r === 'function');
    callback?.();
    return true;
  }) as Write;
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = sink;
  process.stderr.write = sink;
  try {
    const code = await task();
    return { code, output: chunks.join('') };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** The demo's transcript: numbered steps, commands with their output, and checks. */
export class DemoSession {
  private step = 0;
  private readonly runner: CommandRunner;
  /** Every command run, for `--keep`'s "try it yourself" and for tests. */
  readonly commands: string[] = [];

  constructor(runner: CommandRunner) {
    this.runner = runner;
  }

  /** Starts a numbered step of the story. */
  heading(title: string): void {
    this.step += 1;
    print();
    print(`${this.step}. ${title}`);
  }

  /** A line of narration under the current step. */
  say(text: string): void {
    for (const line of wrap(text, '   ')) print(line);
  }

  /**
   * Runs `nv2 ARGS`, shows it and its output, and checks the exit code against `expect`
   * (and, when given, that the output contains each of `mentions`). Returns the output.
   *
   * @throws Nv2Error NV2_ERR_DEMO_EXPECTATION when the command does not behave as the story says
   */
  async nv2(
    args: readonly string[],
    expect: Expectation,
    mentions: readonly string[] = [],
  ): Promise<string> {
    const line = ['nv2', ...args].map(quote).join(' ');
    this.commands.push(line);
    print(`   $ ${line}`);
    const { code, output } = await captured(() => this.runner(args));
    for (const text of output.replace(/\n$/, '').split('\n')) {
      // Messages (errors, warnings, hints) are long single lines: wrap them; leave tables and
      // trees as they are.
      if (text.startsWith('nv2:')) for (const l of wrap(text, '     ')) print(l);
      else if (text !== '') print(`     ${text}`);
    }
    const succeeded = code === 0;
    const missing = mentions.filter((m) => !output.includes(m));
    if (succeeded !== (expect === 'succeeds') || missing.length > 0) {
      const got = succeeded ? 'succeeded' : `failed with exit code ${code}`;
      throw new Nv2Error(
        'NV2_ERR_DEMO_EXPECTATION',
        `step ${this.step}: \`${line}\` ${got}, but the story expects that it ${expect}` +
          (missing.length > 0 ? ` and mentions ${missing.map((m) => `"${m}"`).join(', ')}` : ''),
      );
    }
    print(`   ✓ ${expect === 'succeeds' ? 'succeeded' : `refused (exit code ${code})`}`);
    return output;
  }
}
