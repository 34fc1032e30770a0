/**
 * `npm run bench:registry`, second part: what judging content under a trust policy costs the
 * registry.
 *
 * - Manifest GET by tag of a signed image, enforcement on (the verdict cached) against
 *   enforcement off: two `nv2 registry serve` processes with the same users and trust policy,
 *   one enforcing `bench/*`, driven alternately for ROUNDS rounds by a closed loop of
 *   CONCURRENCY keep-alive requests (undici); goal: the ratio on/off within 10 %.
 * - The first pull of a newly signed image (the verdict computed: signature read from storage,
 *   chain built, checks run): the server's own duration of that request, from its JSON access
 *   log; goal under 20 ms.
 * - Web UI pages: a repository of TAG_COUNT tags (each a distinct image) and a subject with
 *   REFERRER_COUNT referrers, each the first time (facts and verdicts computed) and then
 *   warm; the server's own durations from its access log; goal for the tags page under 100 ms.
 *
 * Servers run on core 0, this process on core 1 (`taskset`, when there are two cores).
 * Nothing asserts on time: a missed goal is printed; wrong answers fail the run.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { hashPassword } from '../src/registry/index.js';
import { freePort } from '../test/helpers/ports.js';

const ROUNDS = 3;
const RUN_MS = 3000;
const WARMUP_MS = 1000;
const CONCURRENCY = 32;
const TAG_COUNT = 1000;
const REFERRER_COUNT = 200;
const FIRST_PULLS = 10;
const WARM_PAGE_RUNS = 20;
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const taskset = spawnSync('which', ['taskset'], { encoding: 'utf8' }).stdout.trim();
const pinning = taskset !== '' && cpus().length >= 2;

const work = mkdtempSync(join(tmpdir(), 'nv2-bench-trust-'));
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

function pinned(core: string, command: string, args: string[]): [string, string[]] {
  return pinning ? [taskset, ['-c', core, command, ...args]] : [command, args];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Runs the nv2 CLI (signing, trust set-up) and fails the run when it fails. */
function nv2(args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NV2_CONFIG_DIR: join(work, 'trust'), ...env },
  });
  if (r.status !== 0) throw new Error(`nv2 ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Server {
  readonly origin: string;
  readonly host: string;
  readonly pool: Pool;
  readonly child: ChildProcess;
  /** Access log records, in order. */
  readonly log: Record<string, unknown>[];
}

async function startServer(name: string, enforce: boolean): Promise<Server> {
  const port = await freePort();
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      storage: { filesystem: { root: join(dir, 'data') } },
      auth: {
        users: { ci: await hashPassword('ci', { cost: 4 }) },
        token: { expiresInSeconds: 3600 },
        rules: [
          { repositories: ['*'], users: ['ci'], roles: ['writer', 'signer'] },
          { repositories: ['*'], anonymous: true, roles: ['reader'] },
        ],
      },
      trust: { configDir: join(work, 'trust') },
      ...(enforce ? { enforce: [{ repositories: ['bench/*'], level: 'enforce' }] } : {}),
    }),
  );
  const [cmd, argv] = pinned('0', process.execPath, [
    CLI,
    'registry',
    'serve',
    '--addr',
    `127.0.0.1:${port}`,
    '--config',
    config,
  ]);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const log: Record<string, unknown>[] = [];
  const listening = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} exited ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record['msg'] === 'listening') resolve();
      if (record['msg'] === 'request') log.push(record);
    });
  });
  await listening;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    host: `127.0.0.1:${port}`,
    pool: new Pool(origin, { connections: CONCURRENCY }),
    child,
    log,
  };
}

async function token(server: Server, scope: string, user?: string): Promise<string> {
  const res = await server.pool.request({
    path: `/auth/token?scope=${encodeURIComponent(scope)}`,
    method: 'GET',
    headers:
      user !== undefined
        ? { authorization: `Basic ${Buffer.from(`${user}:${user}`).toString('base64')}` }
        : {},
  });
  const body = (await res.body.json()) as { token: string };
  return body.token;
}

async function put(
  server: Server,
  auth: string,
  path: string,
  body: Buffer,
  type: string,
): Promise<void> {
  const res = await server.pool.request({
    path,
    method: 'PUT',
    body,
    headers: { authorization: `Bearer ${auth}`, 'content-type': type },
  });
  await res.body.dump();
  if (res.statusCode !== 201) throw new Error(`PUT ${path}: ${res.statusCode}`);
}

/** A whole blob in one request (`POST ?digest=`, end-4b). */
async function postBlob(server: Server, auth: string, repo: string, blob: Buffer): Promise<void> {
  const res = await server.pool.request({
    path: `/v2/${repo}/blobs/uploads/?digest=${digest(blob)}`,
    method: 'POST',
    body: blob,
    headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/octet-stream' },
  });
  await res.body.dump();
  if (res.statusCode !== 201) throw new Error(`POST blob to ${repo}: ${res.statusCode}`);
}

function digest(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Pushes an image (shared config and layer, a distinct annotation) under `tag`. */
async function pushImage(server: Server, auth: string, repo: string, tag: string) {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', created: new Date().toISOString() }),
  );
  const layer = randomBytes(1024);
  for (const blob of [config, layer]) await postBlob(server, auth, repo, blob);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: digest(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: digest(layer),
          size: layer.length,
        },
      ],
      annotations: { tag },
    }),
  );
  await put(server, auth, `/v2/${repo}/manifests/${tag}`, manifest, OCI_MANIFEST);
  return { mediaType: OCI_MANIFEST, digest: digest(manifest), size: manifest.length };
}

function sign(server: Server, ref: string): void {
  nv2(
    [
      'sign',
      '-k',
      join(work, 'signer.key'),
      '-c',
      join(work, 'signer.crt'),
      `${server.host}/${ref}`,
    ],
    { NV2_USERNAME: 'ci', NV2_PASSWORD: 'ci' },
  );
}

/** Requests per second of a closed loop of CONCURRENCY GETs of `path` for `ms`. */
async function loop(server: Server, path: string, headers: Record<string, string>, ms: number) {
  const end = performance.now() + ms;
  let count = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const res = await server.pool.request({ path, method: 'GET', headers });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode}`);
      count += 1;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return count / ((performance.now() - started) / 1000);
}

/** The server's own duration of the next request to `path`. */
async function timed(server: Server, path: string, headers: Record<string, string> = {}) {
  const before = server.log.length;
  const res = await server.pool.request({ path, method: 'GET', headers });
  await res.body.dump();
  if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode}`);
  // The log line is written when the response closes; wait for it.
  while (server.log.length === before) await new Promise((r) => setTimeout(r, 1));
  return Number(server.log.at(-1)!['durationMs']);
}

async function main(): Promise<void> {
  if (pinning) spawnSync(taskset, ['-a', '-c', '-p', '1', String(process.pid)]);
  nv2(['cert', 'generate', '--ca', '--cn', 'Bench Root', '--name', 'root', '--out-dir', work]);
  nv2([
    'cert',
    'generate',
    '--cn',
    'bench.example',
    '--name',
    'signer',
    '--out-dir',
    work,
    '--issuer-key',
    join(work, 'root.key'),
    '--issuer-cert',
    join(work, 'root.crt'),
  ]);
  nv2(['policy', 'init']);
  nv2(['trust', 'add', join(work, 'root.crt')]);
  const on = await startServer('enforcing', true);
  const off = await startServer('open', false);
  try {
    // Manifest GET by tag, enforcement on (verdict cached) vs off.
    const accept = { accept: OCI_MANIFEST };
    const headers = new Map<Server, Record<string, string>>();
    for (const server of [on, off]) {
      const ci = await token(server, 'repository:bench/app:pull,push', 'ci');
      await pushImage(server, ci, 'bench/app', 'v1');
      sign(server, 'bench/app:v1');
      const reader = await token(server, 'repository:bench/app:pull');
      headers.set(server, { ...accept, authorization: `Bearer ${reader}` });
      await loop(server, '/v2/bench/app/manifests/v1', headers.get(server)!, WARMUP_MS);
    }
    const decisions = on.log.flatMap((r) => {
      const e = r['enforcement'] as { decision: string } | undefined;
      return e === undefined || e.decision === 'exempt' ? [] : [e.decision];
    });
    if (decisions.length === 0 || decisions.some((d) => d !== 'allow')) {
      throw new Error(`the signed image was not allowed: ${decisions.join(', ')}`);
    }
    const ratios: number[] = [];
    const rates = { on: [] as number[], off: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [on, off] : [off, on];
      const got = new Map<Server, number>();
      for (const server of order) {
        got.set(
          server,
          await loop(server, '/v2/bench/app/manifests/v1', headers.get(server)!, RUN_MS),
        );
      }
      rates.on.push(got.get(on)!);
      rates.off.push(got.get(off)!);
      ratios.push(got.get(on)! / got.get(off)!);
    }
    const ratio = median(ratios);
    console.log(
      `manifest GET by tag: enforcement on ${median(rates.on).toFixed(0)} req/s, off ${median(rates.off).toFixed(0)} req/s; ratio ${ratio.toFixed(3)} (goal >= 0.90: ${ratio >= 0.9 ? 'met' : 'MISSED'})`,
    );

    // First pull of a newly signed image.
    const ci = await token(on, 'repository:bench/fresh:pull,push', 'ci');
    const reader = {
      ...accept,
      authorization: `Bearer ${await token(on, 'repository:bench/fresh:pull')}`,
    };
    const firsts: number[] = [];
    for (let i = 0; i < FIRST_PULLS; i++) {
      const image = await pushImage(on, ci, 'bench/fresh', `v${i}`);
      sign(on, `bench/fresh@${image.digest}`);
      firsts.push(await timed(on, `/v2/bench/fresh/manifests/v${i}`, reader));
    }
    const first = median(firsts);
    console.log(
      `first pull of a newly signed image (verdict computed), server time: median ${first.toFixed(2)} ms, max ${Math.max(...firsts).toFixed(2)} ms over ${FIRST_PULLS} (goal < 20 ms: ${first < 20 ? 'met' : 'MISSED'})`,
    );

    // UI pages.
    const tagsToken = await token(on, 'repository:bench/tags:pull,push', 'ci');
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < TAG_COUNT) {
          const i = next++;
          await pushImage(on, tagsToken, 'bench/tags', `t${String(i).padStart(4, '0')}`);
        }
      }),
    );
    const tagsCold = await timed(on, '/ui/repo/bench/tags');
    const tagsWarm: number[] = [];
    for (let i = 0; i < WARM_PAGE_RUNS; i++) tagsWarm.push(await timed(on, '/ui/repo/bench/tags'));
    const tagsMedian = median(tagsWarm);
    console.log(
      `UI tags page, ${TAG_COUNT} tags: first ${tagsCold.toFixed(1)} ms (${TAG_COUNT} verdicts computed), then median ${tagsMedian.toFixed(1)} ms (goal < 100 ms: ${tagsMedian < 100 ? 'met' : 'MISSED'})`,
    );

    const appToken = await token(on, 'repository:bench/app:pull,push', 'ci');
    const subjectRes = await on.pool.request({
      path: '/v2/bench/app/manifests/v1',
      method: 'HEAD',
      headers: { ...accept, authorization: `Bearer ${appToken}` },
    });
    await subjectRes.body.dump();
    const subject = {
      mediaType: OCI_MANIFEST,
      digest: String(subjectRes.headers['docker-content-digest']),
      size: Number(subjectRes.headers['content-length']),
    };
    const empty = Buffer.from('{}');
    await postBlob(on, appToken, 'bench/app', empty);
    for (let i = 0; i < REFERRER_COUNT - 1; i++) {
      const referrer = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType: 'application/spdx+json',
          config: {
            mediaType: 'application/vnd.oci.empty.v1+json',
            digest: digest(empty),
            size: 2,
          },
          layers: [
            { mediaType: 'application/vnd.oci.empty.v1+json', digest: digest(empty), size: 2 },
          ],
          subject,
          annotations: { n: String(i) },
        }),
      );
      await put(
        on,
        appToken,
        `/v2/bench/app/manifests/${digest(referrer)}`,
        referrer,
        OCI_MANIFEST,
      );
    }
    const page = `/ui/artifact/bench/app@${subject.digest}`;
    const artifactCold = await timed(on, page);
    const artifactWarm: number[] = [];
    for (let i = 0; i < WARM_PAGE_RUNS; i++) artifactWarm.push(await timed(on, page));
    console.log(
      `UI artifact page, a subject with ${REFERRER_COUNT} referrers (a signature and SBOMs): first ${artifactCold.toFixed(1)} ms, then median ${median(artifactWarm).toFixed(1)} ms`,
    );
  } finally {
    for (const server of [on, off]) {
      await server.pool.destroy();
      server.child.kill('SIGTERM');
    }
  }
}

await main();
