/**
 * `npm run bench:registry` (last part): one registry replica with its metadata in PostgreSQL
 * against the embedded default, side by side. Both are `nv2 registry serve` processes with
 * blobs on the filesystem; the database is a cluster started by `scripts/postgres.sh` in a
 * temp dir (as the tests do). Each holds the same image (tag `v1`) with REFERRERS signatures.
 *
 * Workloads, REQUESTS requests per side per round at CONCURRENCY, ROUNDS rounds with the two
 * sides alternating inside every round; the figures are medians, the ratio the median of the
 * per-round ratios PostgreSQL/embedded (only figures measured together mean anything on a
 * shared machine):
 *
 * - manifest GET by tag (the tag resolved and the manifest read on every request: nothing
 *   that can change is cached in PostgreSQL mode). Goal: ratio >= 0.5 (within 2x).
 * - referrers list of the image (an index query). Goal: ratio >= 0.5.
 *
 * Nothing asserts on time: a missed goal is printed; wrong answers fail the run.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { createPool, migrate } from '../src/registry/postgres/index.js';
import { tempDir } from '../test/helpers/fixtures.js';
import { startNv2, stopChildren } from './nv2-server.js';
import { postgresMissing, startPostgres } from '../test/helpers/postgres.js';

const ROUNDS = 5;
const REQUESTS = 2000;
const CONCURRENCY = 8;
const REFERRERS = 20;
const GOAL = 0.5;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const dispatcher = new Agent({ connections: CONCURRENCY });

/** The image's one layer, the same bytes in both registries. */
const layer = randomBytes(4096);

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench: ${what}`);
}

async function put(url: string, body: Buffer, contentType: string): Promise<void> {
  const res = await request(url, {
    method: url.includes('/manifests/') ? 'PUT' : 'POST',
    headers: { 'Content-Type': contentType },
    body,
    dispatcher,
  });
  await res.body.dump();
  check(res.statusCode === 201, `${url} answered ${res.statusCode}`);
}

/** Pushes the image (tag v1) and its signatures; returns the image's digest. */
async function populate(origin: string): Promise<string> {
  const repo = `${origin}/v2/bench/app`;
  const config = Buffer.from('{}');
  for (const blob of [config, layer]) {
    await put(`${repo}/blobs/uploads/?digest=${sha256(blob)}`, blob, 'application/octet-stream');
  }
  const manifest = (extra: Record<string, unknown>): Buffer =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: sha256(config),
          size: 2,
        },
        layers: [
          {
            mediaType: 'application/vnd.oci.image.layer.v1.tar',
            digest: sha256(layer),
            size: layer.length,
          },
        ],
        ...extra,
      }),
    );
  const image = manifest({});
  await put(`${repo}/manifests/v1`, image, OCI_MANIFEST);
  for (let i = 0; i < REFERRERS; i++) {
    const signature = manifest({
      artifactType: 'application/vnd.cncf.notary.signature',
      subject: { mediaType: OCI_MANIFEST, digest: sha256(image), size: image.length },
      annotations: { n: String(i) },
    });
    await put(`${repo}/manifests/${sha256(signature)}`, signature, OCI_MANIFEST);
  }
  return sha256(image);
}

/** Requests a second of `path` at CONCURRENCY, each answered 200. */
async function rate(origin: string, path: string, accept: string): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < REQUESTS) {
        const res = await request(`${origin}${path}`, { headers: { Accept: accept }, dispatcher });
        await res.body.dump();
        check(res.statusCode === 200, `${path} answered ${res.statusCode}`);
      }
    }),
  );
  return REQUESTS / (Number(process.hrtime.bigint() - started) / 1e9);
}

function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

interface Row {
  readonly workload: string;
  readonly postgres: number;
  readonly embedded: number;
  readonly ratio: number;
}

async function compare(
  workload: string,
  sides: { postgres: string; embedded: string },
  path: string,
  accept: string,
): Promise<Row> {
  const pg: number[] = [];
  const em: number[] = [];
  const ratios: number[] = [];
  for (let round = -1; round < ROUNDS; round++) {
    // Round -1 warms both up and is not counted; the order alternates by round.
    const pgFirst = round % 2 === 0;
    const first = await rate(pgFirst ? sides.postgres : sides.embedded, path, accept);
    const second = await rate(pgFirst ? sides.embedded : sides.postgres, path, accept);
    if (round < 0) continue;
    const [p, e] = pgFirst ? [first, second] : [second, first];
    pg.push(p);
    em.push(e);
    ratios.push(p / e);
  }
  const row = { workload, postgres: median(pg), embedded: median(em), ratio: median(ratios) };
  console.log(
    `${workload.padEnd(28)} postgres ${row.postgres.toFixed(0)} req/s   embedded ${row.embedded.toFixed(0)} req/s   ratio ${row.ratio.toFixed(2)} (goal >= ${GOAL})`,
  );
  return row;
}

async function main(): Promise<void> {
  const missing = postgresMissing();
  if (missing !== undefined) {
    console.log(`PostgreSQL benchmark skipped: ${missing}`);
    return;
  }
  const server = await startPostgres();
  const url = await server.newDatabase();
  const pool = createPool({ url });
  await migrate(pool);
  await pool.end();
  const dir = await tempDir();
  const postgres = await startNv2(
    dir,
    'postgres',
    `storage:\n  filesystem:\n    root: ${join(dir, 'pg-root')}\n  metadata:\n    database:\n      url: ${url}\n      poolSize: ${CONCURRENCY}\n    gc:\n      intervalSeconds: 0\nlog:\n  format: json\n`,
  );
  const embedded = await startNv2(
    dir,
    'embedded',
    `storage:\n  filesystem:\n    root: ${join(dir, 'fs-root')}\n`,
  );
  const digest = await populate(postgres);
  check((await populate(embedded)) === digest, 'both registries hold the same image');

  console.log(
    `registry metadata: PostgreSQL vs embedded, ${REQUESTS} requests x ${ROUNDS} rounds at c=${CONCURRENCY}, one replica each`,
  );
  const sides = { postgres, embedded };
  const rows = [
    await compare('manifest GET by tag', sides, '/v2/bench/app/manifests/v1', OCI_MANIFEST),
    await compare(
      `referrers list (${REFERRERS})`,
      sides,
      `/v2/bench/app/referrers/${digest}`,
      'application/vnd.oci.image.index.v1+json',
    ),
  ];
  console.log('\n| workload (one replica) | PostgreSQL | embedded | ratio | goal | |');
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) {
    console.log(
      `| ${row.workload} | ${row.postgres.toFixed(0)} req/s | ${row.embedded.toFixed(0)} req/s | ${row.ratio.toFixed(2)} | >= ${GOAL} | ${row.ratio >= GOAL ? 'met' : 'MISSED'} |`,
    );
  }
  await dispatcher.close();
  stopChildren();
}

await main();
process.exit(0);
