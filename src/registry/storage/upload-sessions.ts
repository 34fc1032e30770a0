import { posix } from 'node:path';
import { parseRfc3339 } from '../../oci/index.js';
import { isNotFound } from './blobs.js';
import type { StorageDriver } from './driver.js';
import { repositoriesRootPath, uploadDataPath, uploadStartedAtPath, uploadsPath } from './paths.js';
import type { UploadSession } from './store.js';
import { RegistryError } from './store.js';

/**
 * Upload sessions as stored (uploads.ts): a session is the directory `_uploads/<id>/` of its
 * repository, holding `startedat` and `data`. Here: its id, reading it, finding every
 * session, and removing one; the upload store adds locking and the bytes.
 */

/**
 * Session ids are random UUID v4, lower case, exactly as `randomUUID` makes them. An id from a
 * request is checked against this before any path is built from it.
 */
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Whether `id` is a well-formed upload session id (lower-case UUID v4). */
export function isUploadId(id: string): boolean {
  return UPLOAD_ID.test(id);
}

/** The session as stored; undefined unless both of its files are there. Takes no lock. */
export async function readSession(
  driver: StorageDriver,
  repo: string,
  id: string,
): Promise<UploadSession | undefined> {
  try {
    const [content, size] = await Promise.all([
      driver.getContent(uploadStartedAtPath(repo, id)),
      dataSize(driver, repo, id),
    ]);
    const startedAt = parseStartedAt(content);
    if (startedAt === undefined || size === undefined) return undefined;
    return { id, repo, size, startedAt };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Bytes of a session's data: its pending file, else (no pending file) its `data` file. */
async function dataSize(
  driver: StorageDriver,
  repo: string,
  id: string,
): Promise<number | undefined> {
  const dataPath = uploadDataPath(repo, id);
  const pending = await driver.pending?.stat(dataPath);
  if (pending !== undefined) return pending.size;
  const data = await driver.stat(dataPath);
  return data.isDirectory ? undefined : data.size;
}

/** When a session started: `startedat`, else (damaged session) its files' modification time. */
export async function sessionStartedAt(
  driver: StorageDriver,
  repo: string,
  id: string,
): Promise<Date | undefined> {
  try {
    const startedAt = parseStartedAt(await driver.getContent(uploadStartedAtPath(repo, id)));
    if (startedAt !== undefined) return startedAt;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  for (const path of [uploadDataPath(repo, id), sessionPath(repo, id)]) {
    try {
      return (await driver.stat(path)).modTime;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return undefined;
}

/**
 * Every session directory under every repository, found by listing: repository directories
 * nest (`a/b/c`) and their own entries start with `_`, so only `_uploads` and non-`_` children
 * are descended into, and the (many) layer and manifest links are never visited.
 */
export async function findSessions(driver: StorageDriver): Promise<{ repo: string; id: string }[]> {
  const root = repositoriesRootPath();
  const found: { repo: string; id: string }[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const child of await listIfPresent(driver, dir)) {
      const name = posix.basename(child);
      if (name === '_uploads') {
        const repo = dir.slice(root.length + 1);
        if (repo === '' || uploadsPath(repo) !== child) continue;
        for (const session of await listIfPresent(driver, child)) {
          const id = posix.basename(session);
          if (isUploadId(id)) found.push({ repo, id });
        }
      } else if (!name.startsWith('_')) {
        await visit(child);
      }
    }
  };
  await visit(root);
  return found;
}

async function listIfPresent(driver: StorageDriver, dir: string): Promise<string[]> {
  try {
    return await driver.list(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/**
 * A session's directory. `paths.ts` names only its two files; the directory is their parent,
 * derived from `uploadDataPath` so the layout stays defined in one place.
 */
function sessionPath(repo: string, id: string): string {
  return posix.dirname(uploadDataPath(repo, id));
}

/**
 * Deletes a session's directory; with `discard`, its pending file first (what it stored
 * lies outside the directory: an object store's multipart upload). A committed session has
 * none left.
 */
export async function deleteSession(
  driver: StorageDriver,
  repo: string,
  id: string,
  discard = false,
): Promise<void> {
  if (discard) await driver.pending?.discard(uploadDataPath(repo, id));
  try {
    await driver.delete(sessionPath(repo, id));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** `startedat` content as a date; undefined when it is not one. */
function parseStartedAt(content: Buffer): Date | undefined {
  return parseRfc3339(content.toString('utf8').trim());
}

/** Lock and hash-state key of a session; `@` cannot occur in a repository name. */
export function sessionKey(repo: string, id: string): string {
  return `${repo}@${id}`;
}

export function uploadUnknown(id: string): RegistryError {
  // The id is echoed only when well-formed: a malformed one is the client's own string.
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, isUploadId(id) ? { id } : undefined);
}
