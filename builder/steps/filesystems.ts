/**
 * filesystems — makes one file per partition from the root file system folder, with no mount of
 * the image and no loop device: each non-root partition's folder (e.g. /boot/firmware) is moved
 * out and becomes a FAT file system (`mkfs.vfat` then `mcopy`), the rest becomes the ext4 root
 * (`mkfs.ext4 -d`).
 *
 * Same tree, same bytes: labels, UUIDs, volume ids, hash seed and file system dates come from the
 * plan; and since mkfs.ext4 and mcopy take entries in the order the source folder lists them
 * (which on the build host's disk depends on its history), each tree is first copied, sorted, into
 * a private tmpfs (mounted in a mount namespace of its own: nothing stays mounted if the build
 * dies) whose listing order then follows. mkfs.ext4 copies each source file's access and change
 * times, which no program can set: `debugfs` then sets them to SOURCE_DATE_EPOCH on every inode.
 *
 * Options (from the board's partitions): label, fs, sizeMiB (root: content + 30 % + the plan's
 * rootFreeMiB: 256 MiB, more when a layer installs things at first boot).
 * Example: RASPIFIRM vfat 256 MiB from /boot/firmware; RASPIROOT ext4 from the rest.
 */
import { mkdir, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PlannedPartition } from '../recipe/plan.ts';
import { sourceDate, type Step, type StepContext } from '../step.ts';
import { runCommand } from '../exec.ts';

export const ALIGN_MIB = 4;

export const partitionFile = (ctx: StepContext, p: PlannedPartition) => join(ctx.workDir, 'parts', `${p.label}.${p.fs}`);

const TAR_METADATA = "--numeric-owner --xattrs --xattrs-include='*' --acls";

/** Runs "$@" (with $CLIC_STAGE_MIB set to the staged size) after copying $2 into a tmpfs at $1, sorted. */
const STAGED = `
set -e
stage=$1 src=$2; shift 2
mount -t tmpfs -o mode=0755 clic-stage "$stage"
tar -C "$src" --sort=name ${TAR_METADATA} --create --file=- . | tar -C "$stage" ${TAR_METADATA} --same-owner --preserve-permissions --extract --file=-
export CLIC_STAGE_MIB=$(du --summarize --block-size=1M "$stage" | cut -f1)
"$@"
`;

export function stagedArgv(stage: string, src: string, argv: readonly string[]): string[] {
  return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', STAGED, 'clic-stage', stage, src, ...argv];
}

/** Root partition size when the board gives none: content + 30 % + free space, 4 MiB aligned. */
const MKFS_EXT4 = `
size=$5
[ "$size" != 0 ] || size=$(( ((CLIC_STAGE_MIB * 13 + 9) / 10 + $6 + ${ALIGN_MIB - 1}) / ${ALIGN_MIB} * ${ALIGN_MIB} ))
mkfs.ext4 -q -F -L "$1" -U "$2" -E "hash_seed=$2,root_owner=0:0" -d "$3" "$4" "\${size}M"
`;

/** Copies the staged folder's entries (top level sorted, below in the stage's listing order). */
const MCOPY = `cd "$1" && find . -mindepth 1 -maxdepth 1 -print0 | sort -z | xargs -0 --no-run-if-empty sh -c 'mcopy -s -p -m -Q -i "$0" "$@" ::/' "$2"`;

async function makeVfat(ctx: StepContext, p: PlannedPartition, content: string, file: string, stage: string) {
  const env = { SOURCE_DATE_EPOCH: String(sourceDate(ctx)), TZ: 'UTC' };
  await ctx.run(['truncate', '--size', `${p.sizeMiB}M`, file]);
  // --invariant first: placed after -i it would replace the volume id with a constant
  await ctx.run(['mkfs.vfat', '--invariant', '-F', '32', '-n', p.label, '-i', p.fsId, file], { env });
  await ctx.run(stagedArgv(stage, content, ['sh', '-c', MCOPY, 'mcopy', stage, file]), { env });
}

/** Every path of a tree, '/'-rooted, for debugfs (find: symbolic links are not followed). */
async function treePaths(root: string, signal: AbortSignal): Promise<string[]> {
  const { stdout } = await runCommand(['find', root, '-mindepth', '1', '-printf', '/%P\\0'], { signal, tailLines: 5 });
  return ['/', ...stdout.split('\0').filter(Boolean)].sort();
}

/** A path or name as one debugfs argument. */
export function debugfsQuote(path: string): string {
  if (path.includes('\n')) throw new Error(`${JSON.stringify(path)}: a file name with a line break cannot be given to debugfs`);
  // debugfs's parser: inside double quotes, "" is a quote and a backslash is itself
  return `"${path.replaceAll('"', '""')}"`;
}

/** debugfs commands giving every inode the same access and change time (and more fields if asked). */
export function datingCommands(paths: readonly string[], epoch: number, fields: readonly string[] = ['atime', 'ctime']): string {
  const lines: string[] = [];
  for (const path of paths) {
    const quoted = debugfsQuote(path);
    for (const field of fields) lines.push(`sif ${quoted} ${field} @${epoch}`);
  }
  return lines.join('\n') + '\n';
}

async function makeExt4(ctx: StepContext, p: PlannedPartition, content: string, file: string, stage: string) {
  const epoch = sourceDate(ctx);
  const env = { E2FSPROGS_FAKE_TIME: String(epoch) };
  await ctx.run(stagedArgv(stage, content, ['sh', '-c', MKFS_EXT4, 'mkfs', p.label, p.fsId, stage, file, String(p.sizeMiB ?? 0), String(ctx.plan.rootFreeMiB)]), { env });
  const commands = join(ctx.workDir, 'parts', `${p.label}.debugfs`);
  const paths = await treePaths(content, ctx.signal);
  await writeFile(commands, datingCommands(paths, epoch));
  // debugfs echoes each of its commands: run quietly, keeping only what is not an echo (errors)
  const errors: string[] = [];
  ctx.events.emit({ type: 'cmd', step: 'filesystems', argv: ['debugfs', '-w', '-f', commands, file] });
  await runCommand(['debugfs', '-w', '-f', commands, file], {
    env, signal: ctx.signal, onLine: (l) => { if (l.trim() && !l.startsWith('debugfs')) errors.push(l); },
  });
  if (errors.length) throw new Error(`debugfs could not date every inode of ${p.label}: ${errors.slice(0, 3).join('; ')}`);
  ctx.events.emit({ type: 'output', step: 'filesystems', line: `${p.label}: ${paths.length} inodes dated @${epoch}` });
}

export const filesystemsStep: Step = {
  name: 'filesystems',
  async run(ctx) {
    await mkdir(join(ctx.workDir, 'parts'), { recursive: true });
    const contentDirs = new Map<string, string>();
    // Move each boot partition's folder out of the root tree first, leaving an empty mount point.
    for (const p of ctx.plan.partitions.filter((p) => p.mountpoint !== '/' && !p.content)) {
      const inRoot = join(ctx.rootfs, p.mountpoint);
      const moved = join(ctx.workDir, 'parts', `${p.label}.content`);
      const mode = (await stat(inRoot)).mode & 0o7777;
      await rename(inRoot, moved);
      await mkdir(inRoot, { mode });
      // the new mount point and its parent are dated like every other file
      for (const dir of [inRoot, dirname(inRoot)]) await utimes(dir, sourceDate(ctx), sourceDate(ctx));
      contentDirs.set(p.label, moved);
    }
    // the content partition is made by the content step
    for (const p of ctx.plan.partitions.filter((p) => !p.content)) {
      const file = partitionFile(ctx, p);
      const stage = join(ctx.workDir, 'parts', `${p.label}.stage`);
      await mkdir(stage);
      const content = p.mountpoint === '/' ? ctx.rootfs : contentDirs.get(p.label)!;
      if (p.fs === 'vfat') await makeVfat(ctx, p, content, file, stage);
      else await makeExt4(ctx, p, content, file, stage);
    }
  },
};
