/**
 * `npm run bench:admission`: latency of the admission webhook's `/validate` for a Pod of three
 * containers, each a signed image named by tag, against a local nv2 registry on loopback.
 *
 *  - warm: the verdicts and tags are cached: what most reviews cost (goal: p99 < 10 ms);
 *  - cold: the caches are emptied before each review, so each one resolves three tags, lists
 *    three images' referrers and verifies three signatures (goal: p99 < 300 ms).
 *
 * Latency is measured by the client over one keep-alive HTTPS connection, as the API server
 * holds one.
 */
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import {
  admissionReview,
  podSpec,
  startAdmissionFixture,
  workload,
} from '../test/helpers/admission.js';

const WARM_RUNS = 2000;
const COLD_RUNS = 200;
const WARMUP = 50;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const fx = await startAdmissionFixture();
const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: await readFile(fx.tls.cert) });
const pod = workload('Pod', podSpec(fx.images.signed.slice(0, 3)));
const url = new URL('/validate', fx.server.url);

function post(body: Buffer): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const answer = JSON.parse(Buffer.concat(chunks).toString()) as {
            response: { allowed: boolean };
          };
          resolve(answer.response.allowed);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function measure(runs: number, cold: boolean): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const body = Buffer.from(JSON.stringify(admissionReview(pod)));
    if (cold) fx.checks.clear();
    const started = performance.now();
    const allowed = await post(body);
    times.push(performance.now() - started);
    if (!allowed) throw new Error('the signed Pod was denied');
  }
  return times.sort((a, b) => a - b);
}

function report(name: string, times: readonly number[], goalMs: number): void {
  const p50 = percentile(times, 50);
  const p99 = percentile(times, 99);
  // The server's own time per review (body read to answer), from its decision log: what is
  // left when the client's and the scheduler's share of a busy machine is taken out.
  const server = fx.log
    .filter((e) => e['msg'] === 'admission decision')
    .slice(-times.length)
    .map((e) => e['durationMs'] as number)
    .sort((a, b) => a - b);
  console.log(
    `admission /validate ${name.padEnd(5)} (3 containers, ${times.length} reviews): p50 ${p50.toFixed(2)} ms, p90 ${percentile(times, 90).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (goal: p99 < ${goalMs} ms${p99 < goalMs ? '' : ', MISSED'}); server side: p50 ${percentile(server, 50).toFixed(2)} ms, p99 ${percentile(server, 99).toFixed(2)} ms`,
  );
}

try {
  await measure(WARMUP, true);
  await measure(WARMUP, false);
  report('warm', await measure(WARM_RUNS, false), 10);
  report('cold', await measure(COLD_RUNS, true), 300);
} finally {
  agent.destroy();
  await fx.close();
}
