/**
 * `npm run bench` (signing): signatures per second with a key inside a PKCS#11 token
 * (SoftHSM 2, initialized in a temporary directory) beside the same kind of key in a file,
 * both through `signWithKey` (the nv2 format: header, claims, the key's signature, and the
 * check of that signature against the public key). Paired rounds, medians and their ratio,
 * as the other benchmarks: only ratios measured together mean anything on a shared machine.
 */
import { generateKeyPairSync } from 'node:crypto';
import { openPkcs11Key } from '../src/keys/index.js';
import { describeManifest } from '../src/oci/index.js';
import { type SigningKey, fileSigningKey, signWithKey } from '../src/signature/index.js';
import { SAMPLE_MANIFEST } from '../test/helpers/fixtures.js';
import { rootCA } from '../test/helpers/pki.js';
import {
  certifyTokenKey,
  generateTokenKey,
  softhsmMissing,
  startSoftHsm,
} from '../test/helpers/softhsm.js';

const ROUNDS = 7;
const ROUND_MS = 600;
const BATCH = 20;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function pairedRound(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
): Promise<[number, number]> {
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

const missing = softhsmMissing();
if (missing !== undefined) {
  console.log(`signing with a PKCS#11 token: skipped (${missing})`);
} else {
  const hsm = await startSoftHsm('bench');
  process.env['SOFTHSM2_CONF'] = hsm.conf;
  const root = await rootCA('Bench Root');
  const { descriptor } = describeManifest(SAMPLE_MANIFEST);
  const kinds = [
    {
      name: 'RSA-2048',
      token: 'rsa:2048',
      file: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
    },
    {
      name: 'EC P-256',
      token: 'EC:prime256v1',
      file: () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }),
    },
  ] as const;
  let id = 1;
  for (const kind of kinds) {
    const hex = (id++).toString(16).padStart(2, '0');
    const label = kind.name.replace(/\W/g, '');
    const publicKey = await generateTokenKey(hsm, kind.token, hex, label);
    await certifyTokenKey(hsm, publicKey, root, hex, label);
    const token: SigningKey = await openPkcs11Key(hsm.uri(label), {});
    const pair = kind.file();
    const file = fileSigningKey(pair.privateKey);
    try {
      const inToken = () => signWithKey(descriptor, token);
      const inFile = () => signWithKey(descriptor, file);
      await inToken();
      await inFile();
      const tokenRounds: number[] = [];
      const fileRounds: number[] = [];
      const ratios: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const [t, f] = await pairedRound(inToken, inFile);
        tokenRounds.push(t);
        fileRounds.push(f);
        ratios.push(t / f);
      }
      console.log(
        `sign ${kind.name.padEnd(9)} key file ${median(fileRounds).toFixed(0).padStart(6)}/s   SoftHSM token ${median(
          tokenRounds,
        )
          .toFixed(0)
          .padStart(6)}/s   ratio ${(median(ratios) * 100).toFixed(1)}%`,
      );
    } finally {
      await token.close?.();
    }
  }
}
