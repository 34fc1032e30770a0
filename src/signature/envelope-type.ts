import { MediaTypes } from '../oci/index.js';

/**
 * Which Notary Project envelope `envelope` looks like, from its first byte: `{` (after white
 * space) is a JWS JSON serialization, CBOR tag 18 (0xd2) a COSE_Sign1; `undefined` for
 * anything else (an nv2 JWS compact serialization starts with `e`). Light on purpose: commands
 * decide which verifier to load from it, before loading one.
 */
export function sniffEnvelopeMediaType(envelope: Uint8Array): string | undefined {
  let i = 0;
  while (i < envelope.length && [0x20, 0x09, 0x0a, 0x0d].includes(envelope[i]!)) i++;
  if (envelope[i] === 0x7b) return MediaTypes.notationJws;
  if (envelope[0] === 0xd2) return MediaTypes.notationCose;
  return undefined;
}
