/**
 * Signing keys: named keys in `signingkeys.json` (notation's format), keys in files, and keys
 * inside PKCS#11 tokens. Each opens as a `SigningKey`, the one interface every signature
 * format signs through.
 */
export { openEntry, openSigningKey, readCertificateChain } from './open.js';
export type { EntryOptions, OpenSigningKeyOptions } from './open.js';
export { MODULE_ENV, PIN_ENV, openPkcs11Key } from './pkcs11.js';
export type { Pkcs11KeyOptions } from './pkcs11.js';
export { parsePkcs11Uri } from './pkcs11-uri.js';
export type { Pkcs11Uri } from './pkcs11-uri.js';
export {
  SIGNING_KEYS_FILE,
  addSigningKey,
  findSigningKey,
  formatSigningKeys,
  isPkcs11Uri,
  isPluginKey,
  parseSigningKeys,
  readSigningKeys,
  removeSigningKey,
  resolveEntry,
  setDefaultSigningKey,
  writeSigningKeys,
} from './signing-keys.js';
export type { KeyPairEntry, PluginKeyEntry, SigningKeyEntry, SigningKeys } from './signing-keys.js';
