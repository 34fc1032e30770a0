import { InvalidInputError } from '../errors.js';

/**
 * The flags of `docker run` and `docker create` that take a value, as the docker CLI (20.10
 * to 28) declares them in `cli/command/container/opts.go`, `run.go` and `create.go`,
 * including the hidden aliases `--net`, `--net-alias` and `--dns-opt`. Every other flag of
 * those commands is a switch. Long names without the dashes.
 */
const VALUE_FLAGS: ReadonlySet<string> = new Set([
  'add-host',
  'annotation',
  'attach',
  'blkio-weight',
  'blkio-weight-device',
  'cap-add',
  'cap-drop',
  'cgroup-parent',
  'cgroupns',
  'cidfile',
  'cpu-count',
  'cpu-percent',
  'cpu-period',
  'cpu-quota',
  'cpu-rt-period',
  'cpu-rt-runtime',
  'cpu-shares',
  'cpus',
  'cpuset-cpus',
  'cpuset-mems',
  'detach-keys',
  'device',
  'device-cgroup-rule',
  'device-read-bps',
  'device-read-iops',
  'device-write-bps',
  'device-write-iops',
  'dns',
  'dns-opt',
  'dns-option',
  'dns-search',
  'domainname',
  'entrypoint',
  'env',
  'env-file',
  'expose',
  'gpus',
  'group-add',
  'health-cmd',
  'health-interval',
  'health-retries',
  'health-start-interval',
  'health-start-period',
  'health-timeout',
  'hostname',
  'io-maxbandwidth',
  'io-maxiops',
  'ip',
  'ip6',
  'ipc',
  'isolation',
  'kernel-memory',
  'label',
  'label-file',
  'link',
  'link-local-ip',
  'log-driver',
  'log-opt',
  'mac-address',
  'memory',
  'memory-reservation',
  'memory-swap',
  'memory-swappiness',
  'mount',
  'name',
  'net',
  'net-alias',
  'network',
  'network-alias',
  'oom-score-adj',
  'pid',
  'pids-limit',
  'platform',
  'publish',
  'pull',
  'restart',
  'runtime',
  'security-opt',
  'shm-size',
  'stop-signal',
  'stop-timeout',
  'storage-opt',
  'sysctl',
  'tmpfs',
  'ulimit',
  'user',
  'userns',
  'uts',
  'volume',
  'volume-driver',
  'volumes-from',
  'workdir',
]);

/** The switches of `docker run` / `docker create` (20.10 to 28). */
const SWITCHES: ReadonlySet<string> = new Set([
  'detach',
  'disable-content-trust',
  'help',
  'init',
  'interactive',
  'no-healthcheck',
  'oom-kill-disable',
  'privileged',
  'publish-all',
  'quiet',
  'read-only',
  'rm',
  'sig-proxy',
  'tty',
  'use-api-socket',
]);

/** Single-letter flags: those that take a value, and switches. */
const SHORT_VALUE_FLAGS: Readonly<Record<string, string>> = {
  a: 'attach',
  c: 'cpu-shares',
  e: 'env',
  h: 'hostname',
  l: 'label',
  m: 'memory',
  p: 'publish',
  u: 'user',
  v: 'volume',
  w: 'workdir',
};
const SHORT_SWITCHES: Readonly<Record<string, string>> = {
  d: 'detach',
  i: 'interactive',
  P: 'publish-all',
  q: 'quiet',
  t: 'tty',
};

/** Docker's `--pull` policies for run and create. */
export type PullPolicy = 'always' | 'missing' | 'never';

/** A `docker run` / `docker create` command line, split where the image is. */
export interface RunArguments {
  /** Everything before the image, as given. */
  readonly flags: readonly string[];
  /** The image argument, as given. */
  readonly image: string;
  /** Where the image argument is in the argument list. */
  readonly imageIndex: number;
  /** The command and its arguments after the image, as given. */
  readonly command: readonly string[];
  /** `--pull` (the last one given), default `missing`. */
  readonly pull: PullPolicy;
  /** `--platform`, when given. */
  readonly platform?: string;
  /** `--help` was given: docker prints usage and runs nothing. */
  readonly help: boolean;
}

function usage(command: string, why: string): InvalidInputError {
  return new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `docker nv2 ${command}: ${why}`);
}

/**
 * Splits `docker run`/`docker create` arguments (`args`, without the command) the way the
 * docker CLI's flag parser (pflag, interspersed off) does: flags come first, `--flag value`,
 * `--flag=value`, short clusters such as `-it` or `-dp80:80`, `--` ends the flags, and the
 * first positional argument is the image; everything after it belongs to the container.
 *
 * A long flag docker 20.10 to 28 does not have is refused unless written `--flag=value`, so a
 * newer docker's flag can never make its value taken for the image.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT for an unknown flag, a missing value or
 *   a missing image (unless `--help` was given)
 */
export function parseRunArguments(command: string, args: readonly string[]): RunArguments {
  let pull: PullPolicy = 'missing';
  let platform: string | undefined;
  let help = false;
  const take = (name: string, value: string): void => {
    if (name === 'pull') {
      if (value !== 'always' && value !== 'missing' && value !== 'never') {
        throw usage(command, `--pull wants always, missing or never, got ${JSON.stringify(value)}`);
      }
      pull = value;
    } else if (name === 'platform') {
      platform = value;
    }
  };
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq === -1 ? undefined : eq);
      if (VALUE_FLAGS.has(name)) {
        if (eq !== -1) {
          take(name, arg.slice(eq + 1));
        } else {
          if (i + 1 >= args.length) throw usage(command, `flag needs an argument: --${name}`);
          take(name, args[++i]!);
        }
      } else if (SWITCHES.has(name)) {
        if (name === 'help' && (eq === -1 || arg.slice(eq + 1) !== 'false')) help = true;
      } else if (eq === -1) {
        throw usage(
          command,
          `unknown flag --${name}: write it as --${name}=VALUE (or --${name}=true) so the image can be found`,
        );
      }
      continue;
    }
    // A cluster of single-letter flags: switches, then at most one flag taking a value, whose
    // value is the rest of the cluster (`-p80:80`, `-e=A=B` as `A=B`) or the next argument.
    const cluster = arg.slice(1);
    for (let j = 0; j < cluster.length; j++) {
      const letter = cluster[j]!;
      const long = SHORT_VALUE_FLAGS[letter];
      if (long !== undefined) {
        let value = cluster.slice(j + 1);
        if (value.startsWith('=')) value = value.slice(1);
        if (value === '' && j + 1 === cluster.length) {
          if (i + 1 >= args.length) throw usage(command, `flag needs an argument: -${letter}`);
          value = args[++i]!;
        }
        take(long, value);
        break;
      }
      if (SHORT_SWITCHES[letter] === undefined) {
        throw usage(command, `unknown shorthand flag: '${letter}' in ${arg}`);
      }
      // pflag reads `-d=false` as the switch's value: nothing further in the cluster.
      if (cluster[j + 1] === '=') break;
    }
  }
  if (i >= args.length) {
    if (help) {
      return { flags: [...args], image: '', imageIndex: -1, command: [], pull, help };
    }
    throw usage(
      command,
      `needs an image: docker nv2 ${command} [OPTIONS] IMAGE [COMMAND] [ARG...]`,
    );
  }
  return {
    flags: args.slice(0, i),
    image: args[i]!,
    imageIndex: i,
    command: args.slice(i + 1),
    pull,
    ...(platform !== undefined ? { platform } : {}),
    help,
  };
}

/** The arguments with the image argument replaced by `image` (everything else kept). */
export function withImage(parsed: RunArguments, image: string): string[] {
  return [...parsed.flags, image, ...parsed.command];
}
