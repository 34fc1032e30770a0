import { asAsyncIterable } from '../content/index.js';
import { RegistryResponseError } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import { verifyStream } from '../oci/index.js';
import { repositoryScope } from './auth/token.js';
import type { RegistryResponse } from './http.js';
import { discard, displayUrl } from './http.js';
import { type RepositoryApi, checkRepositoryName, release } from './repository-api.js';

/**
 * Blob uploads of the registry client (distribution-spec "Pushing blobs", "Mounting a blob
 * from another repository"): monolithic or chunked, verified while streaming, committed only
 * once the bytes match their descriptor.
 */

/** How a blob is sent. */
export interface UploadLimits {
  /** Blobs up to this size are pushed in one request. */
  readonly monolithicMax: number;
  /** Chunk size of larger blob pushes. */
  readonly chunkBytes: number;
}

/**
 * Uploads a blob (distribution-spec "Pushing blobs"): a mount from `mountFrom` when given and
 * the registry can, else one PUT up to `limits.monolithicMax` bytes, else PATCH chunks of
 * `limits.chunkBytes` and a final PUT. The content is verified against `expected` as it
 * streams, and the upload is committed only after; a failed upload is cancelled.
 */
export async function uploadBlob(
  api: RepositoryApi,
  expected: Descriptor,
  content: AsyncIterable<Uint8Array> | Uint8Array,
  mountFrom: string | undefined,
  limits: UploadLimits,
): Promise<void> {
  let start = api.url('blobs/uploads/');
  let scopes = api.scopes('push');
  if (mountFrom !== undefined) {
    const from = checkRepositoryName(api.registry, mountFrom);
    start += `?mount=${encodeURIComponent(expected.digest)}&from=${encodeURIComponent(from)}`;
    // Mounting reads the source repository: its pull scope is needed too.
    scopes = [...scopes, repositoryScope(from, ['pull'])];
  }
  const what = `pushing blob ${api.ref(expected.digest)}`;
  const res = await api.send('POST', start, 'push', { scopes });
  if (res.status === 201 && mountFrom !== undefined) {
    await discard(res.body);
    await release(content);
    return;
  }
  if (res.status !== 202) throw await api.unexpected(res, what);
  await discard(res.body);
  let location = locationOf(res, what);
  try {
    if (expected.size <= limits.monolithicMax) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of verifyStream(asAsyncIterable(content), expected))
        chunks.push(chunk);
      await commit(api, location, Buffer.concat(chunks), expected, what);
      return;
    }
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const sendChunk = async (chunk: Buffer): Promise<void> => {
      const patch = await api.send('PATCH', location, 'push', {
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `${offset}-${offset + chunk.byteLength - 1}`,
        },
        body: chunk,
      });
      if (patch.status !== 202) throw await api.unexpected(patch, what);
      await discard(patch.body);
      location = locationOf(patch, what);
      offset += chunk.byteLength;
    };
    for await (const piece of verifyStream(asAsyncIterable(content), expected)) {
      pending.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
      pendingBytes += piece.byteLength;
      while (pendingBytes >= limits.chunkBytes) {
        const all = Buffer.concat(pending, pendingBytes);
        await sendChunk(all.subarray(0, limits.chunkBytes));
        pending = [all.subarray(limits.chunkBytes)];
        pendingBytes -= limits.chunkBytes;
      }
    }
    // verifyStream has checked size and digest: only now is the upload committed.
    await commit(api, location, Buffer.concat(pending, pendingBytes), expected, what);
  } catch (err) {
    // Best effort: the registry expires abandoned sessions anyway.
    const cancel = await api.send('DELETE', location, 'push').catch(() => undefined);
    if (cancel !== undefined) await discard(cancel.body);
    throw err;
  }
}

/** `PUT <location>?digest=…` with the last bytes: 201 commits the upload. */
async function commit(
  api: RepositoryApi,
  location: string,
  last: Buffer,
  expected: Descriptor,
  what: string,
): Promise<void> {
  const url = new URL(location);
  url.searchParams.set('digest', expected.digest);
  const res = await api.send('PUT', url.href, 'push', {
    headers: { 'Content-Type': 'application/octet-stream' },
    ...(last.byteLength > 0 ? { body: last } : {}),
  });
  if (res.status !== 201) throw await api.unexpected(res, what);
  await discard(res.body);
}

/** The upload session's `Location`, absolute. */
function locationOf(res: RegistryResponse, what: string): string {
  const location = res.header('location');
  if (location === undefined) {
    throw new RegistryResponseError(
      'NV2_ERR_REGISTRY_RESPONSE',
      `${res.method} ${displayUrl(res.url)}: ${res.status} without a Location (${what})`,
      { method: res.method, url: displayUrl(res.url), status: res.status, errors: [] },
    );
  }
  return new URL(location, res.url).href;
}

/**
 * Mounts a blob from another repository of this registry (distribution-spec "Mounting a
 * blob from another repository"). True when the registry mounted it; false when it could not
 * (the upload session it opened instead is cancelled).
 */
export async function mountBlob(
  api: RepositoryApi,
  target: Descriptor,
  from: string,
): Promise<boolean> {
  const source = checkRepositoryName(api.registry, from);
  const url = `${api.url('blobs/uploads/')}?mount=${encodeURIComponent(target.digest)}&from=${encodeURIComponent(source)}`;
  const res = await api.send('POST', url, 'push', {
    scopes: [...api.scopes('push'), repositoryScope(source, ['pull'])],
  });
  await discard(res.body);
  if (res.status === 201) return true;
  if (res.status !== 202) {
    throw await api.unexpected(res, `mounting ${target.digest} from ${source}`);
  }
  const location = res.header('location');
  if (location !== undefined) {
    const cancel = await api
      .send('DELETE', new URL(location, res.url).href, 'push')
      .catch(() => undefined);
    if (cancel !== undefined) await discard(cancel.body);
  }
  return false;
}
