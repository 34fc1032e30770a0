/**
 * Keys inside PKCS#11 tokens (HSMs, smart cards, SoftHSM): the token signs, the private key
 * never leaves it. The binding (`pkcs11js`, a native addon and an optional dependency) loads
 * only when a `pkcs11:` key is used, so nothing else pays for it or depends on it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type * as Pkcs11js from 'pkcs11js';
import { InvalidInputError, type Nv2ErrorCode } from '../errors.js';
import {
  type Algorithm,
  type KeySignature,
  type SigningKey,
  algorithmHash,
  keySpecOf,
} from '../signature/index.js';
import { loadCertificates } from '../x509/index.js';
import { pkcs11Error, userPinProblem } from './pkcs11-errors.js';
import { type Pkcs11Uri, parsePkcs11Uri } from './pkcs11-uri.js';

/** The environment variable that holds a token's user PIN. */
export const PIN_ENV = 'NV2_PKCS11_PIN';
/** The environment variable that names the PKCS#11 module when the URI does not. */
export const MODULE_ENV = 'NV2_PKCS11_MODULE';

/** The most bytes read from a PIN file. */
const MAX_PIN_FILE_BYTES = 4096;
/** Signature buffer: large enough for RSA-4096 (512 bytes) and P-521 (132 bytes). */
const MAX_SIGNATURE_BYTES = 1024;

/** Options of `openPkcs11Key`. */
export interface Pkcs11KeyOptions {
  /** The environment: `NV2_PKCS11_PIN`, `NV2_PKCS11_MODULE`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** DER certificates (signing certificate first); default the token's certificate. */
  readonly certificateChain?: readonly Uint8Array[];
  /** Asks the user for the PIN (a terminal prompt); undefined when nobody can be asked. */
  readonly askPin?: (prompt: string) => Promise<string>;
}

type Binding = typeof Pkcs11js;

let binding: Promise<Binding> | undefined;

/** Loads the native binding once, on first use. */
function loadBinding(): Promise<Binding> {
  binding ??= import('pkcs11js').then(
    (m) => ((m as { default?: Binding }).default ?? m) as Binding,
    (err: unknown) => {
      binding = undefined;
      throw new InvalidInputError(
        'NV2_ERR_PKCS11_UNAVAILABLE',
        `PKCS#11 support is not available: the pkcs11js binding did not load (${(err as Error).message.split('\n')[0]})`,
        { cause: err },
      );
    },
  );
  return binding;
}

function error(code: Nv2ErrorCode, message: string, cause?: unknown): InvalidInputError {
  return new InvalidInputError(code, message, cause === undefined ? undefined : { cause });
}

function trimmed(value: string): string {
  return value.replace(/[\s\0]+$/, '');
}

function readUlong(value: Buffer): number {
  // CK_ULONG is native-endian and as wide as the platform's long.
  return value.byteLength >= 8 ? Number(value.readBigUInt64LE(0)) : value.readUInt32LE(0);
}

async function readPin(uri: Pkcs11Uri, label: string, options: Pkcs11KeyOptions): Promise<string> {
  if (uri.pinSource !== undefined) {
    const path = uri.pinSource.startsWith('file:')
      ? decodeURIComponent(uri.pinSource.slice('file:'.length).replace(/^\/\/(?=\/)/, ''))
      : uri.pinSource;
    if (
      !path.startsWith('/') &&
      uri.pinSource.includes(':') &&
      !uri.pinSource.startsWith('file:')
    ) {
      throw error(
        'NV2_ERR_PKCS11_URI_INVALID',
        `pin-source "${uri.pinSource}" is not a file: only file:PATH is supported`,
      );
    }
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (err) {
      throw error(
        'NV2_ERR_FILE_NOT_FOUND',
        `cannot read the PIN file ${path}: ${(err as Error).message}`,
        err,
      );
    }
    if (data.byteLength > MAX_PIN_FILE_BYTES) {
      throw error('NV2_ERR_FILE_TOO_LARGE', `the PIN file ${path} is too large`);
    }
    // A file written by `echo` ends with a newline that is not part of the PIN.
    return data.toString('utf8').replace(/\r?\n$/, '');
  }
  const fromEnv = options.env?.[PIN_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (options.askPin !== undefined) return options.askPin(`PIN for token "${label}": `);
  throw error(
    'NV2_ERR_PKCS11_PIN_REQUIRED',
    `token "${label}" needs a PIN: add pin-source=file:PATH to the URI or set ${PIN_ENV}`,
  );
}

interface Session {
  readonly p: Binding;
  readonly module: Pkcs11js.PKCS11;
  readonly handle: Buffer;
  readonly label: string;
}

function openModule(p: Binding, path: string): Pkcs11js.PKCS11 {
  const module = new p.PKCS11();
  try {
    module.load(path);
  } catch (err) {
    throw error(
      'NV2_ERR_PKCS11_MODULE',
      `cannot load the PKCS#11 module ${path}: ${(err as Error).message.split('\n')[0]}`,
      err,
    );
  }
  try {
    module.C_Initialize();
  } catch (err) {
    if ((err as { code?: unknown }).code !== p.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      throw error(
        'NV2_ERR_PKCS11_MODULE',
        `the PKCS#11 module ${path} failed to initialize: ${(err as Error).message.split('\n')[0]}`,
        err,
      );
    }
  }
  return module;
}

async function openSession(
  p: Binding,
  module: Pkcs11js.PKCS11,
  uri: Pkcs11Uri,
  options: Pkcs11KeyOptions,
): Promise<Session> {
  let slots: Buffer[];
  try {
    slots = module.C_GetSlotList(true);
  } catch (err) {
    throw pkcs11Error(err, 'listing the tokens');
  }
  for (const slot of slots) {
    if (uri.slotId !== undefined && slot.readUIntLE(0, Math.min(6, slot.byteLength)) !== uri.slotId)
      continue;
    const info = module.C_GetTokenInfo(slot);
    const label = trimmed(info.label);
    if (uri.token !== undefined && label !== uri.token) continue;
    if (uri.manufacturer !== undefined && trimmed(info.manufacturerID) !== uri.manufacturer)
      continue;
    if (uri.model !== undefined && trimmed(info.model) !== uri.model) continue;
    if (uri.serial !== undefined && trimmed(info.serialNumber) !== uri.serial) continue;
    // A locked or never-set user PIN is told before any PIN is asked for.
    const pinProblem =
      (info.flags & p.CKF_LOGIN_REQUIRED) !== 0 ? userPinProblem(label, info.flags) : undefined;
    if (pinProblem !== undefined) throw pinProblem;
    let handle: Buffer;
    try {
      handle = module.C_OpenSession(slot, p.CKF_SERIAL_SESSION);
    } catch (err) {
      throw pkcs11Error(err, `opening a session with token "${label}"`);
    }
    const session = { p, module, handle, label };
    if ((info.flags & p.CKF_LOGIN_REQUIRED) !== 0) {
      const pin = await readPin(uri, label, options);
      try {
        module.C_Login(handle, p.CKU_USER, pin);
      } catch (err) {
        if ((err as { code?: unknown }).code !== p.CKR_USER_ALREADY_LOGGED_IN) {
          closeSession(session);
          // The flags after the refusal say how many tries are left.
          let flags: number | undefined;
          try {
            flags = module.C_GetTokenInfo(slot).flags;
          } catch {
            flags = undefined;
          }
          throw pkcs11Error(err, `logging in to token "${label}"`, flags);
        }
      }
    }
    return session;
  }
  throw error('NV2_ERR_PKCS11_TOKEN_NOT_FOUND', `no token matches ${uriForMessages(uri)}`);
}

function closeSession(session: Session): void {
  try {
    session.module.C_CloseSession(session.handle);
  } catch {
    // Closing is best effort: the token may already have gone.
  }
}

/** The URI with its query (module path, PIN source) left out, for messages. */
function uriForMessages(uri: Pkcs11Uri): string {
  return uri.text.split('?')[0]!;
}

function findObjects(session: Session, template: Pkcs11js.Template): Buffer[] {
  const { module, handle } = session;
  module.C_FindObjectsInit(handle, template);
  try {
    return module.C_FindObjects(handle, 16);
  } finally {
    module.C_FindObjectsFinal(handle);
  }
}

function objectTemplate(p: Binding, uri: Pkcs11Uri, cls: number): Pkcs11js.Template {
  const template: Pkcs11js.Template = [{ type: p.CKA_CLASS, value: cls }];
  if (uri.object !== undefined) template.push({ type: p.CKA_LABEL, value: uri.object });
  if (uri.id !== undefined) template.push({ type: p.CKA_ID, value: uri.id });
  return template;
}

function attribute(session: Session, object: Buffer, type: number): Buffer {
  const [result] = session.module.C_GetAttributeValue(session.handle, object, [{ type }]);
  return result!.value as Buffer;
}

/** The mechanism the token signs `alg` with, and whether nv2 hashes first (ECDSA). */
function mechanismFor(
  p: Binding,
  alg: Algorithm,
): { mechanism: Pkcs11js.Mechanism; prehash: boolean } {
  const hash = algorithmHash(alg);
  const rsa = {
    sha256: p.CKM_SHA256_RSA_PKCS,
    sha384: p.CKM_SHA384_RSA_PKCS,
    sha512: p.CKM_SHA512_RSA_PKCS,
  };
  const pss = {
    sha256: p.CKM_SHA256_RSA_PKCS_PSS,
    sha384: p.CKM_SHA384_RSA_PKCS_PSS,
    sha512: p.CKM_SHA512_RSA_PKCS_PSS,
  };
  const digest = { sha256: p.CKM_SHA256, sha384: p.CKM_SHA384, sha512: p.CKM_SHA512 };
  const mgf = { sha256: p.CKG_MGF1_SHA256, sha384: p.CKG_MGF1_SHA384, sha512: p.CKG_MGF1_SHA512 };
  const bytes = { sha256: 32, sha384: 48, sha512: 64 };
  if (alg.startsWith('RS')) return { mechanism: { mechanism: rsa[hash] }, prehash: false };
  if (alg.startsWith('PS')) {
    // RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash (RFC 7518 §3.5).
    const parameter: Pkcs11js.RsaPSS = {
      type: p.CK_PARAMS_RSA_PSS,
      hashAlg: digest[hash],
      mgf: mgf[hash],
      saltLen: bytes[hash],
    };
    return { mechanism: { mechanism: pss[hash], parameter }, prehash: false };
  }
  // CKM_ECDSA signs a hash the caller computed, and returns r‖s at the curve's width: the
  // form JWS (RFC 7518 §3.4) and COSE (RFC 9053 §2.1) both carry, so no conversion is needed.
  return { mechanism: { mechanism: p.CKM_ECDSA }, prehash: true };
}

/**
 * Opens a key inside a PKCS#11 token, named by an RFC 7512 URI, as a signing key. The
 * module comes from the URI's `module-path`, else `NV2_PKCS11_MODULE`; the PIN from the
 * URI's `pin-source`, else `NV2_PKCS11_PIN`, else `askPin`. The certificate chain is
 * `certificateChain` when given, else the token's certificate with the key's ID (or label).
 * Close the key when done: it holds a session with the token.
 *
 * @example
 * const key = await openPkcs11Key('pkcs11:token=ci;object=release?module-path=/usr/lib/softhsm/libsofthsm2.so',
 *   { env: process.env });
 * try { await signWithKey(descriptor, key); } finally { await key.close?.(); }
 * @throws InvalidInputError NV2_ERR_PKCS11_* (see docs/errors.md), NV2_ERR_UNSUPPORTED_KEY,
 *   NV2_ERR_KEY_CERT_MISMATCH
 */
export async function openPkcs11Key(
  uriText: string,
  options: Pkcs11KeyOptions = {},
): Promise<SigningKey> {
  const uri = parsePkcs11Uri(uriText);
  const modulePath = uri.modulePath ?? options.env?.[MODULE_ENV];
  if (modulePath === undefined || modulePath === '') {
    throw error(
      'NV2_ERR_PKCS11_MODULE',
      `${uriForMessages(uri)}: no PKCS#11 module: add module-path=/path/to/module.so to the URI or set ${MODULE_ENV}`,
    );
  }
  const p = await loadBinding();
  const module = openModule(p, modulePath);
  let session: Session | undefined;
  try {
    session = await openSession(p, module, uri, options);
    const name = uriForMessages(uri);
    const keys = findObjects(session, objectTemplate(p, uri, p.CKO_PRIVATE_KEY));
    if (keys.length !== 1) {
      throw error(
        'NV2_ERR_PKCS11_OBJECT_NOT_FOUND',
        keys.length === 0
          ? `token "${session.label}" has no private key matching ${name}`
          : `${keys.length} private keys of token "${session.label}" match ${name}: add object= or id= to pick one`,
      );
    }
    const privateKey = keys[0]!;
    let chain = options.certificateChain;
    if (chain === undefined || chain.length === 0) {
      // The certificate that belongs to the key: same CKA_ID when the key has one, else the URI's label.
      const id = attribute(session, privateKey, p.CKA_ID);
      const template: Pkcs11js.Template = [{ type: p.CKA_CLASS, value: p.CKO_CERTIFICATE }];
      if (id.byteLength > 0) template.push({ type: p.CKA_ID, value: id });
      else if (uri.object !== undefined) template.push({ type: p.CKA_LABEL, value: uri.object });
      const certs = findObjects(session, template);
      if (certs.length === 0) {
        throw error(
          'NV2_ERR_PKCS11_OBJECT_NOT_FOUND',
          `token "${session.label}" has no certificate for the key ${name}: import one, or give the certificate file with -c`,
        );
      }
      chain = [attribute(session, certs[0]!, p.CKA_VALUE)];
    }
    const leaf = loadCertificates(chain[0]!, `certificate of ${name}`)[0]!;
    const publicKey = leaf.publicKey;
    const keyType = readUlong(attribute(session, privateKey, p.CKA_KEY_TYPE));
    const certType = publicKey.asymmetricKeyType;
    if (
      (keyType === p.CKK_RSA && certType !== 'rsa') ||
      (keyType === p.CKK_EC && certType !== 'ec') ||
      (keyType !== p.CKK_RSA && keyType !== p.CKK_EC)
    ) {
      throw error(
        keyType !== p.CKK_RSA && keyType !== p.CKK_EC
          ? 'NV2_ERR_UNSUPPORTED_KEY'
          : 'NV2_ERR_KEY_CERT_MISMATCH',
        keyType !== p.CKK_RSA && keyType !== p.CKK_EC
          ? `${name} is neither an RSA nor an EC key`
          : `${name} does not belong to certificate "${leaf.subject}"`,
      );
    }
    const keySpec = keySpecOf(publicKey);
    if (keySpec === undefined) {
      throw error(
        'NV2_ERR_UNSUPPORTED_KEY',
        `${name}: the key of certificate "${leaf.subject}" is not RSA 2048/3072/4096 or EC P-256/P-384/P-521`,
      );
    }
    const open: Session = session;
    let closed = false;
    const key: SigningKey = {
      name,
      keySpec,
      publicKey,
      certificateChain: chain,
      sign(alg: Algorithm, data: Uint8Array): Promise<KeySignature> {
        if (closed) return Promise.reject(error('NV2_ERR_PKCS11_FAILED', `${name} is closed`));
        const { mechanism, prehash } = mechanismFor(p, alg);
        const input = prehash
          ? createHash(algorithmHash(alg)).update(data).digest()
          : Buffer.from(data);
        try {
          module.C_SignInit(open.handle, mechanism, privateKey);
          const signature = module.C_Sign(open.handle, input, Buffer.alloc(MAX_SIGNATURE_BYTES));
          return Promise.resolve({ signature: Buffer.from(signature) });
        } catch (err) {
          return Promise.reject(pkcs11Error(err, `signing ${alg} with ${name}`));
        }
      },
      close(): Promise<void> {
        if (!closed) {
          closed = true;
          closeSession(open);
          try {
            module.C_Finalize();
          } catch {
            // Already finalized elsewhere: nothing is left to release.
          }
        }
        return Promise.resolve();
      },
    };
    return key;
  } catch (err) {
    if (session !== undefined) closeSession(session);
    try {
      module.C_Finalize();
    } catch {
      // Finalizing after a failure is best effort.
    }
    throw err instanceof InvalidInputError ? err : pkcs11Error(err, uriForMessages(uri));
  }
}
