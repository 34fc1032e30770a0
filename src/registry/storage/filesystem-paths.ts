import { lstatSync, mkdirSync } from 'node:fs';
import { mkdir, realpath } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { StorageError } from '../../errors.js';
import { ioError, notFound } from './driver-checks.js';
import type { DirectorySyncer } from './directory-sync.js';
import { syncDirectory } from './directory-sync.js';
import { errno, symlinkRefused } from './filesystem-errors.js';

/**
 * Storage paths to host paths for the filesystem driver, refusing symbolic links below the
 * root (the rules are in `createFilesystemDriver`'s comment): the root resolved once, parent
 * directories checked with `realpath` once and remembered, missing parents created with
 * `lstat` checks.
 */

/**
 * How many host directories are remembered as checked (no symbolic link between the root and
 * them). The oldest is forgotten first; a forgotten directory is checked again.
 */
const VERIFIED_DIRECTORIES_MAX = 4096;

/**
 * A repository or upload being deleted can remove a directory between our creating it and
 * using it; creating the parents again this many times covers any realistic interleaving.
 */
const PARENT_ATTEMPTS = 3;

/** Where a path is resolved, and what is done with the directories created for it. */
export interface Placement {
  /** The resolved root, when known (during start-up, before `root` resolves). */
  readonly root?: string;
  /**
   * When given, the directories whose entries were changed by creating a parent directory
   * are added here, for the caller to fsync later (the journal's checkpoint); otherwise they
   * are fsynced at once.
   */
  readonly created?: string[];
}

export interface HostPaths {
  /** The root, created, resolved and prepared once (a failure is retried on the next call). */
  root(op: string, path: string): Promise<string>;
  /**
   * The host path of `path`, after checking that no directory between the root and it is a
   * symbolic link. Missing parents are NOT_FOUND, or created with `create`.
   */
  resolve(op: string, path: string, create: boolean, placement?: Placement): Promise<string>;
  /**
   * Runs `fn` on the host path of `path` with its parents created, again if they vanish
   * (ENOENT) in between. Other errors, and ENOENT after the last attempt, are rethrown.
   */
  withParents<T>(
    op: string,
    path: string,
    fn: (host: string) => Promise<T>,
    placement?: Placement,
  ): Promise<T>;
  /**
   * `withParents` done synchronously, for the journal's apply of small files (`filesystem.ts`
   * says why): no `realpath` of a parent not yet checked, its missing or unchecked directories
   * are created or checked one by one from the deepest one checked (`mkdir`, `lstat`), which
   * refuses a symbolic link just as the `realpath` check does.
   */
  withParentsSync<T>(
    op: string,
    path: string,
    fn: (host: string) => T,
    placement: Placement & { readonly root: string },
  ): T;
  /** Forgets `host` and every directory below it (removed, or replaced by something else). */
  forget(host: string): void;
}

/**
 * The host paths below `configuredRoot`; `prepare` runs once on the resolved root before
 * any path is handed out (the journal's recovery).
 */
export function createHostPaths(
  configuredRoot: string,
  syncDir: DirectorySyncer,
  prepare: (root: string) => Promise<void>,
): HostPaths {
  let rootPromise: Promise<string> | undefined;
  /** Host directories known to have no symbolic link between the root and them. */
  const verified = new Set<string>();

  function remember(dir: string): void {
    if (verified.has(dir)) return;
    if (verified.size >= VERIFIED_DIRECTORIES_MAX) {
      const oldest = verified.values().next();
      if (oldest.done !== true) verified.delete(oldest.value);
    }
    verified.add(dir);
  }

  /** Forgets `host` and every directory below it (removed, or replaced by something else). */
  function forget(host: string): void {
    if (verified.size === 0) return;
    const below = `${host}${sep}`;
    for (const dir of verified) {
      if (dir === host || dir.startsWith(below)) verified.delete(dir);
    }
  }

  /** The root, created and resolved once (a failure is retried on the next call). */
  async function hostRoot(op: string, path: string): Promise<string> {
    rootPromise ??= (async () => {
      await mkdir(configuredRoot, { recursive: true });
      const root = await realpath(configuredRoot);
      await prepare(root);
      return root;
    })();
    try {
      return await rootPromise;
    } catch (err) {
      rootPromise = undefined;
      if (err instanceof StorageError) throw err;
      throw ioError(op, path, `storage root unusable: ${errno(err) ?? 'error'}`, err);
    }
  }

  /**
   * The host path of `path`, after checking that no directory between the root and it is a
   * symbolic link. Missing parents are NOT_FOUND, or created with `create`.
   */
  async function hostPath(
    op: string,
    path: string,
    create: boolean,
    placement: Placement = {},
  ): Promise<string> {
    const root = placement.root ?? (await hostRoot(op, path));
    const segments = path === '/' ? [] : path.slice(1).split('/');
    const host = join(root, ...segments);
    if (segments.length <= 1) return host;
    const parent = dirname(host);
    if (verified.has(parent)) return host;
    let real: string;
    try {
      real = await realpath(parent);
    } catch (err) {
      const code = errno(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw ioError(op, path, code ?? 'error', err);
      if (!create) throw notFound(op, path, err);
      const changed = makeParents(op, path, root, segments.slice(0, -1));
      remember(parent);
      if (placement.created !== undefined) placement.created.push(...changed);
      else for (const dir of changed) await syncDirectory(syncDir, op, path, dir);
      return host;
    }
    // Any difference means a link (or a case-folding file system resolving another name).
    if (real !== parent) throw symlinkRefused(op, path);
    remember(parent);
    return host;
  }

  /**
   * `mkdir -p` that refuses to pass through a symbolic link; returns the directories whose
   * entries it changed (the parent of each directory created), for the caller to fsync. It
   * starts below the deepest directory already checked (each directory it passes is checked
   * with `lstat` and remembered), so a new repository or digest directory costs a mkdir per
   * new directory only. Synchronous, as the journal's apply is (`replaceFileSync` in
   * `filesystem.ts` says why); a new directory is rare on the other paths (uploads, moves).
   */
  function makeParents(
    op: string,
    path: string,
    root: string,
    segments: string[],
    fromRoot = false,
  ): string[] {
    const changed: string[] = [];
    let start = 0;
    if (!fromRoot) {
      for (let i = segments.length; i > 0; i--) {
        if (verified.has(join(root, ...segments.slice(0, i)))) {
          start = i;
          break;
        }
      }
    }
    let dir = join(root, ...segments.slice(0, start));
    for (const segment of segments.slice(start)) {
      const next = join(dir, segment);
      let made = false;
      try {
        mkdirSync(next);
        made = true;
      } catch (err) {
        const code = errno(err);
        if (code === 'ENOENT' && !fromRoot) {
          // A remembered directory is gone: forget it, and check everything from the root.
          forget(join(root, ...segments.slice(0, start)));
          return [...changed, ...makeParents(op, path, root, segments, true)];
        }
        if (code !== 'EEXIST') throw ioError(op, path, code ?? 'error', err);
      }
      // A directory mkdir has just made is one (no lstat); one that was there is checked.
      if (!made) {
        let stats;
        try {
          stats = lstatSync(next);
        } catch (err) {
          throw ioError(op, path, errno(err) ?? 'error', err);
        }
        if (stats.isSymbolicLink()) throw symlinkRefused(op, path);
        if (!stats.isDirectory()) throw ioError(op, path, 'a file is in the way');
      } else {
        changed.push(dir);
      }
      remember(next);
      dir = next;
    }
    return changed;
  }

  /**
   * Runs `fn` on the host path of `path` with its parents created, again if they vanish
   * (ENOENT) in between. Other errors, and ENOENT after the last attempt, are rethrown.
   */
  async function withParents<T>(
    op: string,
    path: string,
    fn: (host: string) => Promise<T>,
    placement: Placement = {},
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const host = await hostPath(op, path, true, placement);
      try {
        return await fn(host);
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
        // The parent was removed in between (or is remembered but gone): check it again.
        forget(dirname(host));
        if (attempt >= PARENT_ATTEMPTS) throw err;
      }
    }
  }

  function withParentsSync<T>(
    op: string,
    path: string,
    fn: (host: string) => T,
    placement: Placement & { readonly root: string },
  ): T {
    const { root } = placement;
    const segments = path.slice(1).split('/');
    const host = join(root, ...segments);
    const parent = dirname(host);
    for (let attempt = 1; ; attempt++) {
      if (segments.length > 1 && !verified.has(parent)) {
        const changed = makeParents(op, path, root, segments.slice(0, -1));
        remember(parent);
        placement.created?.push(...changed);
      }
      try {
        return fn(host);
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
        // The parent was removed in between (a delete running in the thread pool).
        forget(parent);
        if (attempt >= PARENT_ATTEMPTS) throw err;
      }
    }
  }

  return { root: hostRoot, resolve: hostPath, withParents, withParentsSync, forget };
}
