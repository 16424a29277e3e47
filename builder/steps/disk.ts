/**
 * disk — assembles the image file from the partition files, without loop devices: writes the
 * partition table with `sfdisk` directly into the file, then copies each partition into place
 * with `dd conv=notrunc,sparse`. The result is `<out>/<image>.img.partial` until the checksum
 * step gives it its final name; a failed or interrupted build removes it.
 *
 * Options (from the board): partitionTable (dos|gpt), partitions (type, bootable); the first
 * partition starts at 4 MiB, each is aligned to 4 MiB; disk signature / GUID from the plan.
 * Example table (dos): `start=8192, size=524288, type=c, bootable` then the root.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Plan } from '../recipe/plan.ts';
import type { Step, StepContext } from '../step.ts';
import { ALIGN_MIB, partitionFile } from './filesystems.ts';

const MIB = 1024 * 1024;
const SECTORS_PER_MIB = MIB / 512;

export interface DiskLayoutEntry {
  label: string;
  startMiB: number;
  sizeMiB: number;
}

/** Where each partition goes, given the sizes of the partition files. */
export function diskLayout(plan: Plan, sizesMiB: number[]): { entries: DiskLayoutEntry[]; totalMiB: number } {
  let at = ALIGN_MIB;
  const entries = plan.partitions.map((p, i) => {
    const sizeMiB = Math.ceil(sizesMiB[i] / ALIGN_MIB) * ALIGN_MIB;
    const e = { label: p.label, startMiB: at, sizeMiB };
    at += sizeMiB;
    return e;
  });
  // GPT keeps a backup header in the last sectors of the disk.
  return { entries, totalMiB: at + (plan.board.partitionTable === 'gpt' ? 1 : 0) };
}

export function sfdiskScript(plan: Plan, layout: DiskLayoutEntry[]): string {
  const gpt = plan.board.partitionTable === 'gpt';
  const lines = [`label: ${plan.board.partitionTable}`, `label-id: ${plan.diskId}`, 'unit: sectors', 'sector-size: 512', ''];
  plan.partitions.forEach((p, i) => {
    const fields = [`start=${layout[i].startMiB * SECTORS_PER_MIB}`, `size=${layout[i].sizeMiB * SECTORS_PER_MIB}`, `type=${p.type}`];
    if (gpt) fields.push(`uuid=${partitionUuid(plan, p.label)}`, `name="${p.label}"`);
    if (p.bootable && !gpt) fields.push('bootable');
    lines.push(fields.join(', '));
  });
  return lines.join('\n') + '\n';
}

function partitionUuid(plan: Plan, label: string): string {
  const h = createHash('sha256').update(`${plan.diskId}\0${label}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

export const partialImagePath = (plan: Plan) => join(plan.output.dir, `${plan.output.img}.partial`);

export const diskStep: Step = {
  name: 'disk',
  async run(ctx: StepContext) {
    const files = ctx.plan.partitions.map((p) => partitionFile(ctx, p));
    const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size / MIB));
    const { entries, totalMiB } = diskLayout(ctx.plan, sizes);
    const img = partialImagePath(ctx.plan);
    await rm(img, { force: true });
    await ctx.run(['truncate', '--size', `${totalMiB}M`, img]);
    await ctx.run(['sfdisk', '--quiet', '--no-reread', '--no-tell-kernel', img], { input: sfdiskScript(ctx.plan, entries) });
    for (const [i, file] of files.entries()) {
      await ctx.run(['dd', `if=${file}`, `of=${img}`, 'bs=1M', `seek=${entries[i].startMiB}`, 'conv=notrunc,sparse', 'status=none']);
    }
  },
  async cleanup(ctx) {
    await rm(partialImagePath(ctx.plan), { force: true });
  },
};
