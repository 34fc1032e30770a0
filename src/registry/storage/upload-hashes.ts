import type { UploadHashState } from './caches.js';
import type { Sha256State } from './resumable-sha256.js';
import { ResumableSha256 } from './resumable-sha256.js';

/**
 * The running hashes of upload sessions (`uploads.ts`), so that commit costs no re-read of
 * the session's bytes: node's native hash kept in memory while the process lives, or, for a
 * session whose data is a pending file (`StorageDriver.pending`: its chunks may arrive at
 * any replica), a resumable SHA-256 whose state is saved with the pending file at every
 * chunk (`PendingWriter.note`) and resumed by the next chunk's process.
 */

/** The digest a running hash has come to, as `<algorithm>:<hex>`; the hash is used up. */
export function digestOfState(state: UploadHashState): string {
  const hex = state.hash instanceof ResumableSha256 ? state.hash.hex() : state.hash.digest('hex');
  return `${state.algorithm}:${hex}`;
}

/**
 * The running hash of a pending file of `size` bytes from the note its last writer left;
 * undefined when the note describes other bytes (a chunk that failed half-way) or none. An
 * empty file starts a new one.
 */
export async function resumeHash(
  note: string | undefined,
  size: number,
): Promise<UploadHashState | undefined> {
  if (note === undefined) {
    return size === 0
      ? { algorithm: 'sha256', hash: await ResumableSha256.create(), hashed: 0 }
      : undefined;
  }
  try {
    const saved = (JSON.parse(note) as { sha256?: Sha256State }).sha256;
    if (saved === undefined || saved.length !== size) return undefined;
    return { algorithm: 'sha256', hash: await ResumableSha256.resume(saved), hashed: size };
  } catch {
    return undefined; // not a note of ours: commit hashes the data from storage
  }
}

/** The note that lets the next writer of a pending file of `size` bytes resume `state`. */
export function saveHash(state: UploadHashState | undefined, size: number): string | undefined {
  if (state === undefined || !(state.hash instanceof ResumableSha256) || state.hashed !== size) {
    return undefined;
  }
  return JSON.stringify({ sha256: state.hash.save() });
}
