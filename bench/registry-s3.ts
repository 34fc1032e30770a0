/**
 * `npm run bench:registry` (second part): nv2's registry over S3 against the same S3 client
 * talking to the store directly, side by side. The store is Ceph's RADOS Gateway on a
 * single-node cluster started by `scripts/ceph-s3.sh` in a temp dir (as the tests do).
 *
 * Workloads, each BLOB_MiB blobs, UPLOADS_PER_ROUND per round, ROUNDS rounds with the two
 * sides alternating inside every round; the figures are medians, the ratio the median of the
 * per-round ratios nv2/direct (only figures measured together mean anything on a shared
 * machine):
 *
 * - upload: nv2 takes the blob in one `POST ?digest=` (hashing it as it streams straight to
 *   the blob's key, the last bytes held back until the digest is verified, then the
 *   repository link) vs one PutObject of the same bytes by the AWS SDK. Goal >= 0.8.
 * - chunked upload across replicas: POST, PATCH 8 MiB chunks and PUT, each request to the next
 *   of two replicas vs the same PutObject. Goal >= 0.8. Every chunk adds parts to the
 *   session's one multipart upload and rewrites its small state object (with the resumable
 *   hash, so the commit on the other replica reads nothing back); the commit completes the
 *   upload and copies it to the blob's key server-side.
 * - download, streamed: GET through nv2 (which streams GetObject) vs GetObject. Goal >= 0.8.
 * - bare proxy (reference rows, no goal): the same upload and download through
 *   `bench/s3-proxy.ts`, a process that only pipes bytes between the HTTP client and the SDK.
 *   Its ratio is what one more process in the path costs on this machine, the ceiling for
 *   nv2's monolithic and streamed rows; a CPU-starved machine pulls it well below 1.
 * - download, redirect: GET to nv2 answered 307, then the presigned URL vs GetObject.
 *   Goal: equal to the store's (>= 0.9: within the noise, the 307 round trip included).
 *
 * Nothing asserts on time: a missed goal is printed; wrong answers fail the run.
 * `NV2_BENCH_ONLY` picks workloads by name, as in `bench/registry.ts`.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import type { CephS3 } from '../test/helpers/ceph.js';
import { cephMissing, startCephS3 } from '../test/helpers/ceph.js';
import { tempDir } from '../test/helpers/fixtures.js';
import { killAtExit, startNv2, stopChildren } from './nv2-server.js';

const ROUNDS = 3;
const UPLOADS_PER_ROUND = 3;
const BLOB_MiB = 64;
const CHUNK_BYTES = 8 * 1024 * 1024;
const GOAL = 0.8;
/** "Equal" on a shared machine: within a tenth. */
const EQUAL_GOAL = 0.9;
const PROXY = fileURLToPath(new URL('./s3-proxy.js', import.meta.url));

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

/** Starts `bench/s3-proxy.ts` over `bucket` and returns its origin. */
async function startProxy(ceph: CephS3, bucket: string): Promise<string> {
  const child = spawn(process.execPath, [PROXY], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      S3_ENDPOINT: ceph.endpoint,
      S3_REGION: ceph.region,
      S3_BUCKET: bucket,
      S3_ACCESS_KEY: ceph.credentials.accessKeyId,
      S3_SECRET_KEY: ceph.credentials.secretAccessKey,
    },
  });
  killAtExit(child);
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('\n')) resolve(out.split('\n')[0]!.trim());
    });
    child.once('exit', () => reject(new Error('the S3 proxy did not start')));
  });
  return `http://127.0.0.1:${port}`;
}

const dispatcher = new Agent({ connections: 8, bodyTimeout: 0, headersTimeout: 0 });

async function send(
  method: 'POST' | 'PATCH' | 'PUT' | 'GET',
  url: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const res = await request(url, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
    dispatcher,
  });
  await res.body.dump();
  return { status: res.statusCode, headers: res.headers };
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Reads a stream to its end, counting bytes and hashing nothing (the cheapest consumer). */
async function drain(body: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of body) n += chunk.byteLength;
  return n;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench: ${what}`);
}

/** `NV2_BENCH_ONLY=chunked,streamed`: only the workloads whose name contains one of these. */
const ONLY = (process.env['NV2_BENCH_ONLY'] ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '');

interface Row {
  readonly workload: string;
  readonly nv2: number;
  readonly direct: number;
  readonly ratio: number;
  readonly goal: number | undefined;
}

/** MB/s of `fn` run over `count` blobs. */
async function rate(count: number, fn: (i: number) => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await fn(i);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return (count * BLOB_MiB * 1.048576) / seconds;
}

function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

async function compare(
  workload: string,
  goal: number | undefined,
  nv2: (round: number, i: number) => Promise<void>,
  direct: (round: number, i: number) => Promise<void>,
  /** Untimed work before nv2's side of a round (making its blobs). */
  prepare?: (round: number) => void,
): Promise<Row | undefined> {
  if (ONLY.length > 0 && !ONLY.some((part) => workload.includes(part))) return undefined;
  const a: number[] = [];
  const b: number[] = [];
  const ratios: number[] = [];
  for (let round = -1; round < ROUNDS; round++) {
    // Round -1 warms both up and is not counted.
    const sides = round % 2 === 0 ? ([nv2, direct] as const) : ([direct, nv2] as const);
    const got = [] as number[];
    for (const side of sides) {
      if (side === nv2) prepare?.(round);
      got.push(await rate(UPLOADS_PER_ROUND, (i) => side(round, i)));
    }
    if (round < 0) continue;
    const [n, d] = round % 2 === 0 ? [got[0]!, got[1]!] : [got[1]!, got[0]!];
    a.push(n);
    b.push(d);
    ratios.push(n / d);
  }
  const row = { workload, nv2: median(a), direct: median(b), ratio: median(ratios), goal };
  console.log(
    `${workload.padEnd(40)} nv2 ${row.nv2.toFixed(0)} MB/s   direct ${row.direct.toFixed(0)} MB/s   ratio ${row.ratio.toFixed(2)}${goal !== undefined ? ` (goal >= ${goal})` : ''}`,
  );
  return row;
}

async function main(): Promise<void> {
  const missing = cephMissing();
  if (missing !== undefined) {
    console.log(`S3 part skipped: ${missing}`);
    return;
  }
  console.log('starting Ceph (mon, osd, RADOS Gateway)...');
  const ceph = await startCephS3();
  const bucket = await ceph.newBucket();
  const dir = await tempDir();
  const storage = (redirect: boolean) =>
    [
      'log:',
      '  format: json',
      'storage:',
      '  s3:',
      `    bucket: ${bucket}`,
      `    endpoint: ${ceph.endpoint}`,
      `    region: ${ceph.region}`,
      '    forcePathStyle: true',
      `    accessKey: ${ceph.credentials.accessKeyId}`,
      `    secretKey: ${ceph.credentials.secretAccessKey}`,
      '    rootDirectory: registry',
      `    redirect: ${redirect}`,
      '',
    ].join('\n');
  const streaming = await startNv2(dir, 'stream', storage(false));
  const second = await startNv2(dir, 'second', storage(false));
  const redirecting = await startNv2(dir, 'redirect', storage(true));
  const proxy = await startProxy(ceph, bucket);

  const blobs = Array.from({ length: UPLOADS_PER_ROUND }, () =>
    randomBytes(BLOB_MiB * 1024 * 1024),
  );
  const digests = blobs.map(sha256);
  // Distinct bytes per upload round for nv2 (a blob already there is not uploaded twice).
  // Made before nv2's side of a round is timed: the copy and the hash are the client's work.
  const freshBlobs = blobs.map((blob) => Buffer.from(blob));
  const freshDigests: string[] = [];
  const makeFresh = (variant: number): void => {
    for (const [i, data] of freshBlobs.entries()) {
      data.writeInt32BE(variant + 10, 0);
      freshDigests[i] = sha256(data);
    }
  };
  const fresh = (i: number): { data: Buffer; digest: string } => {
    return { data: freshBlobs[i]!, digest: freshDigests[i]! };
  };
  const rows: (Row | undefined)[] = [];
  const putDirect = async (round: number, i: number): Promise<void> => {
    await ceph.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `direct/${round}/${i}`,
        Body: blobs[i]!,
        ContentLength: blobs[i]!.length,
      }),
    );
  };

  rows.push(
    await compare(
      `upload ${BLOB_MiB} MiB (monolithic)`,
      GOAL,
      async (_round, i) => {
        const { data, digest } = fresh(i);
        const reply = await send(
          'POST',
          `${streaming}/v2/bench/s3/blobs/uploads/?digest=${encodeURIComponent(digest)}`,
          { 'content-type': 'application/octet-stream' },
          data,
        );
        check(reply.status === 201, `nv2 upload answered ${reply.status}`);
      },
      putDirect,
      (round) => makeFresh(round * 2),
    ),
  );

  rows.push(
    await compare(
      `upload ${BLOB_MiB} MiB (bare proxy, reference)`,
      undefined,
      async (round, i) => {
        const reply = await send(
          'PUT',
          `${proxy}/proxied/${round}/${i}`,
          { 'content-type': 'application/octet-stream' },
          blobs[i]!,
        );
        check(reply.status === 201, `proxy upload answered ${reply.status}`);
      },
      putDirect,
    ),
  );

  rows.push(
    await compare(
      `upload ${BLOB_MiB} MiB (chunked, 2 replicas)`,
      GOAL,
      async (_round, i) => {
        const { data, digest } = fresh(i);
        const origins = [streaming, second];
        let n = 0;
        const next = () => origins[n++ % 2]!;
        let reply = await send('POST', `${next()}/v2/bench/s3/blobs/uploads/`);
        check(reply.status === 202, `POST answered ${reply.status}`);
        for (let offset = 0; offset < data.length; offset += CHUNK_BYTES) {
          const chunk = data.subarray(offset, Math.min(offset + CHUNK_BYTES, data.length));
          reply = await send(
            'PATCH',
            `${next()}${String(reply.headers['location'])}`,
            {
              'content-type': 'application/octet-stream',
              'content-range': `${offset}-${offset + chunk.length - 1}`,
            },
            chunk,
          );
          check(reply.status === 202, `PATCH answered ${reply.status}`);
        }
        const location = String(reply.headers['location']);
        const separator = location.includes('?') ? '&' : '?';
        reply = await send(
          'PUT',
          `${next()}${location}${separator}digest=${encodeURIComponent(digest)}`,
        );
        check(reply.status === 201, `PUT answered ${reply.status}`);
      },
      putDirect,
      (round) => makeFresh(round * 2 + 1),
    ),
  );

  // The download blobs, once, through nv2, and for the direct side (when the upload rows did
  // not run, `NV2_BENCH_ONLY`).
  for (const [i, data] of blobs.entries()) {
    if (rows.every((row) => row === undefined)) await putDirect(0, i);
    const reply = await send(
      'POST',
      `${streaming}/v2/bench/s3/blobs/uploads/?digest=${encodeURIComponent(digests[i]!)}`,
      { 'content-type': 'application/octet-stream' },
      data,
    );
    check(reply.status === 201, `seed upload answered ${reply.status}`);
  }
  const size = BLOB_MiB * 1024 * 1024;
  const getDirect = async (_round: number, i: number) => {
    const out = await ceph.client.send(
      new GetObjectCommand({ Bucket: bucket, Key: `direct/0/${i}` }),
    );
    check((await drain(out.Body as Readable)) === size, 'direct GET: short body');
  };

  rows.push(
    await compare(
      `download ${BLOB_MiB} MiB (streamed)`,
      GOAL,
      async (_round, i) => {
        const res = await request(`${streaming}/v2/bench/s3/blobs/${digests[i]!}`, { dispatcher });
        check(res.statusCode === 200, `GET answered ${res.statusCode}`);
        check((await drain(res.body)) === size, 'nv2 GET: short body');
      },
      getDirect,
    ),
  );

  rows.push(
    await compare(
      `download ${BLOB_MiB} MiB (bare proxy, reference)`,
      undefined,
      async (_round, i) => {
        const res = await request(`${proxy}/direct/0/${i}`, { dispatcher });
        check(res.statusCode === 200, `proxy GET answered ${res.statusCode}`);
        check((await drain(res.body)) === size, 'proxy GET: short body');
      },
      getDirect,
    ),
  );

  rows.push(
    await compare(
      `download ${BLOB_MiB} MiB (redirect)`,
      EQUAL_GOAL,
      async (_round, i) => {
        const res = await request(`${redirecting}/v2/bench/s3/blobs/${digests[i]!}`, {
          dispatcher,
        });
        await res.body.dump();
        check(res.statusCode === 307, `GET answered ${res.statusCode}`);
        const object = await request(String(res.headers['location']), { dispatcher });
        check(object.statusCode === 200, `presigned GET answered ${object.statusCode}`);
        check((await drain(object.body)) === size, 'presigned GET: short body');
      },
      getDirect,
    ),
  );

  for (let round = -1; round < ROUNDS; round++) {
    for (let i = 0; i < UPLOADS_PER_ROUND; i++) {
      await ceph.client.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: `direct/${round}/${i}` }),
      );
      await ceph.client.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: `proxied/${round}/${i}` }),
      );
    }
  }

  console.log('\n| workload (S3, Ceph RGW) | nv2 | SDK direct | ratio | goal | met/MISSED |');
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) {
    if (row === undefined) continue;
    const verdict = row.goal === undefined ? '' : row.ratio >= row.goal ? 'met' : 'MISSED';
    console.log(
      `| ${row.workload} | ${row.nv2.toFixed(0)} MB/s | ${row.direct.toFixed(0)} MB/s | ${row.ratio.toFixed(2)} | ${row.goal === undefined ? '-' : `>= ${row.goal}`} | ${verdict} |`,
    );
  }
  await dispatcher.close();
  ceph.client.destroy();
  stopChildren();
}

await main();
process.exit(0);
