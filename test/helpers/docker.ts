/**
 * Docker for the plugin's tests: the real docker client (for plugin discovery and the
 * handshake), a recording stand-in `docker` for engine calls (pull, push, tag, save), which
 * no engine answers in CI, and `docker save` archives in both layouts made here.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { delimiter, join, relative } from 'node:path';
import { pack } from 'tar-stream';
import type { CliResult } from './cli.js';
import { writeImageLayout } from './oci-layout.js';

/** The real docker client on PATH, or undefined. */
export function realDocker(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(dir, 'docker');
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The stand-in: records each call's arguments as a JSON line in `$STANDIN_LOG`, and answers
 * as docker does. `pull` and `tag` succeed; `push` prints docker's progress and its
 * `<tag>: digest: … size: N` line from `$STANDIN_PUSH_DIGEST`/`$STANDIN_PUSH_SIZE`; `save`
 * writes `$STANDIN_SAVE_ARCHIVE`; `exit-with N` exits N; anything else prints its arguments.
 */
const STAND_IN = `
const { appendFileSync, createReadStream } = require('node:fs');
const args = process.argv.slice(2);
appendFileSync(process.env.STANDIN_LOG, JSON.stringify(args) + '\\n');
const [command, ...rest] = args;
const image = rest.filter((a) => !a.startsWith('-')).pop() ?? '';
if (command === 'pull') {
  process.stdout.write(image + ': Pulling from stand-in\\nStatus: Downloaded newer image for ' + image + '\\n');
} else if (command === 'tag') {
  // docker tag prints nothing
} else if (command === 'push') {
  const colon = image.lastIndexOf(':');
  const tag = colon > image.lastIndexOf('/') ? image.slice(colon + 1) : 'latest';
  process.stdout.write('The push refers to repository [' + image + ']\\n5f70bf18a086: Pushed\\n');
  process.stdout.write(tag + ': digest: ' + process.env.STANDIN_PUSH_DIGEST + ' size: ' + process.env.STANDIN_PUSH_SIZE + '\\n');
} else if (command === 'save') {
  if (!process.env.STANDIN_SAVE_ARCHIVE) {
    process.stderr.write('Error response from daemon: reference does not exist\\n');
    process.exit(1);
  }
  createReadStream(process.env.STANDIN_SAVE_ARCHIVE).pipe(process.stdout);
} else if (command === 'exit-with') {
  process.exit(Number(rest[0]));
} else {
  process.stdout.write('stand-in docker ' + args.join(' ') + '\\n');
}
`;

/** A stand-in docker in `dir`/bin, logging to `dir`/docker.log. */
export interface DockerStandIn {
  /** The directory to put first on PATH. */
  readonly bin: string;
  readonly logFile: string;
  /** The calls so far, each its argument list. */
  calls(): Promise<string[][]>;
}

export async function makeDockerStandIn(dir: string): Promise<DockerStandIn> {
  const bin = join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  const script = join(bin, 'docker');
  await writeFile(script, `#!${process.execPath}\n${STAND_IN}`);
  await chmod(script, 0o755);
  const logFile = join(dir, 'docker.log');
  await writeFile(logFile, '');
  return {
    bin,
    logFile,
    async calls() {
      const text = await readFile(logFile, 'utf8');
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as string[]);
    },
  };
}

/** Runs a program with an environment of its own. */
export function runWithEnv(
  command: string,
  args: readonly string[],
  env: Record<string, string | undefined>,
  stdin?: Buffer,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function tarOf(
  entries: readonly { name: string; data?: Buffer; linkname?: string }[],
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
    } else {
      archive.entry({ name: e.name, size: e.data!.length }, e.data!);
    }
  }
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A classic `docker save` archive: what it holds, and what its manifest must describe. */
export interface ClassicArchive {
  readonly tar: Buffer;
  readonly config: { digest: string; size: number };
  readonly layers: readonly { digest: string; size: number; gzip: boolean }[];
}

/**
 * A classic `docker save` archive (docker before 25) of `name`: `manifest.json`,
 * `repositories`, `<config id>.json`, `<id>/layer.tar` per layer (one plain tar, one
 * gzip-compressed), a third layer repeating the first through a symlink, as docker writes.
 */
export async function classicArchive(name: string): Promise<ClassicArchive> {
  const layerA = await tarOf([{ name: 'etc/hello', data: Buffer.from('hello\n') }]);
  const { gzipSync } = await import('node:zlib');
  const layerB = gzipSync(await tarOf([{ name: 'bin/tool', data: Buffer.from('#!/bin/sh\n') }]));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layerA)}`] },
    }),
  );
  const configId = sha256(config);
  const idA = sha256(Buffer.from('a'));
  const idB = sha256(Buffer.from('b'));
  const idC = sha256(Buffer.from('c'));
  const manifest = [
    {
      Config: `${configId}.json`,
      RepoTags: [name],
      Layers: [`${idA}/layer.tar`, `${idB}/layer.tar`, `${idC}/layer.tar`],
    },
  ];
  const tar = await tarOf([
    { name: `${idA}/layer.tar`, data: layerA },
    { name: `${idB}/layer.tar`, data: layerB },
    { name: `${idC}/layer.tar`, linkname: `../${idA}/layer.tar` },
    { name: `${configId}.json`, data: config },
    { name: 'repositories', data: Buffer.from('{}') },
    { name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) },
  ]);
  const a = { digest: `sha256:${sha256(layerA)}`, size: layerA.length, gzip: false };
  return {
    tar,
    config: { digest: `sha256:${configId}`, size: config.length },
    layers: [a, { digest: `sha256:${sha256(layerB)}`, size: layerB.length, gzip: true }, a],
  };
}

/**
 * An OCI `docker save` archive (docker 25 and later) of `name`: an OCI image layout (made in
 * `dir`) packed with tar, its index entry annotated with the image name, plus the classic
 * `manifest.json` docker also writes. Returns the archive and the manifest's bytes.
 */
export async function ociArchive(
  dir: string,
  name: string,
): Promise<{ tar: Buffer; manifest: Buffer; digest: string }> {
  const descriptor = await writeImageLayout(dir, { tag: 'v1', layers: 2, layerSize: 4096 });
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: { annotations: Record<string, string> }[];
  };
  index.manifests[0]!.annotations['io.containerd.image.name'] = name;
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  const manifestBytes = await readFile(join(dir, 'blobs', 'sha256', descriptor.digest.slice(7)));
  const entries: { name: string; data: Buffer }[] = [];
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path)) {
      const full = join(path, entry);
      if ((await stat(full)).isDirectory()) await walk(full);
      else entries.push({ name: relative(dir, full), data: await readFile(full) });
    }
  };
  await walk(dir);
  entries.push({
    name: 'manifest.json',
    data: Buffer.from(JSON.stringify([{ Config: 'blobs/sha256/x', RepoTags: [name], Layers: [] }])),
  });
  return { tar: await tarOf(entries), manifest: manifestBytes, digest: descriptor.digest };
}
