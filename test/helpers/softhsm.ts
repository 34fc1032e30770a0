/**
 * A SoftHSM 2 token per test run: its own softhsm2.conf and token directory in a temporary
 * directory (SOFTHSM2_CONF), keys generated inside the token by pkcs11-tool (OpenSC), and
 * certificates for them issued by the test PKI and imported beside them.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import { join } from 'node:path';
import { KeyUsageFlags, issueCertificate, type Certificate } from '../../src/x509/index.js';
import { run } from './cli.js';
import { tempDir } from './fixtures.js';
import { NOW, type TestIdentity, days } from './pki.js';

/** SoftHSM 2's PKCS#11 module as Debian installs it. */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
/** The programs the tests run: SoftHSM's token initializer and OpenSC's pkcs11-tool. */
export const SOFTHSM_PROGRAMS = ['/usr/bin/softhsm2-util', '/usr/bin/pkcs11-tool'] as const;

/** Why the SoftHSM tests cannot run here, or undefined when they can. */
export function softhsmMissing(): string | undefined {
  for (const path of [SOFTHSM_MODULE, ...SOFTHSM_PROGRAMS]) {
    if (!existsSync(path)) return `${path} is missing (Debian packages softhsm2 and opensc)`;
  }
  try {
    createRequire(import.meta.url)('pkcs11js');
  } catch (err) {
    return `the pkcs11js binding does not load: ${(err as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

/** An initialized token. */
export interface SoftHsm {
  readonly dir: string;
  /** The softhsm2.conf to put in SOFTHSM2_CONF. */
  readonly conf: string;
  readonly label: string;
  readonly pin: string;
  /** A file holding the PIN (with a trailing newline, as `echo` writes it). */
  readonly pinFile: string;
  /** `pkcs11:token=…;object=LABEL?module-path=…&pin-source=file:…` for a key. */
  uri(object: string, query?: { pin?: boolean; module?: string }): string;
}

/** Runs pkcs11-tool against the token; throws with its output when it fails. */
async function tool(hsm: SoftHsm, args: readonly string[]): Promise<string> {
  const result = await runWithConf(hsm.conf, '/usr/bin/pkcs11-tool', [
    '--module',
    SOFTHSM_MODULE,
    '--token-label',
    hsm.label,
    ...args,
  ]);
  if (result.code !== 0) throw new Error(`pkcs11-tool ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

function runWithConf(conf: string, command: string, args: readonly string[]) {
  // SOFTHSM2_CONF is read from the environment by the module in every process that loads it.
  const previous = process.env['SOFTHSM2_CONF'];
  process.env['SOFTHSM2_CONF'] = conf;
  try {
    return run(command, args);
  } finally {
    if (previous === undefined) delete process.env['SOFTHSM2_CONF'];
    else process.env['SOFTHSM2_CONF'] = previous;
  }
}

/**
 * Initializes a token labelled `label` with user PIN `pin` in a new temporary directory.
 * Set `process.env.SOFTHSM2_CONF = hsm.conf` for processes that use it.
 */
export async function startSoftHsm(label = 'nv2-test', pin = '123456'): Promise<SoftHsm> {
  const dir = await tempDir();
  const conf = join(dir, 'softhsm2.conf');
  await writeFile(
    conf,
    `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, 'tokens'));
  const init = await runWithConf(conf, '/usr/bin/softhsm2-util', [
    '--init-token',
    '--free',
    '--label',
    label,
    '--pin',
    pin,
    '--so-pin',
    `so-${pin}`,
  ]);
  if (init.code !== 0) throw new Error(`softhsm2-util --init-token: ${init.stderr}`);
  const pinFile = join(dir, 'pin.txt');
  await writeFile(pinFile, `${pin}\n`, { mode: 0o600 });
  return {
    dir,
    conf,
    label,
    pin,
    pinFile,
    uri(object, query = {}) {
      const params = [`module-path=${query.module ?? SOFTHSM_MODULE}`];
      if (query.pin !== false) params.push(`pin-source=file:${pinFile}`);
      return `pkcs11:token=${label};object=${encodeURIComponent(object)}?${params.join('&')}`;
    },
  };
}

/**
 * Initialises one more token in `hsm` with a security officer PIN only, as an administrator
 * does before handing it over: its user PIN is not set (`CKF_USER_PIN_INITIALIZED` clear).
 */
export async function initTokenWithoutUserPin(hsm: SoftHsm, label: string): Promise<void> {
  const slots = await runWithConf(hsm.conf, '/usr/bin/pkcs11-tool', [
    '--module',
    SOFTHSM_MODULE,
    '--list-slots',
  ]);
  // SoftHSM always offers one uninitialised token: "Slot N (0x…): …" then "token state: uninitialized".
  const free = /Slot \d+ \((0x[0-9a-f]+)\)[^\n]*\n\s+token state:\s+uninitialized/.exec(
    slots.stdout,
  );
  if (free === null) throw new Error(`no free SoftHSM slot:\n${slots.stdout}`);
  const init = await runWithConf(hsm.conf, '/usr/bin/pkcs11-tool', [
    '--module',
    SOFTHSM_MODULE,
    '--slot',
    free[1]!,
    '--init-token',
    '--label',
    label,
    '--so-pin',
    `so-${hsm.pin}`,
  ]);
  if (init.code !== 0) throw new Error(`pkcs11-tool --init-token: ${init.stderr}`);
}

/** Key types pkcs11-tool generates: `rsa:2048`, `EC:prime256v1`, `EC:secp384r1`, … */
export type TokenKeyType = string;

/**
 * Generates a key pair inside the token (the private key is never outside it) with CKA_ID
 * `id` (hex) and CKA_LABEL `label`, and returns its public key.
 */
export async function generateTokenKey(
  hsm: SoftHsm,
  type: TokenKeyType,
  id: string,
  label: string,
): Promise<KeyObject> {
  await tool(hsm, [
    '--login',
    '--pin',
    hsm.pin,
    '--keypairgen',
    '--key-type',
    type,
    '--id',
    id,
    '--label',
    label,
  ]);
  return readTokenPublicKey(hsm, id);
}

const CURVES: Readonly<Record<string, string>> = {
  // DER OIDs of CKA_EC_PARAMS → JWK curve names.
  '06082a8648ce3d030107': 'P-256',
  '06052b81040022': 'P-384',
  '06052b81040023': 'P-521',
};

/**
 * Reads a public key object of the token through the PKCS#11 binding (pkcs11-tool cannot
 * export every EC key): RSA from CKA_MODULUS and CKA_PUBLIC_EXPONENT, EC from CKA_EC_PARAMS
 * and CKA_EC_POINT.
 */
async function readTokenPublicKey(hsm: SoftHsm, id: string): Promise<KeyObject> {
  const p = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11js;
  const previous = process.env['SOFTHSM2_CONF'];
  process.env['SOFTHSM2_CONF'] = hsm.conf;
  const module = new p.PKCS11();
  module.load(SOFTHSM_MODULE);
  module.C_Initialize();
  try {
    const slot = module
      .C_GetSlotList(true)
      .find((s) => module.C_GetTokenInfo(s).label.trim() === hsm.label)!;
    const session = module.C_OpenSession(slot, p.CKF_SERIAL_SESSION);
    module.C_FindObjectsInit(session, [
      { type: p.CKA_CLASS, value: p.CKO_PUBLIC_KEY },
      { type: p.CKA_ID, value: Buffer.from(id, 'hex') },
    ]);
    const [object] = module.C_FindObjects(session, 1);
    module.C_FindObjectsFinal(session);
    const get = (type: number) =>
      module.C_GetAttributeValue(session, object!, [{ type }])[0]!.value as Buffer;
    const keyType = get(p.CKA_KEY_TYPE).readUInt32LE(0);
    if (keyType === p.CKK_RSA) {
      return createPublicKey({
        key: {
          kty: 'RSA',
          n: get(p.CKA_MODULUS).toString('base64url'),
          e: get(p.CKA_PUBLIC_EXPONENT).toString('base64url'),
        },
        format: 'jwk',
      });
    }
    const crv = CURVES[get(p.CKA_EC_PARAMS).toString('hex')]!;
    // CKA_EC_POINT is a DER OCTET STRING holding the uncompressed point 04‖x‖y.
    const wrapped = get(p.CKA_EC_POINT);
    const point = wrapped.subarray(
      wrapped.byteLength - (wrapped[1]! & 0x80 ? wrapped[2]! : wrapped[1]!),
    );
    const size = (point.byteLength - 1) / 2;
    return createPublicKey({
      key: {
        kty: 'EC',
        crv,
        x: point.subarray(1, 1 + size).toString('base64url'),
        y: point.subarray(1 + size).toString('base64url'),
      },
      format: 'jwk',
    });
  } finally {
    module.C_Finalize();
    if (previous === undefined) delete process.env['SOFTHSM2_CONF'];
    else process.env['SOFTHSM2_CONF'] = previous;
  }
}

/**
 * Issues a code-signing certificate for a token key by `issuer` (valid around NOW unless
 * `validity` says otherwise) and, unless `store` is false, imports it into the token under
 * the key's ID and label.
 */
export async function certifyTokenKey(
  hsm: SoftHsm,
  publicKey: KeyObject,
  issuer: TestIdentity,
  id: string,
  label: string,
  options: { cn?: string; store?: boolean; notBefore?: Date; notAfter?: Date } = {},
): Promise<Certificate> {
  const cn = options.cn ?? `${label}.hsm.example`;
  const cert = await issueCertificate({
    subject: `CN=${cn}`,
    publicKey,
    issuer: { key: issuer.key, certificate: issuer.cert },
    notBefore: options.notBefore ?? new Date(NOW.getTime() - days(1)),
    notAfter: options.notAfter ?? new Date(NOW.getTime() + days(30)),
    basicConstraints: { ca: false },
    keyUsage: KeyUsageFlags.digitalSignature,
    dnsNames: [cn],
  });
  if (options.store !== false) {
    const file = join(hsm.dir, `${id}.crt.der`);
    await writeFile(file, cert.der);
    await tool(hsm, [
      '--login',
      '--pin',
      hsm.pin,
      '--write-object',
      file,
      '--type',
      'cert',
      '--id',
      id,
      '--label',
      label,
    ]);
  }
  return cert;
}
