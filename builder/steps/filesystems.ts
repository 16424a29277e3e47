/**
 * filesystems — makes one file per partition from the root file system folder, with no mount
 * and no loop device: each non-root partition's folder (e.g. /boot/firmware) is moved out and
 * becomes a FAT file system (`mkfs.vfat` then `mcopy`), the rest becomes the ext4 root
 * (`mkfs.ext4 -d`). Labels, UUIDs, volume ids, hash seed and timestamps come from the plan, so
 * two builds of the same tree give the same bytes.
 *
 * Options (from the board's partitions): label, fs, sizeMiB (root: content + 30 % + 256 MiB).
 * Example: RASPIFIRM vfat 256 MiB from /boot/firmware; RASPIROOT ext4 from the rest.
 */
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PlannedPartition } from '../recipe/plan.ts';
import type { Step, StepContext } from '../step.ts';

export const ALIGN_MIB = 4;

export const partitionFile = (ctx: StepContext, p: PlannedPartition) => join(ctx.workDir, 'parts', `${p.label}.${p.fs}`);

const alignUp = (mib: number) => Math.ceil(mib / ALIGN_MIB) * ALIGN_MIB;

async function usedMiB(ctx: StepContext, dir: string): Promise<number> {
  const { stdout } = await ctx.run(['du', '--summarize', '--block-size=1M', '--one-file-system', dir]);
  return parseInt(stdout, 10);
}

export async function rootSizeMiB(ctx: StepContext, p: PlannedPartition): Promise<number> {
  if (p.sizeMiB) return p.sizeMiB;
  return alignUp(Math.ceil((await usedMiB(ctx, ctx.rootfs)) * 1.3) + 256);
}

async function makeVfat(ctx: StepContext, p: PlannedPartition, content: string, file: string) {
  const env = { SOURCE_DATE_EPOCH: String(ctx.plan.sourceDateEpoch), TZ: 'UTC' };
  await ctx.run(['truncate', '--size', `${p.sizeMiB}M`, file]);
  // --invariant first: placed after -i it would replace the volume id with a constant
  await ctx.run(['mkfs.vfat', '--invariant', '-F', '32', '-n', p.label, '-i', p.fsId, file], { env });
  const entries = (await readdir(content)).sort().map((e) => join(content, e));
  if (entries.length) await ctx.run(['mcopy', '-s', '-p', '-m', '-Q', '-i', file, ...entries, '::/'], { env });
}

async function makeExt4(ctx: StepContext, p: PlannedPartition, content: string, file: string) {
  const size = await rootSizeMiB(ctx, p);
  await ctx.run(
    ['mkfs.ext4', '-q', '-F', '-L', p.label, '-U', p.fsId, '-E', `hash_seed=${p.fsId},root_owner=0:0`, '-d', content, file, `${size}M`],
    { env: { E2FSPROGS_FAKE_TIME: String(ctx.plan.sourceDateEpoch) } },
  );
}

export const filesystemsStep: Step = {
  name: 'filesystems',
  async run(ctx) {
    await mkdir(join(ctx.workDir, 'parts'), { recursive: true });
    const contentDirs = new Map<string, string>();
    // Move each boot partition's folder out of the root tree first, leaving an empty mount point.
    for (const p of ctx.plan.partitions.filter((p) => p.mountpoint !== '/')) {
      const inRoot = join(ctx.rootfs, p.mountpoint);
      const moved = join(ctx.workDir, 'parts', `${p.label}.content`);
      const mode = (await stat(inRoot)).mode & 0o7777;
      await rename(inRoot, moved);
      await mkdir(inRoot, { mode });
      contentDirs.set(p.label, moved);
    }
    for (const p of ctx.plan.partitions) {
      const file = partitionFile(ctx, p);
      if (p.fs === 'vfat') await makeVfat(ctx, p, contentDirs.get(p.label)!, file);
      else await makeExt4(ctx, p, p.mountpoint === '/' ? ctx.rootfs : contentDirs.get(p.label)!, file);
    }
  },
};
