import { execFile } from 'node:child_process';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { ioError } from './driver-checks.js';
import { fsyncDirectory } from './directory-sync.js';
import { errno } from './filesystem-errors.js';
import type { JournalOperation } from './journal-format.js';
import { decodeRecords } from './journal-format.js';

/**
 * The journal's files on disk (`journal.ts` has the design): claiming its directory for one
 * process, replaying the segments a crash left, and making applied files durable.
 */

/** What applying one operation changed, for the checkpoint to make durable. */
export interface AppliedChange {
  /** Host paths of files written. */
  readonly files: readonly string[];
  /** Host paths of directories whose entries changed (created, renamed, removed). */
  readonly directories: readonly string[];
}

/** fsyncs a checkpoint runs at once: enough to keep the disk busy, few enough to leave the thread pool to reads. */
const CHECKPOINT_CONCURRENCY = 2;
export const SEGMENT_NAME = /^[0-9a-f]{16}\.log$/;
/** The file naming the process that owns the journal (`claim`). */
export const OWNER_FILE = 'owner';
/** A syncfs that takes longer than this is given up for the fsyncs (a hung device). */
const SYNCFS_TIMEOUT_MS = 120_000;
const execFileAsync = promisify(execFile);

/** Replays every segment in `directory`, makes the result durable, deletes them; the next seq. */
export async function recoverSegments(
  directory: string,
  apply: (operation: JournalOperation) => Promise<AppliedChange>,
): Promise<number> {
  let created = false;
  try {
    await mkdir(directory);
    created = true;
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
  }
  if (created) await fsyncDirectory(join(directory, '..'));
  await claim(directory);
  const names = (await readdir(directory)).filter((n) => SEGMENT_NAME.test(n)).sort();
  const files = new Set<string>();
  const directories = new Set<string>();
  for (const name of names) {
    const { records } = decodeRecords(await readFile(join(directory, name)));
    for (const record of records) {
      for (const operation of record) {
        const change = await apply(operation);
        for (const file of change.files) files.add(file);
        for (const dir of change.directories) directories.add(dir);
      }
    }
  }
  await makeDurable(directory, files, directories);
  for (const name of names) await unlink(join(directory, name));
  if (names.length > 0) await fsyncDirectory(directory);
  const last = names.at(-1);
  return last === undefined ? 1 : Number.parseInt(last.slice(0, 16), 16) + 1;
}

/**
 * Claims the journal for this process: a file holding its pid, taken over when that process
 * is gone (killed, or the machine restarted). Another live process holding it means a second
 * registry (or `nv2 registry gc`) on a root in use: refused, since recovery would replay and
 * delete the other's segments under it.
 */
async function claim(directory: string): Promise<void> {
  const owner = join(directory, OWNER_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(owner, 'wx', 0o600);
      try {
        await handle.writeFile(String(process.pid));
      } finally {
        await handle.close();
      }
      return;
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
    }
    const pid = Number.parseInt(await readFile(owner, 'utf8').catch(() => ''), 10);
    // Our own pid: a driver of this process, or a container restarted with the same pid.
    if (pid === process.pid) return;
    if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) {
      throw ioError(
        'open',
        '/',
        `the storage root is in use by process ${pid} (one registry process per root; ` +
          `remove ${OWNER_FILE} in its ${basename(directory)} directory if that process is not a registry)`,
      );
    }
    await unlink(owner).catch((err: unknown) => {
      if (errno(err) !== 'ENOENT') throw err;
    });
  }
  throw ioError(
    'open',
    '/',
    'could not claim the storage root (another process keeps claiming it)',
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) === 'EPERM';
  }
}

/**
 * Makes durable every file and directory entry a segment's records changed: one `syncfs(2)`
 * of the file system holding `directory` (`sync --file-system`, Linux), else an fsync of
 * every file, then of every directory.
 *
 * Why syncfs: an fsync costs a disk cache flush even for a file the kernel has already
 * written back, so a checkpoint of a few thousand pushes would cost as many flushes as
 * fsyncing each file on the request path did (1,000 small files: about 500 ms here), while
 * one syncfs writes everything back and flushes once (the same 1,000 files: about 35 ms).
 * It also flushes whatever else is dirty on that file system, so the root is best on a file
 * system of its own. Any failure of it (no `sync` program, an option it does not know, an
 * I/O error) falls back to the fsyncs, which report a real I/O error themselves.
 */
export async function makeDurable(
  directory: string,
  files: ReadonlySet<string>,
  directories: ReadonlySet<string>,
): Promise<void> {
  if (files.size === 0 && directories.size === 0) return;
  if (await syncFileSystem(directory)) return;
  await eachLimited([...files], fsyncFileIfPresent);
  await eachLimited([...directories], fsyncDirectoryIfPresent);
}

/** Whether `syncfs` is known not to be available (then the fsyncs are used at once). */
let syncfsUnavailable = process.platform !== 'linux';

/** `syncfs(2)` of the file system holding `directory`; false when it could not be done. */
async function syncFileSystem(directory: string): Promise<boolean> {
  if (syncfsUnavailable) return false;
  try {
    await execFileAsync('sync', ['--file-system', directory], { timeout: SYNCFS_TIMEOUT_MS });
    return true;
  } catch (err) {
    const code = errno(err);
    // No program, or one that does not know the option: never try again.
    if (code === 'ENOENT' || (err as { code?: unknown }).code === 1) syncfsUnavailable = true;
    return false;
  }
}

async function eachLimited(items: string[], fn: (item: string) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: CHECKPOINT_CONCURRENCY }, worker));
}

/** A file replaced or removed since it was written is made durable by a later record. */
async function fsyncFileIfPresent(host: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(host, 'r');
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return;
    throw err;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function fsyncDirectoryIfPresent(host: string): Promise<void> {
  try {
    await fsyncDirectory(host);
  } catch (err) {
    if (errno(err) !== 'ENOENT' && errno(err) !== 'ENOTDIR') throw err;
  }
}
