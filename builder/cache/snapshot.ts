/**
 * Root file system snapshots for the step cache, as a change set against the step's input:
 * before a cached step runs, every entry of the tree is indexed (type, inode, change and
 * modification times, size, mode, owner); after it, each entry that is new or differs goes into
 * `changes.tar.zst` (GNU tar: sorted, numeric owners, xattrs and ACLs kept — file capabilities
 * live there — zstd) and each entry that is gone into `deleted` (NUL-separated paths). The first
 * step starts from nothing, so its snapshot is the whole tree. Restoring replays a snapshot on
 * the tree it was taken from: the deleted entries are removed, then the archive is unpacked.
 *
 * What a snapshot holds must not depend on when the step ran: clampTimes dates every entry the
 * step touched (its time is later than SOURCE_DATE_EPOCH) back to SOURCE_DATE_EPOCH first, so
 * that a folder's time, which a later step may read (initramfs's fingerprint), is the same in
 * the build that stored the entry, in the one that replays it, and in a build without cache.
 *
 *   const before = await indexTree(rootfs, signal);
 *   … the step changes rootfs …
 *   await clampTimes(run, rootfs, epoch);
 *   await writeSnapshot(run, rootfs, before, entryDir);
 *   await restoreSnapshot(run, entryDir, otherRootfs);
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../exec.ts';

/** Relative path ('' for the root itself) → what identifies that entry's current state. */
export type TreeIndex = Map<string, string>;

export const ARCHIVE = 'changes.tar.zst';
export const DELETED = 'deleted';

type Run = (argv: readonly string[], opts?: { input?: string }) => Promise<{ stdout: string }>;

const TAR_METADATA = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls'];

export async function indexTree(root: string, signal?: AbortSignal): Promise<TreeIndex> {
  const index: TreeIndex = new Map();
  const exists = await runCommand(['test', '-d', root]).then(() => true, () => false);
  if (!exists) return index;
  // type first: an entry whose type changed is removed, then unpacked anew
  const { stdout } = await runCommand(['find', root, '-printf', '%P\\0%y %i %C@ %T@ %s %m %U %G\\0'], { signal, tailLines: 5 });
  const fields = stdout.split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) index.set(fields[i], fields[i + 1]);
  return index;
}

/** Entry times later than epoch (what a step touched) set to epoch, links themselves included. */
export async function clampTimes(run: Run, root: string, epoch: number): Promise<void> {
  await run(['find', root, '-newermt', `@${epoch}`, '-exec', 'touch', '--no-dereference', '--date', `@${epoch}`, '{}', '+']);
}

const parentOf = (path: string): string | null => (path === '' ? null : path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');

/** Depth-first order, as tar writes a tree: a folder, then everything below it, then its next
 *  sibling (plain string order would put "a-b" between "a" and "a/c"). */
export function treeOrder(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = Buffer.compare(Buffer.from(pa[i]), Buffer.from(pb[i]));
    if (c) return c;
  }
  return pa.length - pb.length;
}

export interface SnapshotStats {
  changed: number;
  deleted: number;
}

export async function writeSnapshot(run: Run, root: string, before: TreeIndex, dir: string, signal?: AbortSignal): Promise<SnapshotStats> {
  const after = await indexTree(root, signal);
  const type = (state: string | undefined) => state?.split(' ', 1)[0];
  const changedSet = new Set([...after].filter(([path, state]) => before.get(path) !== state).map(([path]) => path));
  const deleted = [...before.keys()].filter((path) => !after.has(path) || type(before.get(path)) !== type(after.get(path)));
  // Replaying an entry (or a deletion) changes its folder's modification time: the folder goes
  // into the archive too, and tar sets its times back once it has unpacked what is inside.
  for (const path of [...changedSet, ...deleted]) {
    const parent = parentOf(path);
    if (parent !== null && after.has(parent)) changedSet.add(parent);
  }
  const changed = [...changedSet].sort(treeOrder);
  deleted.sort(treeOrder);
  const list = join(dir, 'changed.list');
  await writeFile(list, changed.map((p) => (p ? `./${p}` : '.')).join('\0'));
  await writeFile(join(dir, DELETED), deleted.join('\0'));
  await run([
    'tar', '--create', `--file=${join(dir, ARCHIVE)}`, `--directory=${root}`, '--no-recursion', '--null', '--verbatim-files-from',
    `--files-from=${list}`, ...TAR_METADATA, '--format=posix', '--pax-option=delete=atime,delete=ctime',
    '--use-compress-program=zstd -T0 -3 -q',
  ]);
  await rm(list);
  return { changed: changed.length, deleted: deleted.length };
}

export async function restoreSnapshot(run: Run, dir: string, root: string): Promise<void> {
  await mkdir(root, { recursive: true });
  const deleted = (await readFile(join(dir, DELETED), 'utf8')).split('\0').filter(Boolean);
  for (const path of deleted.reverse()) {
    if (path.split('/').some((part) => part === '..' || part === '')) throw new Error(`cache entry ${dir}: invalid deleted path "${path}"`);
    await rm(join(root, path), { recursive: true, force: true });
  }
  await run([
    'tar', '--extract', `--file=${join(dir, ARCHIVE)}`, `--directory=${root}`, ...TAR_METADATA,
    '--same-owner', '--preserve-permissions', '--use-compress-program=zstd -q',
  ]);
}
