import { Readable } from 'node:stream';
import type { FileInfo, FileWriter, StorageDriver } from './driver.js';
import {
  STREAM_CHUNK_BYTES,
  checkPath,
  checkRange,
  ioError,
  notFound,
  writerFinished,
} from './driver-checks.js';

interface MemoryFile {
  readonly kind: 'file';
  /** Bytes `[0, length)` are the content; the rest is room to append into. */
  data: Buffer;
  length: number;
  modTime: Date;
}

interface MemoryDirectory {
  readonly kind: 'directory';
  readonly children: Map<string, MemoryNode>;
  modTime: Date;
}

type MemoryNode = MemoryFile | MemoryDirectory;

/**
 * A storage driver that keeps everything in memory, for tests and ephemeral registries. Same
 * contract and suite as the filesystem driver. Directories exist only while a file is below
 * them: removing the last file of a directory removes the directory (the root stays).
 *
 * Content is copied in and out (`putContent`, `getContent`, stream chunks), so callers can
 * never change stored bytes through a buffer they hold. Bytes already stored are never
 * changed in place, either: a writer only appends past the end and a rewrite stores a new
 * file, which is what lets a reader stream from the stored buffer without copying it whole.
 *
 * @example
 * const driver = createMemoryDriver();
 * await driver.putContent('/v2/repositories/a/_manifests/tags/v1/current/link', bytes);
 */
export function createMemoryDriver(): StorageDriver {
  const root: MemoryDirectory = newDirectory();

  function find(path: string): MemoryNode | undefined {
    let node: MemoryNode = root;
    for (const segment of segmentsOf(path)) {
      if (node.kind !== 'directory') return undefined;
      const child: MemoryNode | undefined = node.children.get(segment);
      if (child === undefined) return undefined;
      node = child;
    }
    return node;
  }

  function findFile(op: string, path: string): MemoryFile {
    const node = find(path);
    if (node?.kind !== 'file') throw notFound(op, path);
    return node;
  }

  function findDirectory(op: string, path: string): MemoryDirectory {
    const node = find(path);
    if (node?.kind !== 'directory') throw notFound(op, path);
    return node;
  }

  /** Fails unless a file could be stored at `path`: no file above it, no directory at it. */
  function checkWritable(op: string, path: string): void {
    let node: MemoryNode | undefined = root;
    const segments = segmentsOf(path);
    for (const [i, segment] of segments.entries()) {
      if (node.kind !== 'directory') throw ioError(op, path, 'a file is in the way');
      node = node.children.get(segment);
      if (node === undefined) return;
      if (i === segments.length - 1 && node.kind === 'directory') {
        throw ioError(op, path, 'a directory is in the way');
      }
    }
  }

  /** Stores `file` at `path`, creating parent directories. Call `checkWritable` first. */
  function attach(path: string, file: MemoryFile): void {
    const segments = segmentsOf(path);
    let dir = root;
    for (const segment of segments.slice(0, -1)) {
      let child = dir.children.get(segment);
      if (child === undefined) {
        child = newDirectory();
        dir.children.set(segment, child);
        dir.modTime = new Date();
      }
      if (child.kind !== 'directory') throw new Error('unreachable: checkWritable missed a file');
      dir = child;
    }
    dir.children.set(segments.at(-1)!, file);
    dir.modTime = new Date();
  }

  /** Removes what is at `path` and then every directory above it left empty (not the root). */
  function detach(path: string): void {
    const segments = segmentsOf(path);
    const chain: MemoryDirectory[] = [root];
    for (const segment of segments.slice(0, -1)) {
      const child = chain.at(-1)!.children.get(segment);
      if (child?.kind !== 'directory') return;
      chain.push(child);
    }
    for (let i = segments.length - 1; i >= 0; i--) {
      const dir = chain[i]!;
      const child = dir.children.get(segments[i]!);
      if (i < segments.length - 1 && (child?.kind !== 'directory' || child.children.size > 0)) {
        return;
      }
      dir.children.delete(segments[i]!);
      dir.modTime = new Date();
    }
  }

  function info(path: string, node: MemoryNode): FileInfo {
    return {
      path,
      size: node.kind === 'file' ? node.length : 0,
      modTime: new Date(node.modTime),
      isDirectory: node.kind === 'directory',
    };
  }

  async function walkDirectory(
    path: string,
    dir: MemoryDirectory,
    visit: (info: FileInfo) => void | Promise<void>,
  ): Promise<void> {
    // A snapshot, sorted so that whole paths come out in ascending order (`a/` sorts after
    // `a-b` and `a.txt`, as `/a/x` does after `/a-b` and `/a.txt`).
    const entries = [...dir.children].sort(([a, x], [b, y]) =>
      compare(x.kind === 'directory' ? `${a}/` : a, y.kind === 'directory' ? `${b}/` : b),
    );
    for (const [name, node] of entries) {
      const child = childPath(path, name);
      if (find(child) !== node) continue; // removed during the walk
      if (node.kind === 'directory') await walkDirectory(child, node, visit);
      else await visit(info(child, node));
    }
  }

  return {
    name: 'memory',

    async getContent(path) {
      checkPath('getContent', path, false);
      const file = findFile('getContent', path);
      return Buffer.from(file.data.subarray(0, file.length));
    },

    async putContent(path, content) {
      checkPath('putContent', path, false);
      checkWritable('putContent', path);
      const data = Buffer.from(content);
      attach(path, { kind: 'file', data, length: data.length, modTime: new Date() });
    },

    async reader(path, options) {
      checkPath('reader', path, false);
      const { offset, length } = checkRange(path, options);
      const file = findFile('reader', path);
      const start = Math.min(offset, file.length);
      const end = length === undefined ? file.length : Math.min(file.length, start + length);
      return Readable.from(chunks(file.data.subarray(start, end)), { objectMode: false });
    },

    async writer(path, options) {
      checkPath('writer', path, false);
      checkWritable('writer', path);
      const existing = find(path);
      let file: MemoryFile;
      if (options?.append === true && existing?.kind === 'file') {
        file = existing;
      } else {
        file = { kind: 'file', data: Buffer.alloc(0), length: 0, modTime: new Date() };
        attach(path, file);
      }
      let open = true;
      let size = file.length;
      const writer: FileWriter = {
        async write(chunk) {
          if (!open) throw writerFinished('write', path);
          append(file, chunk);
          size += chunk.byteLength;
        },
        get size() {
          return size;
        },
        async commit() {
          if (!open) throw writerFinished('commit', path);
          open = false;
        },
        async cancel() {
          if (!open) throw writerFinished('cancel', path);
          open = false;
          if (find(path) === file) detach(path);
        },
        async close() {
          open = false;
        },
      };
      return writer;
    },

    async stat(path) {
      checkPath('stat', path, true);
      const node = find(path);
      if (node === undefined) throw notFound('stat', path);
      return info(path, node);
    },

    async list(path) {
      checkPath('list', path, true);
      const dir = findDirectory('list', path);
      return [...dir.children.keys()].sort(compare).map((name) => childPath(path, name));
    },

    async move(source, destination) {
      checkPath('move', source, false);
      checkPath('move', destination, false);
      const file = findFile('move', source);
      if (source === destination) return;
      checkWritable('move', destination);
      detach(source);
      attach(destination, file);
    },

    async delete(path) {
      checkPath('delete', path, false);
      if (find(path) === undefined) throw notFound('delete', path);
      detach(path);
    },

    async walk(path, visit) {
      checkPath('walk', path, true);
      await walkDirectory(path, findDirectory('walk', path), visit);
    },
  };
}

function newDirectory(): MemoryDirectory {
  return { kind: 'directory', children: new Map(), modTime: new Date() };
}

function segmentsOf(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

function childPath(path: string, name: string): string {
  return path === '/' ? `/${name}` : `${path}/${name}`;
}

/** Code-unit order (what `Array.prototype.sort` does by default; paths are ASCII). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Appends into spare room, growing by doubling; never touches bytes already stored. */
function append(file: MemoryFile, chunk: Uint8Array): void {
  const needed = file.length + chunk.byteLength;
  if (needed > file.data.length) {
    const grown = Buffer.alloc(Math.max(needed, file.data.length * 2, 4096));
    file.data.copy(grown, 0, 0, file.length);
    file.data = grown;
  }
  file.data.set(chunk, file.length);
  file.length = needed;
  file.modTime = new Date();
}

/** Copies of `view` in stream-sized pieces: memory beyond the stored bytes stays flat. */
function* chunks(view: Buffer): Generator<Buffer> {
  for (let i = 0; i < view.length; i += STREAM_CHUNK_BYTES) {
    yield Buffer.from(view.subarray(i, i + STREAM_CHUNK_BYTES));
  }
}
