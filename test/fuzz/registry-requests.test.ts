/**
 * Property-based tests of the registry's request parsing: the route table's path matcher and
 * parameter checks, the Range and Content-Range parsers, and whole requests of any method,
 * path, query, headers and body sent to a real registry on 127.0.0.1. Parsers return a value
 * or the registry's typed ApiError; the server answers every request with a status below 500
 * and, for errors, a distribution-spec error body. See fuzz.ts for replaying a failure.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as fc from 'fast-check';
import { ERROR_CODES, MediaTypes } from '../../src/oci/index.js';
import { ApiError } from '../../src/registry/api/errors.js';
import { parseContentRange, parseRange } from '../../src/registry/api/request.js';
import { validateParams } from '../../src/registry/api/params.js';
import { matchRoute } from '../../src/registry/api/routes.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry.js';
import { SAMPLE_MANIFEST } from '../helpers/fixtures.js';
import { anyText, fuzzParameters, parsesOrRefuses } from './fuzz.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Path segments of every kind the route table distinguishes, and some it must refuse. */
const segment = fc.oneof(
  fc.constantFrom(
    'app',
    'library',
    'a.b-c__d',
    'UPPER',
    'manifests',
    'blobs',
    'uploads',
    'tags',
    'list',
    'referrers',
    '_catalog',
    'v1',
    'latest',
    DIGEST,
    'sha256:abc',
    'sha999:abc',
    '0123456789abcdef0123456789abcdef',
    '.',
    '..',
    '',
    '%2F',
    '%2e%2e',
    '%00',
    '%ZZ',
    '%',
    'x'.repeat(300),
  ),
  fc.stringMatching(/^[A-Za-z0-9._~:@!$&'()*+,;=%-]{0,16}$/),
);
const pathArb = fc
  .tuple(
    fc.constantFrom('/v2/', '/v2', '/', '/auth/token', '/healthz', '/v2//', '/v3/'),
    fc.array(segment, { maxLength: 7 }),
  )
  .map(([prefix, parts]) => prefix + parts.join('/'));
const queryArb = fc.oneof(
  fc.constant(''),
  fc
    .array(
      fc.tuple(
        fc.constantFrom('n', 'last', 'digest', 'mount', 'from', 'artifactType', 'x'),
        fc.oneof(
          fc.constantFrom('0', '1', '-1', '1e3', '99999999999999999999', DIGEST, 'app', ''),
          fc.stringMatching(/^[A-Za-z0-9%._:-]{0,12}$/),
        ),
      ),
      { maxLength: 3 },
    )
    .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
);
/** Header values: printable ASCII, as HTTP carries them. */
const headerText = fc.stringMatching(/^[ -~]{0,40}$/);
const headersArb = fc.record(
  {
    accept: fc.oneof(fc.constantFrom(...Object.values(MediaTypes), '*/*', ''), headerText),
    'content-type': fc.oneof(fc.constantFrom(...Object.values(MediaTypes)), headerText),
    range: fc.oneof(
      fc.constantFrom('bytes=0-0', 'bytes=-5', 'bytes=5-', 'bytes=0-1,2-3'),
      headerText,
    ),
    'content-range': fc.oneof(
      fc.constantFrom('0-0', 'bytes 0-9/10', '5-1', '0-99999999999999999'),
      headerText,
    ),
    'if-range': headerText,
    'if-none-match': headerText,
    authorization: fc.oneof(
      fc.constantFrom('Basic', 'Basic !!!', 'Bearer', 'Bearer a.b.c', 'Basic dXNlcjpwYXNz'),
      headerText,
    ),
  },
  { requiredKeys: [] },
);
const bodyArb = fc.oneof(
  fc.constant(Buffer.alloc(0)),
  fc.constant(SAMPLE_MANIFEST),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v))),
);

function send(
  registry: RunningRegistry,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolvePromise, reject) => {
    const url = new URL(registry.url);
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(method === 'GET' || method === 'HEAD' ? undefined : body);
  });
}

describe('fuzz: registry request parsing', () => {
  it('the route table: any method and path match a route, or none, and its parameters check', () => {
    fc.assert(
      fc.property(fc.constantFrom(...METHODS), fc.oneof(pathArb, anyText(60)), (method, path) =>
        parsesOrRefuses(() => {
          const match = matchRoute(method, path);
          if (match.kind === 'found')
            validateParams(match.route.pattern, match.raw, match.route.method);
        }, [ApiError]),
      ),
      fuzzParameters(15000),
    );
  });

  it('Content-Range and Range headers', () => {
    fc.assert(
      fc.property(
        fc.oneof(headerText, anyText(30)),
        fc.nat(),
        headerText,
        (header, size, ifRange) => {
          parsesOrRefuses(() => parseContentRange(header, {}), [ApiError]);
          const req = {
            headers: { range: header, 'if-range': ifRange },
          } as unknown as IncomingMessage;
          const range = parseRange(req, size, ifRange);
          if (range !== undefined && range !== 'unsatisfiable') {
            assert.ok(0 <= range.start && range.start <= range.end && range.end < size, header);
          }
        },
      ),
      fuzzParameters(8000),
    );
  });

  describe('whole requests to a running registry', () => {
    let registry: RunningRegistry;
    before(async () => {
      registry = await startRegistry();
      // Something to find: the sample manifest's config blob, and the manifest under app:v1.
      const config = await send(
        registry,
        'POST',
        '/v2/app/blobs/uploads/?digest=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
        { 'content-type': 'application/octet-stream' },
        Buffer.from('{}'),
      );
      assert.equal(config.status, 201, config.body.toString());
      const put = await send(
        registry,
        'PUT',
        '/v2/app/manifests/v1',
        { 'content-type': MediaTypes.ociManifest },
        SAMPLE_MANIFEST,
      );
      assert.equal(put.status, 201, put.body.toString());
    });
    after(() => registry.close());

    it('are answered below 500, errors with a distribution-spec error body', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...METHODS),
          pathArb,
          queryArb,
          headersArb,
          bodyArb,
          async (method, path, query, headers, body) => {
            const res = await send(registry, method, path + query, headers, body);
            assert.ok(
              res.status < 500,
              `${method} ${path}${query} answered ${res.status}: ${res.body.toString()}`,
            );
            if (res.status >= 400 && method !== 'HEAD' && res.body.byteLength > 0) {
              const parsed = JSON.parse(res.body.toString('utf8')) as {
                errors?: { code?: string }[];
              };
              assert.ok(
                Array.isArray(parsed.errors) && parsed.errors.length > 0,
                res.body.toString(),
              );
              for (const e of parsed.errors) {
                assert.ok(
                  Object.hasOwn(ERROR_CODES, e.code ?? ''),
                  `unknown code ${String(e.code)}`,
                );
              }
            }
          },
        ),
        fuzzParameters(1200),
      );
    });
  });
});
