/**
 * The verification levels of the Notary Project trust policy (`signatureVerification.level`)
 * and the action each assigns to every check.
 */
import type { ValidationAction, ValidationType } from '../trust/index.js';

/** The levels of `signatureVerification.level`. */
export const VERIFICATION_LEVELS = ['strict', 'permissive', 'audit', 'skip'] as const;
export type VerificationLevel = (typeof VERIFICATION_LEVELS)[number];

/** Each level's action per check (Notary Project trust policy specification). */
export const LEVEL_ACTIONS: Readonly<
  Record<Exclude<VerificationLevel, 'skip'>, Readonly<Record<ValidationType, ValidationAction>>>
> = {
  strict: {
    integrity: 'enforce',
    authenticity: 'enforce',
    authenticTimestamp: 'enforce',
    expiry: 'enforce',
    revocation: 'enforce',
  },
  permissive: {
    integrity: 'enforce',
    authenticity: 'enforce',
    authenticTimestamp: 'log',
    expiry: 'log',
    revocation: 'log',
  },
  audit: {
    integrity: 'enforce',
    authenticity: 'log',
    authenticTimestamp: 'log',
    expiry: 'log',
    revocation: 'log',
  },
};
