/**
 * Checks the build's two folders before any work, so that a build does not run for minutes to
 * fail on a path: the output folder and the cache folder each exist or can be created, are
 * folders, can be written, and have room for what the build writes there. Each problem is one
 * sentence naming the path and the cause.
 *
 * Room is counted from what the plan knows before the build (the root tree's size is only known
 * once it is made, so a floor stands for it): the image (fixed partitions, root free space, the
 * content files) in the output folder; the root tree and the partition files, about twice the
 * image, in the cache folder's scratch space; both at once when they share a file system.
 *
 *   await checkFolders(plan, cacheDir);   // FolderError: "output folder /mnt/out: … read-only"
 */
import { constants } from 'node:fs';
import { access, stat, statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Plan } from './recipe/plan.ts';

/** The smallest root tree a CLIC image has (a Debian minbase with a kernel and the kit's layers). */
export const ROOT_TREE_FLOOR_BYTES = 768 * 2 ** 20;

export class FolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FolderError';
  }
}

const CAUSES: Record<string, string> = {
  EROFS: 'it is on a read-only file system',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
};

const size = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${Math.ceil(n / 2 ** 20)} MiB`);

/** The folder itself if it exists, else its nearest existing parent, which must be a folder the
 *  build can create it in. Returns the existing folder that holds (or will hold) it. */
export async function checkFolder(path: string, role: string): Promise<string> {
  const target = resolve(path);
  let at = target;
  for (;;) {
    // ENOTDIR: a file further up, which the next rounds find
    const st = await stat(at).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' || err.code === 'ENOTDIR' ? null : err));
    if (st instanceof Error) throw new FolderError(`${role} ${target}: cannot be read (${CAUSES[st.code ?? ''] ?? st.message})`);
    if (st) {
      if (!st.isDirectory()) {
        throw new FolderError(at === target ? `${role} ${target}: is a file, not a folder` : `${role} ${target}: cannot be made, ${at} is a file, not a folder`);
      }
      break;
    }
    at = dirname(at);
  }
  const cause = await access(at, constants.W_OK).then(() => null, (err: NodeJS.ErrnoException) => CAUSES[err.code ?? ''] ?? err.message);
  if (cause) throw new FolderError(at === target ? `${role} ${target}: cannot be written, ${cause}` : `${role} ${target}: cannot be made in ${at}, ${cause}`);
  return at;
}

/** What the image holds that the plan knows of: fixed partitions, root free space and tree floor,
 *  the content files. */
export function plannedImageBytes(plan: Plan): number {
  const fixed = plan.partitions.reduce((n, p) => n + (p.content ? 0 : (p.sizeMiB ?? 0) * 2 ** 20), 0);
  const content = (plan.content?.resolved ?? []).reduce((n, f) => n + (f.size ?? 0), 0);
  return fixed + plan.rootFreeMiB * 2 ** 20 + ROOT_TREE_FLOOR_BYTES + content;
}

export async function checkFolders(plan: Plan, cacheDir: string): Promise<void> {
  const image = plannedImageBytes(plan);
  const needs = [
    { role: 'output folder', path: plan.output.dir, bytes: image, what: 'the image' },
    { role: 'cache folder', path: cacheDir, bytes: 2 * image, what: 'the root tree and the partition files' },
  ];
  const byDevice = new Map<number, { free: number; bytes: number; paths: string[]; whats: string[] }>();
  for (const need of needs) {
    const existing = await checkFolder(need.path, need.role);
    const device = (await stat(existing)).dev;
    const fs = await statfs(existing);
    const entry = byDevice.get(device) ?? { free: fs.bavail * fs.bsize, bytes: 0, paths: [], whats: [] };
    entry.bytes += need.bytes;
    entry.paths.push(`${need.role} ${resolve(need.path)}`);
    entry.whats.push(need.what);
    byDevice.set(device, entry);
  }
  for (const { free, bytes, paths, whats } of byDevice.values()) {
    if (free < bytes) {
      throw new FolderError(`${paths.join(' and ')}: not enough free space, ${whats.join(' and ')} need at least ${size(bytes)} and ${size(free)} is free`);
    }
  }
}
