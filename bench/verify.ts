/**
 * `npm run bench`: how close full verification comes to raw crypto, and how fast the CLI starts.
 *
 * Each comparison runs side by side in one process, alternating rounds, and prints medians
 * and their ratio: these machines are noisy, so only ratios measured together mean anything.
 *
 *  - verify: the library's `verify()` (parse, header cache, chain, claims, crypto) with one
 *    parsed TrustSet reused, against `crypto.verify` alone on the same key and bytes.
 *  - cold start: `nv2 --version` and one `nv2 verify` of a file, against `node -e 0` (the
 *    floor no Node CLI can go below), and `notation version` when a `notation` binary is on
 *    PATH (a compiled CLI's start, for reference).
 *  - remote: `nv2 verify REF` against a local registry, against `node -e 0` and skopeo.
 */
import { spawnSync } from 'node:child_process';
import { verify as cryptoVerify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeManifest } from '../src/oci/index.js';
import { SAMPLE_MANIFEST } from '../test/helpers/fixtures.js';
import { writeImageLayout } from '../test/helpers/oci-layout.js';
import { serve } from '../test/helpers/serve.js';
import {
  algorithmHash,
  cryptoKeyOptions,
  parseSignature,
  sign,
  signingInput,
} from '../src/signature/index.js';
import { TrustSet, verify } from '../src/trust/index.js';
import { type KeyType, generateCertificate } from '../src/x509/index.js';

const ROUNDS = 9;
const ROUND_MS = 600;
const BATCH = 50;
const COLD_RUNS = 21;
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Runs `a` and `b` in alternating batches for one round of about ROUND_MS and returns the
 * operations per second of each. Interleaving batches this finely means both sides see the
 * same machine: a noisy neighbour slows both, and the ratio stays meaningful.
 */
async function pairedRound(a: () => unknown, b: () => unknown): Promise<[number, number]> {
  let timeA = 0;
  let timeB = 0;
  let n = 0;
  while (timeA + timeB < ROUND_MS) {
    let t = performance.now();
    for (let i = 0; i < BATCH; i++) await a();
    timeA += performance.now() - t;
    t = performance.now();
    for (let i = 0; i < BATCH; i++) await b();
    timeB += performance.now() - t;
    n += BATCH;
  }
  return [(n * 1000) / timeA, (n * 1000) / timeB];
}

/** The share of raw `crypto.verify` the full verification must keep, per algorithm. */
const VERIFY_GOALS: Record<'RS256' | 'PS256' | 'ES256', number> = {
  RS256: 0.85,
  PS256: 0.85,
  ES256: 0.9,
};
/** `nv2 verify file:` against `node -e 0`. */
const COLD_VERIFY_FILE_GOAL = 1.3;
/** `nv2 verify REF` (one signature, local registry) against `node -e 0`. */
const COLD_VERIFY_REF_GOAL = 1.6;

function verdict(met: boolean): string {
  return met ? 'met' : 'MISSED';
}

async function benchVerify(alg: keyof typeof VERIFY_GOALS, keyType: KeyType): Promise<void> {
  const host = 'registry.example.com';
  const now = new Date();
  const { privateKey, certificate: cert } = await generateCertificate({
    commonName: host,
    keyType,
    now,
  });
  const { descriptor } = describeManifest(SAMPLE_MANIFEST);
  const jws = sign(
    descriptor,
    { key: privateKey, certificateChain: [cert.der] },
    {
      algorithm: alg,
      references: [`${host}/app:v1`],
      expiresIn: 3600,
      now,
    },
  );
  const trust = new TrustSet({ certificates: [cert] });
  const parsed = parseSignature(jws);
  const hash = algorithmHash(alg);
  const keyOptions = cryptoKeyOptions(cert.publicKey, alg);
  const data = signingInput(parsed);
  const raw = (): boolean => cryptoVerify(hash, data, keyOptions, parsed.signature);
  const full = (): Promise<unknown> => verify(jws, descriptor, trust, { now });
  if (!raw()) throw new Error('raw verification failed');
  await full();

  const rawRounds: number[] = [];
  const fullRounds: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const [rawRound, fullRound] = await pairedRound(raw, full);
    rawRounds.push(rawRound);
    fullRounds.push(fullRound);
    ratios.push(fullRound / rawRound);
  }
  const rawOps = median(rawRounds);
  const fullOps = median(fullRounds);
  const ratio = median(ratios);
  const goal = VERIFY_GOALS[alg];
  console.log(
    `${alg.padEnd(6)} ${keyType.padEnd(9)} raw crypto.verify ${rawOps.toFixed(0).padStart(7)}/s   nv2 verify ${fullOps
      .toFixed(0)
      .padStart(
        7,
      )}/s   ratio ${(ratio * 100).toFixed(1)}%  (goal >= ${goal * 100}%: ${verdict(ratio >= goal)})`,
  );
}

function runMs(args: readonly string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0)
    throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

async function benchColdStart(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nv2-bench-'));
  try {
    const gen = spawnSync(process.execPath, [
      CLI,
      'cert',
      'generate',
      '--cn',
      'registry.example.com',
      '--out-dir',
      dir,
    ]);
    if (gen.status !== 0) throw new Error(gen.stderr.toString());
    const manifest = join(dir, 'm.json');
    writeFileSync(manifest, SAMPLE_MANIFEST);
    const sig = join(dir, 's.jwt');
    const key = join(dir, 'registry.example.com.key');
    const cert = join(dir, 'registry.example.com.crt');
    const s = spawnSync(process.execPath, [
      CLI,
      'sign',
      '-k',
      key,
      '-c',
      cert,
      '-o',
      sig,
      `file:${manifest}`,
    ]);
    if (s.status !== 0) throw new Error(s.stderr.toString());
    const notation = spawnSync('notation', ['version']).status === 0;
    const floor: number[] = [];
    const version: number[] = [];
    const verifyRuns: number[] = [];
    const verifyRatios: number[] = [];
    const notationRuns: number[] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      const f = runMs(['-e', '0']);
      floor.push(f);
      version.push(runMs([CLI, '--version']));
      const vr = runMs([CLI, 'verify', '-f', sig, '-c', cert, `file:${manifest}`]);
      verifyRuns.push(vr);
      verifyRatios.push(vr / f);
      if (notation) notationRuns.push(runCommandMs('notation', ['version']));
    }
    const f = median(floor);
    const v = median(version);
    const vr = median(verifyRuns);
    const ratio = median(verifyRatios);
    console.log(`cold start, median of ${COLD_RUNS} runs each, alternating:`);
    console.log(`  node -e 0          ${f.toFixed(1).padStart(6)} ms  (floor)`);
    console.log(
      `  nv2 --version      ${v.toFixed(1).padStart(6)} ms  (${(v / f).toFixed(2)}x floor)`,
    );
    console.log(
      `  nv2 verify file:   ${vr.toFixed(1).padStart(6)} ms  (${ratio.toFixed(2)}x floor, the median of ` +
        `per-run ratios; goal <= ${COLD_VERIFY_FILE_GOAL}x: ${verdict(ratio <= COLD_VERIFY_FILE_GOAL)})`,
    );
    if (notation) {
      const n = median(notationRuns);
      console.log(
        `  notation version   ${n.toFixed(1).padStart(6)} ms  (${(n / f).toFixed(2)}x floor; a compiled CLI's start)`,
      );
    } else {
      console.log('  notation: not on PATH, no figure');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a command and returns its wall time in ms; throws when it fails. */
function runCommandMs(command: string, args: readonly string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

/**
 * End to end against a local nv2 registry: `nv2 verify REF` (resolve, discover, fetch, verify)
 * with 1 and with 20 signatures on the artifact, and `nv2 sign REF`, beside `skopeo inspect`
 * of the same reference: one remote call from a compiled client.
 */
async function benchRemote(): Promise<void> {
  if (spawnSync('skopeo', ['--version']).status !== 0) {
    console.log('remote: skipped, skopeo is not installed (apt-get install skopeo)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'nv2-bench-remote-'));
  const server = await serve(join(dir, 'data'));
  try {
    const layout = join(dir, 'layout');
    await writeImageLayout(layout, { tag: 'v1', layers: 2 });
    const ref = `${server.host}/bench/app:v1`;
    runCommandMs('skopeo', [
      '--insecure-policy',
      'copy',
      '--preserve-digests',
      '--dest-tls-verify=false',
      `oci:${layout}:v1`,
      `docker://${ref}`,
    ]);
    runCommandMs(process.execPath, [
      CLI,
      'cert',
      'generate',
      '--cn',
      '127.0.0.1',
      '--out-dir',
      dir,
      '--name',
      'signer',
    ]);
    const key = join(dir, 'signer.key');
    const cert = join(dir, 'signer.crt');
    const sign = (): number =>
      runCommandMs(process.execPath, [CLI, 'sign', '-k', key, '-c', cert, ref]);
    const verifyRef = (): number =>
      runCommandMs(process.execPath, [CLI, 'verify', '-c', cert, ref]);
    const inspect = (): number =>
      runCommandMs('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`]);
    const floor = (): number => runMs(['-e', '0']);
    const runs = 11;
    const signTimes: number[] = [];
    const inspectSign: number[] = [];
    const verify1: number[] = [];
    const inspect1: number[] = [];
    const floor1: number[] = [];
    const floorRatios: number[] = [];
    signTimes.push(sign());
    for (let i = 0; i < runs; i++) {
      const v = verifyRef();
      verify1.push(v);
      inspect1.push(inspect());
      const f = floor();
      floor1.push(f);
      floorRatios.push(v / f);
    }
    // 19 more signatures make 20, each sign run timed beside a skopeo inspect.
    for (let i = 1; i < 20; i++) {
      signTimes.push(sign());
      inspectSign.push(inspect());
    }
    const verify20: number[] = [];
    const inspect20: number[] = [];
    for (let i = 0; i < runs; i++) {
      verify20.push(verifyRef());
      inspect20.push(inspect());
    }
    const i1 = median(inspect1);
    const v1 = median(verify1);
    const v20 = median(verify20);
    const i20 = median(inspect20);
    const s = median(signTimes);
    const f = median(floor1);
    const r = median(floorRatios);
    console.log(`remote, against a local nv2 registry; medians of ${runs} alternating runs:`);
    console.log(`  skopeo inspect            ${i1.toFixed(1).padStart(6)} ms  (reference point)`);
    console.log(
      `  node -e 0                 ${f.toFixed(1).padStart(6)} ms  (floor of any Node CLI)`,
    );
    console.log(
      `  nv2 verify REF, 1 signature  ${v1.toFixed(1).padStart(6)} ms  (${(v1 / i1).toFixed(2)}x skopeo, ` +
        `${r.toFixed(2)}x node -e 0, the median of per-run ratios; goal <= ${COLD_VERIFY_REF_GOAL}x: ` +
        `${verdict(r <= COLD_VERIFY_REF_GOAL)})`,
    );
    console.log(
      `  nv2 verify, 20 signatures ${v20.toFixed(1).padStart(6)} ms  (${(v20 / i20).toFixed(2)}x skopeo, ${(v20 / v1).toFixed(2)}x one signature)`,
    );
    console.log(
      `  nv2 sign                  ${s.toFixed(1).padStart(6)} ms  (${(s / median(inspectSign)).toFixed(2)}x skopeo; median of 20)`,
    );
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Figures differ between Node versions (OpenSSL, V8, start-up): say which one ran. The bench
// runs under the `node` first on PATH (README: Another Node.js version).
console.log(`Node.js ${process.version}, OpenSSL ${process.versions.openssl}`);
// `npm run bench -- remote` runs only the registry section.
if (process.argv[2] !== 'remote') {
  console.log(
    `full verify vs raw crypto: ${ROUNDS} rounds of ${ROUND_MS} ms, batches of ${BATCH} alternating; medians:`,
  );
  await benchVerify('RS256', 'rsa-2048');
  await benchVerify('PS256', 'rsa-2048');
  await benchVerify('ES256', 'ec-p256');
  await benchColdStart();
}
await benchRemote();
