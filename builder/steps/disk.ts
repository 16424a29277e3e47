/**
 * disk — assembles the image file from the partition files, without loop devices: writes the
 * partition table with `sfdisk` directly into the file, then copies each partition into place
 * with `dd conv=notrunc,sparse`. The result is `<out>/<image>.img.partial` until the checksum
 * step gives it its final name; a failed or interrupted build removes it.
 *
 * Then the board's raw regions (bootloader bytes outside the partitions, fetched by the
 * bootloader-blobs step), each with `dd conv=notrunc` at its byte offset, after checking
 * (placeRawRegions) that none runs over the partition table, a partition, the end of the disk or
 * another region, and that each file holds the bytes asked for. Boards without raw regions get
 * exactly the same bytes as before.
 *
 * Options (from the board): partitionTable (dos|gpt), partitions (type, bootable); the first
 * partition starts at 4 MiB, each is aligned to 4 MiB; disk signature / GUID from the plan;
 * rawRegions (offset, skip, count).
 * Example table (dos): `start=8192, size=524288, type=c, bootable` then the root; an Amlogic
 * u-boot: bytes 0–439 of the file at 0, then from byte 512 of the file at byte 512.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Plan } from '../recipe/plan.ts';
import type { Step, StepContext } from '../step.ts';
import { ALIGN_MIB, partitionFile } from './filesystems.ts';
import { blobFile } from './bootloader-blobs.ts';
import { formatRange, overlaps, tableAreas, type ByteRange } from '../recipe/raw-regions.ts';

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

/** A raw region as written: its file (by sha256) and the exact bytes taken from it. */
export interface RawRegionPlacement {
  name: string;
  sha256: string;
  /** Byte offset on the disk. */
  offset: number;
  /** Bytes of the file skipped, then bytes written. */
  skip: number;
  count: number;
}

/**
 * Where each of the plan's raw regions goes, given the disk layout and the size of each region's
 * file (in plan.rawRegions order). Throws one error listing every conflict: a file shorter than
 * skip + count, a region over the partition table, over a partition, past the end of the disk or
 * over another region — each naming the board, the region and what it runs into, with byte ranges.
 */
export function placeRawRegions(plan: Plan, layout: { entries: DiskLayoutEntry[]; totalMiB: number }, fileSizes: readonly number[]): RawRegionPlacement[] {
  const board = `board "${plan.board.name}"`;
  const diskBytes = layout.totalMiB * MIB;
  const problems: string[] = [];
  const placed: (RawRegionPlacement & ByteRange)[] = [];
  plan.rawRegions.forEach((r, i) => {
    const size = fileSizes[i];
    const count = r.count ?? size - r.skip;
    const what = `${board}, region "${r.name}"`;
    if (r.skip + Math.max(count, 1) > size) {
      const asked = r.count === null ? `skip ${r.skip} and at least 1 byte` : `skip ${r.skip} + count ${r.count} = ${r.skip + r.count} bytes`;
      problems.push(`${what}: its file ${r.source.url} (sha256 ${r.source.sha256.slice(0, 12)}…) has ${size} bytes, fewer than ${asked}`);
      return;
    }
    const range = { start: r.offset, end: r.offset + count };
    const at = `${what} (${formatRange(range)})`;
    for (const area of tableAreas(plan.board.partitionTable, diskBytes)) {
      if (overlaps(range, area)) problems.push(`${at} overlaps ${area.what} (${formatRange(area)})`);
    }
    for (const e of layout.entries) {
      const part = { start: e.startMiB * MIB, end: (e.startMiB + e.sizeMiB) * MIB };
      if (overlaps(range, part)) problems.push(`${at} overlaps partition ${e.label} (${formatRange(part)})`);
    }
    if (range.end > diskBytes) problems.push(`${at} ends past the end of the disk (${diskBytes} bytes)`);
    for (const other of placed) {
      if (overlaps(range, other)) problems.push(`${at} overlaps region "${other.name}" (${formatRange(other)})`);
    }
    placed.push({ name: r.name, sha256: r.source.sha256, offset: r.offset, skip: r.skip, count, ...range });
  });
  if (problems.length) throw new Error(`raw regions do not fit on the disk: ${problems.join('; ')}`);
  return placed.map(({ name, sha256, offset, skip, count }) => ({ name, sha256, offset, skip, count }));
}

/** dd arguments writing one region into the image, byte-addressed but in large blocks. */
export function rawRegionDd(file: string, img: string, p: RawRegionPlacement): string[] {
  return [
    'dd', `if=${file}`, `of=${img}`, 'bs=4M', 'iflag=skip_bytes,count_bytes,fullblock', 'oflag=seek_bytes',
    `skip=${p.skip}`, `seek=${p.offset}`, `count=${p.count}`, 'conv=notrunc', 'status=none',
  ];
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
    if (!ctx.plan.rawRegions.length) return;
    const blobs = ctx.plan.rawRegions.map((r) => blobFile(ctx, r.source));
    const blobSizes = await Promise.all(blobs.map((f, i) => stat(f).then((s) => s.size, () => {
      throw new Error(`the file of raw region "${ctx.plan.rawRegions[i].name}" is not at ${f}: the bootloader-blobs step must run before the disk step`);
    })));
    const placements = placeRawRegions(ctx.plan, { entries, totalMiB }, blobSizes);
    for (const [i, p] of placements.entries()) {
      await ctx.run(rawRegionDd(blobs[i], img, p));
      ctx.events.emit({ type: 'output', step: 'disk', line: `raw region ${p.name}: ${p.count} bytes at byte ${p.offset}` });
    }
  },
  async cleanup(ctx) {
    await rm(partialImagePath(ctx.plan), { force: true });
  },
};
