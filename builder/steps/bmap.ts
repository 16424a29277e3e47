/**
 * bmap — writes the image's block map (`bmaptool create`): the list of blocks that hold data,
 * with their sha256. `bmaptool copy clic-rpi4.img.xz /dev/sdX` then writes only those blocks
 * (a 1.5 GiB image with 800 MiB of data writes 800 MiB) and checks each as it goes. Written as
 * `<image>.img.bmap.partial`; the checksum step gives it its final name.
 *
 * Options: none (bmaptool's block size, 4 KiB). Example: clic-rpi4.img.bmap, ~20 KiB of XML.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step } from '../step.ts';
import { partialImagePath } from './disk.ts';

export const partialOutput = (dir: string, file: string) => join(dir, `${file}.partial`);

export const bmapStep: Step = {
  name: 'bmap',
  async run(ctx) {
    const { dir, bmap } = ctx.plan.output;
    await ctx.run(['bmaptool', 'create', '--output', partialOutput(dir, bmap), partialImagePath(ctx.plan)]);
  },
  async cleanup(ctx) {
    await rm(partialOutput(ctx.plan.output.dir, ctx.plan.output.bmap), { force: true });
  },
};
