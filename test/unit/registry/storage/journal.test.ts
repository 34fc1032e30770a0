import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import type { Descriptor, Digest } from '../../../../src/oci/index.js';
import { MediaTypes, digestOf } from '../../../../src/oci/index.js';
import { createStore } from '../../../../src/registry/storage/create-store.js';
import type { StorageDriver } from '../../../../src/registry/storage/driver.js';
import { createFilesystemDriver } from '../../../../src/registry/storage/filesystem.js';
import type { JournalOperation } from '../../../../src/registry/storage/journal-format.js';
import { decodeRecords, encodeRecord } from '../../../../src/registry/storage/journal-format.js';
import type { RegistryStore } from '../../../../src/registry/storage/store.js';
import { tempDir } from '../../../helpers/fixtures.js';

/**
 * The write-ahead journal's recovery, tested on every state a power cut can leave: records
 * acknowledged (made durable by fdatasync) but whose files were written without fsync, so
 * that each file may be missing, empty, truncated, or hold its old content; the journal's
 * unsynced tail cut at every byte; a checkpoint interrupted at each step (files durable or
 * not, segment deleted or not, two segments while one is checkpointed). Each state is built
 * on a real directory, a new driver recovers it, and the result must hold exactly the
 * acknowledged writes, with nothing of the unacknowledged tail half-visible.
 */

const JOURNAL = '.journal~';
const REPO = 'lib/app';
const NO_CHECKPOINT = { journal: { checkpointIntervalMs: 3_600_000 } };

describe('journal record format', () => {
  const ops: JournalOperation[] = [
    { kind: 'put', path: '/a/b', content: Buffer.from('hello') },
    { kind: 'delete', path: '/a/c' },
    { kind: 'put', path: '/empty', content: Buffer.alloc(0) },
  ];

  it('reads back what it wrote, and stops at a torn or corrupt record', () => {
    const first = encodeRecord(ops);
    const second = encodeRecord([{ kind: 'put', path: '/x', content: Buffer.from('y') }]);
    const both = Buffer.concat([first, second]);
    const read = decodeRecords(both);
    assert.equal(read.records.length, 2);
    assert.equal(read.intactBytes, both.byteLength);
    assert.deepEqual(
      read.records[0]!.map((op) =>
        op.kind === 'put' ? [op.path, op.content.toString()] : op.path,
      ),
      [['/a/b', 'hello'], '/a/c', ['/empty', '']],
    );
    for (let cut = 0; cut < both.byteLength; cut++) {
      const expected = cut < first.byteLength ? 0 : 1;
      assert.equal(decodeRecords(both.subarray(0, cut)).records.length, expected, `cut ${cut}`);
    }
    for (let at = 0; at < second.byteLength; at++) {
      const corrupt = Buffer.from(both);
      corrupt[first.byteLength + at]! ^= 0x40;
      assert.equal(decodeRecords(corrupt).records.length, 1, `flipped byte ${at}`);
    }
    // A zero-filled tail (blocks allocated, never written) is not a record.
    assert.equal(decodeRecords(Buffer.concat([first, Buffer.alloc(64)])).records.length, 1);
  });
});

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** An image manifest over `config`, made distinct by `name`, with an optional subject. */
function manifest(config: Descriptor, name: string, subject?: Descriptor): Buffer {
  return json({
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config,
    layers: [],
    annotations: { name },
    ...(subject !== undefined ? { subject } : {}),
  });
}

function descriptorOf(content: Buffer): Descriptor {
  return { mediaType: MediaTypes.ociManifest, digest: digestOf(content), size: content.byteLength };
}

/** Every regular file below `root` (relative host path → bytes), the journal aside. */
async function snapshot(root: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name).slice(root.length);
    if (path.startsWith(`/${JOURNAL}`) || entry.name.includes('~')) continue;
    files.set(path, await readFile(join(root, path)));
  }
  return files;
}

async function segments(root: string): Promise<Buffer> {
  const dir = join(root, JOURNAL);
  const names = (await readdir(dir)).filter((n) => n.endsWith('.log')).sort();
  return Buffer.concat(await Promise.all(names.map((n) => readFile(join(dir, n)))));
}

/** Per storage path, every version the records gave it in order (undefined: removed). */
function historyOf(records: readonly JournalOperation[][]): Map<string, (Buffer | undefined)[]> {
  const history = new Map<string, (Buffer | undefined)[]>();
  for (const record of records) {
    for (const op of record) {
      if (op.kind === 'put') {
        history.set(op.path, [...(history.get(op.path) ?? []), Buffer.from(op.content)]);
        continue;
      }
      for (const [path, versions] of history) {
        if (path === op.path || path.startsWith(`${op.path}/`)) versions.push(undefined);
      }
    }
  }
  return history;
}

/** What a power cut may leave of a file written without fsync. */
type FileState = 'missing' | 'empty' | 'truncated' | 'old' | 'new';
const FILE_STATES: readonly FileState[] = ['missing', 'empty', 'truncated', 'old', 'new'];

/** A small deterministic generator, so that a failing state can be reproduced. */
function random(seed: number): () => number {
  let state = seed + 0x9e3779b9;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

interface Scenario {
  /** Durable outside the journal (the uploaded config blob): kept in every state. */
  readonly durable: Map<string, Buffer>;
  /** Bytes of the acknowledged records. */
  readonly acknowledged: Buffer;
  /** Where each acknowledged record ends in `acknowledged`. */
  readonly recordEnds: number[];
  readonly history: Map<string, (Buffer | undefined)[]>;
  /** The record of a push whose fdatasync never finished. */
  readonly tail: Buffer;
  readonly tailOps: readonly JournalOperation[];
  readonly tags: ReadonlyMap<string, Buffer>;
  readonly removedTags: readonly string[];
  readonly subject: Digest;
  readonly referrer: Digest;
  readonly tailTag: string;
  readonly tailManifest: Buffer;
  readonly config: Descriptor;
}

/** Acknowledged pushes, a tag moved, a tag deleted and a referrer; then one more push's record. */
async function buildScenario(): Promise<Scenario> {
  const root = await tempDir();
  const driver = createFilesystemDriver({ root, ...NO_CHECKPOINT });
  const store = createStore(driver);
  const configBytes = json({ architecture: 'amd64', os: 'linux' });
  const config = {
    mediaType: 'application/vnd.oci.image.config.v1+json',
    digest: digestOf(configBytes),
    size: configBytes.byteLength,
  };
  await store.uploads.putBlob(
    REPO,
    config.digest,
    (async function* () {
      yield configBytes;
    })(),
  );
  const durable = await snapshot(root);
  const before = (await segments(root)).byteLength;

  const one = manifest(config, 'one');
  const two = manifest(config, 'two');
  const three = manifest(config, 'three');
  const signature = manifest(config, 'signature', descriptorOf(one));
  await store.manifests.put(REPO, 'v1', one, MediaTypes.ociManifest);
  await store.manifests.put(REPO, 'v2', two, MediaTypes.ociManifest);
  await store.manifests.put(REPO, 'v3', three, MediaTypes.ociManifest);
  await store.manifests.put(REPO, digestOf(signature), signature, MediaTypes.ociManifest);
  await store.manifests.put(REPO, 'v1', two, MediaTypes.ociManifest); // a tag moved
  await store.manifests.delete(REPO, 'v3'); // a tag removed
  await store.manifests.put(REPO, 'v3', one, MediaTypes.ociManifest); // and made again
  await store.manifests.delete(REPO, 'v2');

  const all = await segments(root);
  const acknowledged = all.subarray(0, all.byteLength);
  const { records } = decodeRecords(acknowledged);
  const recordEnds: number[] = [];
  for (let i = 1; i <= records.length; i++) {
    recordEnds.push(records.slice(0, i).reduce((n, r) => n + encodeRecord(r).byteLength, 0));
  }
  // The layer link of the upload is a record too: it is part of what was acknowledged.
  assert.ok(before > 0 && recordEnds.at(-1) === acknowledged.byteLength);

  const tailManifest = manifest(config, 'four');
  await store.manifests.put(REPO, 'v4', tailManifest, MediaTypes.ociManifest);
  const tail = (await segments(root)).subarray(acknowledged.byteLength);
  const tailOps = decodeRecords(tail).records[0]!;
  assert.ok(tailOps.length >= 3, 'the push writes blob, revision and tag in one record');
  await driver.close?.();

  return {
    durable,
    acknowledged,
    recordEnds,
    history: historyOf(records),
    tail,
    tailOps,
    tags: new Map([
      ['v1', two],
      ['v3', one],
    ]),
    removedTags: ['v2'],
    subject: digestOf(one),
    referrer: digestOf(signature),
    tailTag: 'v4',
    tailManifest,
    config,
  };
}

/** The content `state` leaves of a path whose versions are `versions`. */
function contentIn(
  state: FileState,
  versions: readonly (Buffer | undefined)[],
): Buffer | undefined {
  const last = versions.at(-1);
  const old = versions.length > 1 ? versions.at(-2) : undefined;
  const some = last ?? old;
  switch (state) {
    case 'missing':
      return undefined;
    case 'empty':
      return some === undefined ? undefined : Buffer.alloc(0);
    case 'truncated':
      return some?.subarray(0, Math.floor(some.byteLength / 2));
    case 'old':
      return old;
    case 'new':
      return last;
  }
}

/**
 * Writes one crash state into a new root: the durable files, `journal` as segment files
 * (split at `splits`), and every file the records wrote in the state `stateOf` picks.
 */
async function crashState(
  s: Scenario,
  journal: Buffer,
  splits: readonly number[],
  stateOf: (path: string) => FileState | { readonly content: Buffer | undefined },
): Promise<string> {
  const root = await tempDir();
  for (const [path, content] of s.durable) await put(root, path, content);
  for (const [path, versions] of s.history) {
    const state = stateOf(path);
    const content = typeof state === 'string' ? contentIn(state, versions) : state.content;
    if (content !== undefined) await put(root, path, content);
  }
  await mkdir(join(root, JOURNAL), { recursive: true });
  const bounds = [0, ...splits, journal.byteLength];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const name = `${(i + 1).toString(16).padStart(16, '0')}.log`;
    await writeFile(join(root, JOURNAL, name), journal.subarray(bounds[i], bounds[i + 1]));
  }
  return root;
}

async function put(root: string, path: string, content: Buffer): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}

/** Files as the acknowledged records left them; the tail's all there or not at all. */
async function checkFiles(s: Scenario, driver: StorageDriver, label: string): Promise<void> {
  const read = (path: string) => driver.getContent(path).catch(() => undefined);
  const tailPaths = new Set(s.tailOps.map((op) => op.path));
  for (const [path, versions] of s.history) {
    if (tailPaths.has(path)) continue;
    assert.deepEqual(await read(path), versions.at(-1), `${label}: ${path}`);
  }
  const tail = await Promise.all(
    s.tailOps.map(async (op) => {
      const got = await read(op.path);
      if (op.kind === 'put' && got !== undefined && Buffer.from(op.content).equals(got)) {
        return 'applied';
      }
      const before = s.history.get(op.path)?.at(-1);
      const same = got === undefined ? before === undefined : before?.equals(got) === true;
      return same ? 'absent' : 'other';
    }),
  );
  const distinct = new Set(tail);
  assert.ok(distinct.size === 1 && !distinct.has('other'), `${label}: tail half-visible ${tail}`);
}

/** The registry's view: every acknowledged tag and manifest whole, and it still takes pushes. */
async function checkStore(s: Scenario, store: RegistryStore, label: string): Promise<void> {
  for (const [tag, content] of s.tags) {
    const got = await store.manifests.get(REPO, tag);
    assert.ok(got?.content.equals(content), `${label}: tag ${tag}`);
    assert.ok((await store.manifests.get(REPO, digestOf(content)))?.content.equals(content));
  }
  for (const tag of s.removedTags) assert.equal(await store.tags.resolve(REPO, tag), undefined);
  const referrers = await store.referrers.list(REPO, s.subject);
  assert.deepEqual(
    referrers.map((d) => d.digest),
    [s.referrer],
    `${label}: referrers`,
  );
  const tail = await store.tags.resolve(REPO, s.tailTag);
  if (tail !== undefined) {
    assert.ok((await store.manifests.get(REPO, s.tailTag))?.content.equals(s.tailManifest));
  }
  const after = manifest(s.config, `after ${label}`);
  await store.manifests.put(REPO, 'after', after, MediaTypes.ociManifest);
  assert.ok((await store.manifests.get(REPO, 'after'))?.content.equals(after));
}

async function recoverAndCheck(s: Scenario, root: string, label: string, full: boolean) {
  const driver = createFilesystemDriver({ root, ...NO_CHECKPOINT });
  await checkFiles(s, driver, label);
  if (full) await checkStore(s, createStore(driver), label);
  await driver.close?.();
  assert.deepEqual(await readdir(join(root, JOURNAL)), [], `${label}: journal left`);
  await rm(root, { recursive: true, force: true });
}

/** Runs `fn(0 … count-1)`, `STATES_AT_ONCE` at a time. */
async function eachConcurrently(count: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: STATES_AT_ONCE }, worker));
}

const STATES_AT_ONCE = 16;

describe('journal ownership', () => {
  it('refuses a root whose journal a live process owns, and takes over from a dead one', async () => {
    const root = await tempDir();
    await mkdir(join(root, JOURNAL));
    // The parent of this test process is alive and is not this process.
    await writeFile(join(root, JOURNAL, 'owner'), String(process.ppid));
    const refused = createFilesystemDriver({ root });
    await assert.rejects(refused.putContent('/a', Buffer.from('x')), (err: Error) => {
      assert.match(err.message, new RegExp(`in use by process ${process.ppid}`));
      return true;
    });
    const exited = spawnSync(process.execPath, ['-e', '0']);
    await writeFile(join(root, JOURNAL, 'owner'), String(exited.pid));
    const driver = createFilesystemDriver({ root });
    await driver.putContent('/a', Buffer.from('x'));
    assert.equal(await readFile(join(root, JOURNAL, 'owner'), 'utf8'), String(process.pid));
    await driver.close?.();
    assert.deepEqual(await readdir(join(root, JOURNAL)), []);
  });
});

describe('journal checkpoints', () => {
  it('never close a segment under a write or fdatasync in flight', async () => {
    // Checkpoints as often as possible (every millisecond and after every flush), while
    // writes keep arriving: a checkpoint that closed the segment a flush was still appending
    // to failed those writes with EBADF.
    const root = await tempDir();
    const driver = createFilesystemDriver({
      root,
      journal: { checkpointIntervalMs: 1, segmentMaxBytes: 1 },
    });
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          driver.putContent(`/r${round}/f${i}`, Buffer.from(`${round}:${i}`)),
        ),
      );
    }
    for (let round = 0; round < 20; round += 7) {
      assert.equal((await driver.getContent(`/r${round}/f3`)).toString(), `${round}:3`);
    }
    await driver.close?.();
  });
});

describe('journal recovery after a power cut', () => {
  it('keeps exactly the acknowledged writes whatever the files and the unsynced tail hold', async () => {
    const s = await buildScenario();
    const paths = [...s.history.keys()];
    // The unsynced tail cut at every byte, each with another mix of file states. Several
    // states at once: each recovery ends with a flush, and concurrent flushes are shared.
    await eachConcurrently(s.tail.byteLength + 1, async (cut) => {
      const next = random(cut);
      const picked = new Map(
        paths.map((p) => [p, FILE_STATES[Math.floor(next() * FILE_STATES.length)]!]),
      );
      const journal = Buffer.concat([s.acknowledged, s.tail.subarray(0, cut)]);
      const root = await crashState(s, journal, [], (p) => picked.get(p)!);
      // The registry's own view on a sample (it costs more); files on every state.
      const full = cut % 97 === 0 || cut === s.tail.byteLength;
      await recoverAndCheck(s, root, `tail cut at ${cut}`, full);
    });
    // Every file in the same state, for each state, with no tail and a whole one.
    for (const state of FILE_STATES) {
      for (const journal of [s.acknowledged, Buffer.concat([s.acknowledged, s.tail])]) {
        const root = await crashState(s, journal, [], () => state);
        await recoverAndCheck(s, root, `all ${state}, ${journal.byteLength} bytes`, true);
      }
    }
  });

  it('recovers a checkpoint interrupted at each step, with the journal in two segments', async () => {
    const s = await buildScenario();
    const paths = [...s.history.keys()];
    // Sealed segment (records before the split) being checkpointed, active one after it:
    // its files not yet durable (any state), made durable but the segment not yet deleted
    // ('new'), and the segment deleted once its files were durable (recovery sees only the
    // active segment, over files whose older records are whole).
    for (const split of s.recordEnds.slice(0, -1)) {
      const next = random(split);
      const picked = new Map(
        paths.map((p) => [p, FILE_STATES[Math.floor(next() * FILE_STATES.length)]!]),
      );
      const journal = Buffer.concat([s.acknowledged, s.tail.subarray(0, s.tail.byteLength >> 1)]);
      let root = await crashState(s, journal, [split], (p) => picked.get(p)!);
      await recoverAndCheck(s, root, `split at ${split}, files mixed`, true);
      root = await crashState(s, journal, [split], () => 'new');
      await recoverAndCheck(s, root, `split at ${split}, checkpoint synced`, false);

      // Deleted sealed segment: the files its records wrote were durable, so each holds the
      // content of the sealed part (or a later one, when a later record rewrote it).
      const sealed = historyOf(decodeRecords(s.acknowledged.subarray(0, split)).records);
      root = await crashState(s, journal.subarray(split), [], (p) => ({
        content: sealed.get(p)?.at(-1),
      }));
      await recoverAndCheck(s, root, `split at ${split}, sealed segment deleted`, false);
    }
  });
});
