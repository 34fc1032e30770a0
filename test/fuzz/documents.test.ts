/**
 * Property-based tests of the parsers of what users and registries hand nv2: references,
 * manifests and indexes (client side, OCI layouts and the registry's stored facts) and
 * trust policy documents. Every input parses or is refused with a typed error. See fuzz.ts
 * for replaying a failure.
 */
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { StorageError } from '../../src/errors.js';
import { parseManifest, sniffManifestMediaType } from '../../src/oci/manifest-facts.js';
import {
  type Digest,
  MediaTypes,
  describeManifest,
  formatReference,
  parseReference,
  withDefaultTag,
} from '../../src/oci/index.js';
import { parseTrustPolicy } from '../../src/policy/index.js';
import { readManifestFacts } from '../../src/registry/storage/manifest-validation.js';
import { SAMPLE_MANIFEST } from '../helpers/fixtures.js';
import { anyText, fuzzParameters, mutateBytes, mutateText, parsesOrRefuses } from './fuzz.js';

const DIGEST = `sha256:${'a'.repeat(64)}` as Digest;

/** Pieces references are made of, valid and not, so that most inputs get deep into the grammar. */
const referencePiece = fc.oneof(
  fc.constantFrom(
    'registry.example.com',
    'localhost:5000',
    '127.0.0.1:5000',
    '[::1]:5000',
    'docker.io',
    'library',
    'app',
    'a.b-c__d',
    ':v1',
    ':latest',
    `@${DIGEST}`,
    `@sha512:${'b'.repeat(128)}`,
    '@sha256:abc',
    '/',
    '//',
    ':',
    '@',
    '.',
    '-',
    '_',
    'A',
    'x'.repeat(130),
  ),
  fc.stringMatching(/^[a-z0-9._:@/-]{0,20}$/),
  anyText(10),
);
const referenceText = fc.array(referencePiece, { maxLength: 8 }).map((parts) => parts.join(''));

const descriptorArb = fc.record(
  {
    mediaType: fc.oneof(fc.constantFrom(...Object.values(MediaTypes)), anyText(20)),
    digest: fc.oneof(fc.constant(DIGEST), anyText(20)),
    size: fc.oneof(fc.nat(), fc.double(), fc.constant(-1), fc.constant(2 ** 60)),
    annotations: fc.oneof(fc.dictionary(anyText(8), anyText(8)), fc.jsonValue({ maxDepth: 1 })),
    artifactType: anyText(20),
    urls: fc.array(anyText(20), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const manifestArb = fc.record(
  {
    schemaVersion: fc.oneof(fc.constant(2), fc.jsonValue({ maxDepth: 0 })),
    mediaType: fc.oneof(fc.constantFrom(...Object.values(MediaTypes)), anyText(20)),
    artifactType: anyText(20),
    config: fc.oneof(descriptorArb, fc.jsonValue({ maxDepth: 1 })),
    layers: fc.oneof(fc.array(descriptorArb, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
    manifests: fc.oneof(fc.array(descriptorArb, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
    subject: fc.oneof(descriptorArb, fc.jsonValue({ maxDepth: 1 })),
    annotations: fc.oneof(fc.dictionary(anyText(8), anyText(8)), fc.jsonValue({ maxDepth: 1 })),
  },
  { requiredKeys: [] },
);
const mediaTypeArb = fc.oneof(fc.constantFrom(...Object.values(MediaTypes)), anyText(20));
const manifestBytes = fc.oneof(
  manifestArb.map((m) => Buffer.from(JSON.stringify(m))),
  mutateBytes(SAMPLE_MANIFEST),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
  fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)),
);

const scopeArb = fc.oneof(
  fc.constantFrom('*', 'registry.example.com/app', 'localhost:5000/a/b', 'registry.example.com'),
  referenceText,
);
const identityArb = fc.oneof(
  fc.constantFrom(
    '*',
    'x509.subject: C=US, ST=WA, O=acme, CN=app',
    'x509.subject: CN=',
    'x509.subject:',
  ),
  fc.string({ maxLength: 40 }).map((s) => `x509.subject: ${s}`),
  anyText(20),
);
const statementArb = fc.record(
  {
    name: fc.oneof(fc.constantFrom('a', 'b', ''), anyText(10)),
    registryScopes: fc.oneof(fc.array(scopeArb, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
    signatureVerification: fc.oneof(
      fc.record(
        {
          level: fc.oneof(fc.constantFrom('strict', 'permissive', 'audit', 'skip'), anyText(8)),
          override: fc.oneof(
            fc.dictionary(
              fc.constantFrom(
                'integrity',
                'authenticity',
                'authenticTimestamp',
                'expiry',
                'revocation',
                'x',
              ),
              fc.oneof(fc.constantFrom('enforce', 'log', 'skip'), anyText(6)),
            ),
            fc.jsonValue({ maxDepth: 1 }),
          ),
          verifyTimestamp: fc.oneof(fc.constantFrom('always', 'afterCertExpiry'), anyText(6)),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    trustStores: fc.oneof(
      fc.array(
        fc.oneof(fc.constantFrom('ca:acme', 'signingAuthority:x', 'tsa:t', 'ca:'), anyText(10)),
        { maxLength: 3 },
      ),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    trustedIdentities: fc.oneof(
      fc.array(identityArb, { maxLength: 3 }),
      fc.jsonValue({ maxDepth: 1 }),
    ),
  },
  { requiredKeys: [] },
);
const policyArb = fc.record(
  {
    version: fc.oneof(fc.constant('1.0'), fc.jsonValue({ maxDepth: 0 })),
    trustPolicies: fc.oneof(
      fc.array(statementArb, { maxLength: 3 }),
      fc.jsonValue({ maxDepth: 1 }),
    ),
  },
  { requiredKeys: [] },
);

describe('fuzz: references', () => {
  it('any text, and texts made of reference pieces', () => {
    fc.assert(
      fc.property(fc.oneof(anyText(100), referenceText), (text) =>
        parsesOrRefuses(() => {
          const ref = parseReference(text);
          // What parses formats back and parses again.
          parseReference(formatReference(withDefaultTag(ref)));
        }),
      ),
      fuzzParameters(20000),
    );
  });
});

describe('fuzz: manifests and indexes', () => {
  it('client and layout reading: describeManifest, parseManifest, sniffManifestMediaType', () => {
    fc.assert(
      fc.property(manifestBytes, mediaTypeArb, (bytes, mediaType) => {
        parsesOrRefuses(() => describeManifest(bytes));
        parsesOrRefuses(() => describeManifest(bytes, { mediaType }));
        parsesOrRefuses(() => parseManifest(bytes, mediaType));
        parsesOrRefuses(() => sniffManifestMediaType(bytes));
      }),
      fuzzParameters(8000),
    );
  });

  it('the registry’s facts of a stored manifest', () => {
    fc.assert(
      fc.property(manifestBytes, (bytes) =>
        parsesOrRefuses(() => readManifestFacts(bytes, DIGEST), [StorageError]),
      ),
      fuzzParameters(5000),
    );
  });
});

describe('fuzz: trust policy documents', () => {
  it('any document, statements of every shape, a valid one changed at one place', () => {
    const valid = JSON.stringify({
      version: '1.0',
      trustPolicies: [
        {
          name: 'p',
          registryScopes: ['registry.example.com/app'],
          signatureVerification: { level: 'strict', override: { revocation: 'log' } },
          trustStores: ['ca:acme'],
          trustedIdentities: ['x509.subject: C=US, O=acme, CN=app'],
        },
      ],
    });
    fc.assert(
      fc.property(
        fc.oneof(
          policyArb.map((p) => JSON.stringify(p)),
          mutateText(valid),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          anyText(100),
        ),
        (text) => parsesOrRefuses(() => parseTrustPolicy(text)),
      ),
      fuzzParameters(12000),
    );
  });
});
