/**
 * A real container engine for the docker plugin's tests: podman's Docker-compatible API
 * (`podman system service`, Debian package podman) on a unix socket in a temporary
 * directory, with storage, configuration, events and registries of its own, driven by the
 * real docker client through `DOCKER_HOST=unix://…`.
 *
 * The configuration is what runs as root in a container or VM without every privilege:
 * - storage driver vfs (no overlay mounts needed);
 * - runtime runc when installed: crun refuses a hybrid cgroup v1/v2 hierarchy;
 * - cgroup manager cgroupfs (no systemd), events in a file;
 * - containers share the host's network namespace (no bridge or firewall set up);
 * - default ulimits at most 4096 open files and processes: podman's default (1048576) is
 *   above the hard limit here, and raising a limit needs CAP_SYS_RESOURCE, which a
 *   sandbox may withhold; lowering one never does.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { pack } from 'tar-stream';
import { tempDir } from './fixtures.js';

/** Where the Debian package installs podman. */
export const PODMAN_BINARY = '/usr/bin/podman';

/** Why podman tests cannot run here, or undefined when they can. */
export function podmanMissing(): string | undefined {
  if (!existsSync(PODMAN_BINARY)) {
    return `${PODMAN_BINARY} not found: install the Debian package podman`;
  }
  if (process.getuid?.() !== 0) return 'podman as a container engine needs root here';
  return undefined;
}

/** A running podman API service. */
export interface RunningPodman {
  /** `unix:///…/podman.sock`, for `DOCKER_HOST`. */
  readonly dockerHost: string;
  /** The service's own directory (storage, configuration, events). */
  readonly dir: string;
  /** `GET path` on the engine's API, its JSON answer. */
  api(path: string): Promise<unknown>;
  /** Stops the service (SIGTERM, then waits for it to exit). */
  close(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** The most the service is waited for before a test gives up on it. */
const START_ATTEMPTS = 300;
/** The cap on the containers' open files and processes (see the module comment). */
const ULIMIT_CAP = 4096;

/** The hard limit named `label` of this process (`/proc/self/limits`), capped. */
async function cappedLimit(label: string): Promise<number> {
  const text = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const line = text.split('\n').find((l) => l.startsWith(label));
  const hard = line?.slice(label.length).trim().split(/\s+/)[1];
  const value = hard !== undefined && /^\d+$/.test(hard) ? Number(hard) : ULIMIT_CAP;
  return Math.min(value, ULIMIT_CAP);
}

function get(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Starts podman's Docker API service with registries `insecureRegistries` (`host:port`)
 * spoken to over plain HTTP.
 */
export async function startPodman(insecureRegistries: readonly string[]): Promise<RunningPodman> {
  const dir = await tempDir();
  const socket = join(dir, 'podman.sock');
  for (const sub of ['run', 'root', 'tmp', 'xdg', 'volumes']) await mkdir(join(dir, sub));
  await writeFile(
    join(dir, 'storage.conf'),
    `[storage]\ndriver = "vfs"\nrunroot = "${join(dir, 'run')}"\ngraphroot = "${join(dir, 'root')}"\n`,
  );
  const nofile = await cappedLimit('Max open files');
  const nproc = await cappedLimit('Max processes');
  const runtime = existsSync('/usr/sbin/runc') || existsSync('/usr/bin/runc') ? 'runc' : 'crun';
  await writeFile(
    join(dir, 'containers.conf'),
    [
      '[containers]',
      'netns = "host"',
      `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${join(dir, 'events.log')}"`,
      `runtime = "${runtime}"`,
      `tmp_dir = "${join(dir, 'tmp')}"`,
      `volume_path = "${join(dir, 'volumes')}"`,
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'registries.conf'),
    [
      'unqualified-search-registries = []',
      ...insecureRegistries.flatMap((r) => [
        '[[registry]]',
        `location = "${r}"`,
        'insecure = true',
      ]),
      '',
    ].join('\n'),
  );
  const child = spawn(PODMAN_BINARY, ['system', 'service', '--time=0', `unix://${socket}`], {
    env: {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
      CONTAINERS_CONF: join(dir, 'containers.conf'),
      CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
      XDG_RUNTIME_DIR: join(dir, 'xdg'),
      TMPDIR: join(dir, 'tmp'),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  const errors: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => errors.push(c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    running.delete(child);
  };
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) {
      throw new Error(`podman system service exited: ${Buffer.concat(errors).toString()}`);
    }
    const ping = await get(socket, '/_ping').catch(() => undefined);
    if (ping?.status === 200) break;
    if (attempt === START_ATTEMPTS) {
      await close();
      throw new Error(`podman system service did not answer: ${Buffer.concat(errors).toString()}`);
    }
    await wait(100);
  }
  return {
    dockerHost: `unix://${socket}`,
    dir,
    async api(path) {
      const answer = await get(socket, path);
      if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${answer.body}`);
      return JSON.parse(answer.body) as unknown;
    },
    close,
  };
}

function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function tarOf(
  entries: readonly { name: string; data?: string; linkname?: string }[],
): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  for (const e of entries) {
    if (e.linkname !== undefined) {
      archive.entry({ name: e.name, type: 'symlink', linkname: e.linkname });
    } else if (e.data === undefined) {
      archive.entry({ name: e.name, type: 'directory' });
    } else {
      archive.entry({ name: e.name, size: Buffer.byteLength(e.data) }, e.data);
    }
  }
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** What containers made from a runnable image bind-mount: the host's programs, read only. */
export const HOST_USR = ['-v', '/usr:/usr:ro'];

/**
 * An OCI layout in `dir` holding one runnable image tagged `tag`: a single small layer with
 * `/etc/message` (`message`) and the merged-/usr links (`/bin`, `/lib`, `/lib64` into
 * `/usr`), whose default command prints the message. Its programs are the host's: run it
 * with `HOST_USR`. The layer is an uncompressed tar, so its digests survive every copy.
 */
export async function writeRunnableImage(
  dir: string,
  tag: string,
  message: string,
): Promise<{ digest: string }> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const blob = async (data: Buffer): Promise<{ digest: string; size: number }> => {
    const digest = sha256(data);
    await writeFile(join(blobs, digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const layer = await blob(
    await tarOf([
      { name: 'bin', linkname: 'usr/bin' },
      { name: 'lib', linkname: 'usr/lib' },
      { name: 'lib64', linkname: 'usr/lib64' },
      { name: 'usr/' },
      { name: 'etc/' },
      { name: 'etc/message', data: `${message}\n` },
    ]),
  );
  const config = await blob(
    Buffer.from(
      JSON.stringify({
        architecture: process.arch === 'x64' ? 'amd64' : process.arch,
        os: 'linux',
        config: { Cmd: ['/usr/bin/cat', '/etc/message'] },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = await blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return { digest: manifest.digest };
}
