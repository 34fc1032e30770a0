import { parseReference, registryHostname } from '../oci/index.js';
import type { Certificate } from '../x509/index.js';

/** A certificate's subject common names and DNS SANs, lower-cased: what reference hosts are matched against. */
export function certificateNames(cert: Certificate): ReadonlySet<string> {
  return new Set([...cert.commonNames, ...cert.dnsNames].map((n) => n.toLowerCase()));
}

/**
 * Whether a registry host (`registry.io:5000`) is one of `names` (from `certificateNames`):
 * case-insensitively, with or without its port; exact match only, no wildcards, no suffixes
 * (nv2 signature spec, verification rule 6).
 */
export function registryMatchesNames(registry: string, names: ReadonlySet<string>): boolean {
  const host = registry.toLowerCase();
  return names.has(host) || names.has(registryHostname(host));
}

/** The registry host of `reference` (after Docker normalization) when it matches none of `names`. */
export function unmatchedReferenceHost(
  reference: string,
  names: ReadonlySet<string>,
): string | undefined {
  const host = parseReference(reference).registry.toLowerCase();
  return registryMatchesNames(host, names) ? undefined : host;
}
