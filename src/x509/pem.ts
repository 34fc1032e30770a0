import { type KeyObject, createPrivateKey, createPublicKey } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import { Certificate } from './certificate.js';

/** A PEM block: its label (`CERTIFICATE`, `PRIVATE KEY`, …) and DER contents. */
export interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** Splits PEM text (RFC 7468) into its blocks; text outside blocks is ignored. */
export function parsePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const body = m[2]!.replace(/\s+/g, '');
    // Encrypted legacy PEM carries "Proc-Type:" headers inside the block.
    const label = m[1]!;
    if (/[^A-Za-z0-9+/=]/.test(body)) {
      blocks.push({ label: `${label} (with headers)`, der: Buffer.alloc(0) });
      continue;
    }
    blocks.push({ label, der: Buffer.from(body, 'base64') });
  }
  return blocks;
}

function isPem(data: Uint8Array): boolean {
  return Buffer.from(data.subarray(0, 4096)).toString('latin1').includes('-----BEGIN ');
}

/**
 * Loads one or more certificates: PEM with any number of CERTIFICATE blocks (a chain, in
 * file order), or a single DER certificate. Other PEM blocks (a key in the same file) are skipped.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_CERTIFICATE
 */
export function loadCertificates(data: Uint8Array, source: string): Certificate[] {
  if (!isPem(data)) {
    try {
      return [new Certificate(data)];
    } catch (err) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_CERTIFICATE',
        `${source}: no PEM certificate and not a DER certificate`,
        {
          cause: err,
        },
      );
    }
  }
  const blocks = parsePem(Buffer.from(data).toString('latin1')).filter(
    (b) => b.label === 'CERTIFICATE',
  );
  if (blocks.length === 0) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_CERTIFICATE',
      `${source}: no CERTIFICATE block found`,
    );
  }
  return blocks.map((b, i) => {
    try {
      return new Certificate(b.der);
    } catch (err) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_CERTIFICATE',
        `${source}: certificate ${i + 1} is not a valid X.509 certificate`,
        {
          cause: err,
        },
      );
    }
  });
}

type PrivateKeyLabel = 'PRIVATE KEY' | 'RSA PRIVATE KEY' | 'EC PRIVATE KEY';

/**
 * What each private key label holds: its DER structure and, for the algorithm-specific ones,
 * the only key type it can hold (PKCS#1 is RSA's, SEC1 is EC's; PKCS#8 says its algorithm).
 */
const PRIVATE_KEY_FORMATS: Record<
  PrivateKeyLabel,
  { type: 'pkcs8' | 'pkcs1' | 'sec1'; keyType?: 'rsa' | 'ec' }
> = {
  'PRIVATE KEY': { type: 'pkcs8' },
  'RSA PRIVATE KEY': { type: 'pkcs1', keyType: 'rsa' },
  'EC PRIVATE KEY': { type: 'sec1', keyType: 'ec' },
};
const PRIVATE_KEY_LABELS: ReadonlySet<string> = new Set(Object.keys(PRIVATE_KEY_FORMATS));

/**
 * Loads a private key: PEM PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or SEC1
 * (`EC PRIVATE KEY`), or DER PKCS#8. Encrypted keys are refused with a clear message.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_KEY
 */
export function loadPrivateKey(data: Uint8Array, source: string): KeyObject {
  if (!isPem(data)) {
    try {
      return createPrivateKey({ key: Buffer.from(data), format: 'der', type: 'pkcs8' });
    } catch (err) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_KEY',
        `${source}: not a PEM or DER (PKCS#8) private key`,
        { cause: err },
      );
    }
  }
  const blocks = parsePem(Buffer.from(data).toString('latin1'));
  if (
    blocks.some((b) => b.label === 'ENCRYPTED PRIVATE KEY' || b.label.endsWith('(with headers)'))
  ) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_KEY',
      `${source}: the private key is encrypted; decrypt it first (openssl pkcs8 -in KEY -out PLAIN)`,
    );
  }
  const block = blocks.find((b) => PRIVATE_KEY_LABELS.has(b.label));
  if (block === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_KEY',
      `${source}: no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block found`,
    );
  }
  const format = PRIVATE_KEY_FORMATS[block.label as PrivateKeyLabel];
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: block.der, format: 'der', type: format.type });
  } catch (err) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_KEY',
      `${source}: the ${block.label} block is not a valid key`,
      { cause: err },
    );
  }
  // The runtime's parser does not hold the structure to the type asked for (Node 22 and 24,
  // with OpenSSL 3.5, load an SEC1 key asked for as PKCS#1), so an EC key labelled RSA PRIVATE
  // KEY would load: nv2 holds the label to the key it names.
  if (format.keyType !== undefined && key.asymmetricKeyType !== format.keyType) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_KEY',
      `${source}: the ${block.label} block holds an ${key.asymmetricKeyType ?? 'unknown'} key, not an ${format.keyType} key`,
    );
  }
  return key;
}

/** Whether a private key and a public key form a pair. */
export function keysMatch(privateKey: KeyObject, publicKey: KeyObject): boolean {
  return createPublicKey(privateKey).equals(publicKey);
}
