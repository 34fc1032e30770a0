/**
 * `oci://` and `docker://` preferences: the Accept header of manifest requests, checked
 * against a loopback server that holds one tag in both forms and answers with the form the
 * client prefers (content negotiation by quality, RFC 9110 §12.5.1), as registries that
 * convert between forms do.
 */
import assert from 'node:assert/strict';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MediaTypes, createDescriptor } from '../../../src/oci/index.js';
import { Repository, createRegistryClient, manifestAccept } from '../../../src/remote/index.js';

const FORMS = {
  [MediaTypes.ociManifest]: Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, layers: [] }),
  ),
  [MediaTypes.dockerManifest]: Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.dockerManifest, layers: [] }),
  ),
} as Record<string, Buffer>;

/** The media type an Accept header ranks highest among those held (ties: first listed). */
function negotiate(accept: string): string | undefined {
  let best: { type: string; q: number } | undefined;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((p) => p.trim());
    const q = Number(params.find((p) => p.startsWith('q='))?.slice(2) ?? '1');
    if (FORMS[type!] !== undefined && (best === undefined || q > best.q)) best = { type: type!, q };
  }
  return best?.type;
}

describe('manifest preference', () => {
  let host: string;
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const accept = req.headers.accept ?? '';
    seen.push(accept);
    const type = negotiate(accept);
    if (req.url !== '/v2/app/manifests/v1' || type === undefined) {
      res.writeHead(404).end();
      return;
    }
    const body = FORMS[type]!;
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': body.length,
      'Docker-Content-Digest': createDescriptor(type, body).digest,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    server.closeAllConnections();
  });

  it('lists the preferred family first and the other at a lower quality', () => {
    assert.equal(
      manifestAccept('oci'),
      `${MediaTypes.ociManifest}, ${MediaTypes.ociIndex}, ${MediaTypes.dockerManifest};q=0.5, ${MediaTypes.dockerManifestList};q=0.5`,
    );
    assert.equal(
      manifestAccept('docker'),
      `${MediaTypes.dockerManifest}, ${MediaTypes.dockerManifestList}, ${MediaTypes.ociManifest};q=0.5, ${MediaTypes.ociIndex};q=0.5`,
    );
    assert.doesNotMatch(manifestAccept(), /q=/);
  });

  it('resolves the form the reference prefers', async () => {
    const client = createRegistryClient();
    try {
      for (const [preference, type] of [
        ['oci', MediaTypes.ociManifest],
        ['docker', MediaTypes.dockerManifest],
      ] as const) {
        const repo = new Repository(host, 'app', { client, manifestPreference: preference });
        const resolved = await repo.resolve('v1');
        assert.equal(resolved.mediaType, type);
        assert.equal(resolved.digest, createDescriptor(type, FORMS[type]!).digest);
        assert.equal(seen.at(-1), manifestAccept(preference));
      }
    } finally {
      await client.close();
    }
  });

  it('refuses an unknown preference', () => {
    const client = createRegistryClient();
    assert.throws(
      () =>
        new Repository(host, 'app', {
          client,
          manifestPreference: 'v2s1' as unknown as 'oci',
        }),
      { code: 'NV2_ERR_INVALID_ARGUMENT' },
    );
  });
});
