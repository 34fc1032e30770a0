import type { FileHandle } from 'node:fs/promises';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDirectory } from './directory-sync.js';
import type { JournalOperation } from './journal-format.js';
import { encodeRecord } from './journal-format.js';
import type { AppliedChange } from './journal-files.js';
import { OWNER_FILE, makeDurable, recoverSegments } from './journal-files.js';

export type { AppliedChange } from './journal-files.js';

/**
 * The filesystem driver's write-ahead journal with group commit: how small writes (a manifest
 * push's blob, links and referrers entry) become durable with one fdatasync shared by every
 * write in flight, instead of two fsyncs (file and directory) per file.
 *
 * Why this file is long: the flush loop, apply ordering and checkpointing share one queue and
 * one set of invariants (below); split, each part would need the others' state. Record
 * encoding and segment recovery live in journal-format.ts and journal-files.ts.
 *
 * Why: a manifest push writes three or four small files. Made durable one by one, each costs
 * an fsync of the file and one of its directory (plus one per directory created); on a disk
 * that flushes about a thousand times a second, those flushes bound pushes per second, and
 * concurrent pushes to different directories cannot share them. Here a push appends ONE
 * record holding every file it writes (contents and a checksum) to an append-only segment
 * file; every push that appends while an fdatasync runs shares the next one (group commit).
 *
 * The life of a record:
 *
 * 1. `commit` queues the record; the flush loop appends everything queued with one write and
 *    one fdatasync. Durable from here: recovery would replay it.
 * 2. The record is applied to the files: a temporary file beside each target, renamed over
 *    it (readers see the old content or the new, never a part), without fsync; the files of
 *    one record at once. Records on one path are applied in journal order; a delete waits
 *    for everything before it and holds back everything after it. Only then is `commit` resolved and the write acknowledged, so
 *    a reader sees an acknowledged write at once, on the files (there is no overlay), and
 *    never sees a write that is not durable yet.
 * 3. Checkpoint (every `CHECKPOINT_INTERVAL_MS` while something is pending, when a segment
 *    passes `SEGMENT_MAX_BYTES`, before a `move` or `writer` touches a pending path, and at
 *    `close`): the active segment is sealed (new records go to a new one), the sealed
 *    segments' applies are awaited, every file they wrote and every directory whose entries
 *    they changed is made durable (one syncfs, else an fsync each: `makeDurable`), and only
 *    then is the segment deleted (and the journal directory fsynced). A crash at any step
 *    leaves the segment, which is replayed.
 *
 * Recovery (before the driver serves anything): every segment, oldest first, is read up to
 * its first record that is not whole and intact (the torn tail of an append whose fdatasync
 * never finished: never acknowledged) and each record is applied again. Applying is
 * idempotent (whole files written, paths removed), so files that a power cut left missing,
 * truncated or with their old content are made whole, and files already right are rewritten
 * with the same bytes. Then everything applied is fsynced and the segments are deleted.
 *
 * Durability is never weaker than fsyncing each file: an acknowledged write is in a record
 * made durable by fdatasync before the acknowledgement, and that record stays until the
 * files it wrote, and their directory entries, are fsynced.
 *
 * One process per root (as everywhere in the store): a second process opening the same root
 * would replay and delete the segments of the first, so the journal is claimed with a file
 * naming the owner's pid (`claim`), and a second live process is refused.
 */

/** How the journal changes the files: the driver's own write path, without fsync. */
export interface JournalTarget {
  /** Applies one operation (idempotently); a delete of a missing path is no change. */
  apply(operation: JournalOperation): Promise<AppliedChange>;
}

/** Options of `openJournal`. */
export interface JournalOptions {
  /** Milliseconds between checkpoints while records are pending (default 5,000). */
  readonly checkpointIntervalMs?: number;
  /** A segment is sealed and checkpointed once it holds this many bytes (default 64 MiB). */
  readonly segmentMaxBytes?: number;
}

export interface Journal {
  /**
   * Makes `operations` durable (one record, group commit) and applies them in order; resolves
   * once they are durable and visible. Rejects when appending or applying fails.
   */
  commit(operations: readonly JournalOperation[]): Promise<void>;
  /** Whether a record not yet checkpointed writes or deletes `path` or a path below it. */
  touches(path: string): boolean;
  /** Seals the active segment and checkpoints every segment (all pending writes fsynced). */
  checkpoint(): Promise<void>;
  /** Stops the timer, waits for the writes in flight and checkpoints. */
  close(): Promise<void>;
}

const CHECKPOINT_INTERVAL_MS = 5_000;
const SEGMENT_MAX_BYTES = 64 * 1024 * 1024;
interface Segment {
  readonly seq: number;
  readonly host: string;
  handle: FileHandle | undefined;
  size: number;
  readonly files: Set<string>;
  readonly directories: Set<string>;
  /** Storage paths its records write or delete (each counted once in `Journal.pending`). */
  readonly paths: Set<string>;
  /** Applies of its records still running (they never reject). */
  readonly applying: Set<Promise<void>>;
  /**
   * Flushes appending to it, each settling once its records are written and their applies
   * queued (never rejects): a checkpoint waits for them before it closes the segment, or it
   * would close the file under a write or fdatasync in flight.
   */
  readonly flushes: Set<Promise<void>>;
}

interface Queued {
  readonly record: Buffer;
  readonly operations: readonly JournalOperation[];
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Opens the journal in `directory` (created when missing): replays and checkpoints what a
 * crash left there, then returns the journal new writes go through.
 */
export async function openJournal(
  directory: string,
  target: JournalTarget,
  options: JournalOptions = {},
): Promise<Journal> {
  const intervalMs = options.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS;
  const segmentMaxBytes = options.segmentMaxBytes ?? SEGMENT_MAX_BYTES;
  const nextSeq = await recoverSegments(directory, (operation) => target.apply(operation));
  return new SegmentedJournal(directory, target, nextSeq, intervalMs, segmentMaxBytes);
}

function emptySegment(seq: number, host: string): Segment {
  return {
    seq,
    host,
    handle: undefined,
    size: 0,
    files: new Set(),
    directories: new Set(),
    paths: new Set(),
    applying: new Set(),
    flushes: new Set(),
  };
}

function addChange(segment: Segment, change: AppliedChange): void {
  for (const file of change.files) segment.files.add(file);
  for (const dir of change.directories) segment.directories.add(dir);
}

class SegmentedJournal implements Journal {
  #active: Segment | undefined;
  readonly #sealed: Segment[] = [];
  #nextSeq: number;
  #queue: Queued[] = [];
  #flushing: Promise<void> | undefined;
  #checkpointing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Storage paths of records not yet checkpointed: how many live segments name each. */
  readonly #pending = new Map<string, number>();
  /** Per storage path: settles when the last apply queued on it has finished. */
  readonly #tails = new Map<string, Promise<void>>();
  /** Settles when the last delete queued has been applied. */
  #barrier: Promise<void> = Promise.resolve();

  constructor(
    readonly directory: string,
    readonly target: JournalTarget,
    nextSeq: number,
    readonly intervalMs: number,
    readonly segmentMaxBytes: number,
  ) {
    this.#nextSeq = nextSeq;
  }

  commit(operations: readonly JournalOperation[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the storage journal is closed'));
    if (operations.length === 0) return Promise.resolve();
    const record = encodeRecord(operations);
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ record, operations, resolve, reject });
      this.#kick();
    });
  }

  touches(path: string): boolean {
    if (this.#pending.size === 0) return false;
    if (this.#pending.has(path)) return true;
    const below = `${path}/`;
    for (const pending of this.#pending.keys()) if (pending.startsWith(below)) return true;
    return false;
  }

  checkpoint(): Promise<void> {
    // One at a time; a call during a running checkpoint runs another after it, as records
    // committed meanwhile may not be in the running one.
    const previous = this.#checkpointing ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.#checkpointAll());
    this.#checkpointing = run;
    const clear = (): void => {
      if (this.#checkpointing === run) this.#checkpointing = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    while (this.#flushing !== undefined) await this.#flushing;
    await this.checkpoint();
    await unlink(join(this.directory, OWNER_FILE)).catch(() => undefined);
  }

  /** Starts a flush of everything queued, unless one is running (it starts the next). */
  #kick(): void {
    if (this.#flushing !== undefined || this.#queue.length === 0) return;
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = undefined;
      this.#kick();
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    let segment: Segment | undefined;
    let flushed!: () => void;
    const flushing = new Promise<void>((resolve) => {
      flushed = resolve;
    });
    try {
      segment = await this.#writableSegment(flushing);
      const handle = segment.handle!;
      const buffers = batch.map((q) => q.record);
      let bytes = 0;
      for (const b of buffers) bytes += b.byteLength;
      // Registered before the write: from here, a checkpoint of this segment waits for them.
      for (const q of batch) this.#register(segment, q.operations);
      await writeAllAt(handle, buffers, segment.size);
      segment.size += bytes;
      await handle.datasync();
    } catch (err) {
      // What reached the segment is unknown: nothing more is appended to it. Its records may
      // still be replayed after a crash: they were refused, so either outcome is allowed.
      if (segment !== undefined && this.#active === segment) this.#seal();
      for (const q of batch) q.reject(err);
      flushed();
      return;
    }
    // Applies are queued here, in journal order, before anything else can run.
    for (const q of batch) this.#apply(segment, q);
    flushed();
    if (segment.size >= this.segmentMaxBytes) void this.checkpoint().catch(() => undefined);
    this.#schedule();
  }

  #register(segment: Segment, operations: readonly JournalOperation[]): void {
    for (const { path } of operations) {
      if (segment.paths.has(path)) continue;
      segment.paths.add(path);
      this.#pending.set(path, (this.#pending.get(path) ?? 0) + 1);
    }
  }

  #unregister(segment: Segment): void {
    for (const path of segment.paths) {
      const count = (this.#pending.get(path) ?? 1) - 1;
      if (count <= 0) this.#pending.delete(path);
      else this.#pending.set(path, count);
    }
  }

  /**
   * Applies a durable record's operations, each after the earlier records' operations on its
   * path. Puts of one record run at once (a concurrent reader may see some before others:
   * the record is acknowledged when all are visible); a record with a delete runs in order.
   */
  #apply(segment: Segment, queued: Queued): void {
    const { operations } = queued;
    const turns = operations.map((op) => this.#takeTurn(op.path, op.kind === 'delete'));
    const one = async (index: number): Promise<void> => {
      const turn = turns[index]!;
      try {
        await turn.wait;
        addChange(segment, await this.target.apply(operations[index]!));
      } finally {
        turn.done();
      }
    };
    const applying = (async () => {
      try {
        if (operations.some((op) => op.kind === 'delete')) {
          // Every turn is released, also those after a failure.
          let failure: unknown;
          for (let i = 0; i < operations.length; i++) {
            if (failure === undefined) await one(i).catch((err: unknown) => (failure = err));
            else turns[i]!.done();
          }
          if (failure !== undefined) throw failure;
        } else {
          const results = await Promise.allSettled(operations.map((_, i) => one(i)));
          const failed = results.find((r) => r.status === 'rejected');
          if (failed !== undefined) throw failed.reason;
        }
        queued.resolve();
      } catch (err) {
        queued.reject(err);
      }
    })();
    segment.applying.add(applying);
    void applying.then(() => segment.applying.delete(applying));
  }

  /** A place in the apply order of `path` (a delete: after everything, before everything later). */
  #takeTurn(path: string, exclusive: boolean): { wait: Promise<unknown>; done: () => void } {
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    let wait: Promise<unknown>;
    if (exclusive) {
      wait = Promise.all([this.#barrier, ...this.#tails.values()]);
      this.#barrier = finished;
    } else {
      wait = Promise.all([this.#barrier, this.#tails.get(path)]);
      this.#tails.set(path, finished);
      void finished.then(() => {
        if (this.#tails.get(path) === finished) this.#tails.delete(path);
      });
    }
    return { wait, done };
  }

  /** The segment to append to, with `flush` registered on it before anything else can run. */
  async #writableSegment(flush: Promise<void>): Promise<Segment> {
    const register = (segment: Segment): Segment => {
      segment.flushes.add(flush);
      void flush.then(() => segment.flushes.delete(flush));
      return segment;
    };
    if (this.#active !== undefined) return register(this.#active);
    const seq = this.#nextSeq++;
    const host = join(this.directory, `${seq.toString(16).padStart(16, '0')}.log`);
    const segment = emptySegment(seq, host);
    segment.handle = await open(host, 'wx', 0o600);
    try {
      // The new name must be durable before a record in it is acknowledged.
      await fsyncDirectory(this.directory);
    } catch (err) {
      await segment.handle.close().catch(() => undefined);
      await unlink(host).catch(() => undefined);
      throw err;
    }
    this.#active = segment;
    return register(segment);
  }

  #seal(): void {
    if (this.#active === undefined) return;
    this.#sealed.push(this.#active);
    this.#active = undefined;
  }

  async #checkpointAll(): Promise<void> {
    this.#seal();
    while (this.#sealed.length > 0) {
      const segment = this.#sealed[0]!;
      while (segment.flushes.size > 0 || segment.applying.size > 0) {
        await Promise.all([...segment.flushes, ...segment.applying]);
      }
      await makeDurable(this.directory, segment.files, segment.directories);
      await segment.handle?.close();
      segment.handle = undefined;
      await unlink(segment.host);
      await fsyncDirectory(this.directory);
      this.#sealed.shift();
      this.#unregister(segment);
    }
  }

  /** Arms the periodic checkpoint while something is pending. */
  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.checkpoint()
        .catch(() => undefined)
        .then(() => {
          if (this.#pending.size > 0 || this.#active !== undefined) this.#schedule();
        });
    }, this.intervalMs);
    this.#timer.unref();
  }
}

/** Writes every buffer at `position` on, whole (a short write continues). */
async function writeAllAt(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let at = position;
  let pending = buffers;
  while (pending.length > 0) {
    const { bytesWritten } = await handle.writev(pending, at);
    at += bytesWritten;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const b of pending) {
      if (skip >= b.byteLength) {
        skip -= b.byteLength;
        continue;
      }
      rest.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    pending = rest;
  }
}
