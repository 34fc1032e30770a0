import type { SigningScheme } from './constants.js';

/** A signed attribute beyond those of the specification (notation's `extendedSignedAttributes`). */
export interface ExtendedAttribute {
  readonly key: string;
  readonly value: unknown;
  readonly critical: boolean;
}

/** What goes into the protected header. */
export interface SignRequest {
  readonly signingScheme: SigningScheme;
  /** Signing time (the authentic signing time under `notary.x509.signingAuthority`); whole seconds are kept. */
  readonly signingTime: Date;
  readonly expiry?: Date;
  readonly extendedAttributes?: readonly ExtendedAttribute[];
  readonly signingAgent?: string;
}
