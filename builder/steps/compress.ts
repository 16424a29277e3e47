/**
 * compress — the compressed copies of the image the recipe asks for, on every core: xz (what
 * most flashing tools, bmaptool and Raspberry Pi Imager take) and zstd (much faster to make
 * and to unpack). Each is written as `<file>.partial`; the checksum step gives it its final
 * name. Both formats give the same bytes for the same image on any machine (xz's threaded
 * mode cuts the input into blocks of a fixed size, whatever the number of threads).
 *
 * Options (from the plan): output.compressed (xz, zst). Levels: xz -6, zstd -12.
 * Example: clic-rpi4.img (1.45 GiB) → clic-rpi4.img.xz, clic-rpi4.img.zst.
 */
import { rm } from 'node:fs/promises';
import type { Compression } from '../recipe/define.ts';
import type { Step } from '../step.ts';
import { partialImagePath } from './disk.ts';
import { partialOutput } from './bmap.ts';

/** The command that writes `output` from `input`. */
export function compressArgv(format: Compression, input: string, output: string): string[] {
  return format === 'xz'
    ? ['sh', '-c', 'xz --threads=0 -6 --keep --stdout -- "$1" > "$2"', 'xz', input, output]
    : ['zstd', '--threads=0', '-12', '--quiet', '--force', '--no-progress', '-o', output, '--', input];
}

export const compressStep: Step = {
  name: 'compress',
  async run(ctx) {
    const { dir, compressed } = ctx.plan.output;
    for (const { format, file } of compressed) await ctx.run(compressArgv(format, partialImagePath(ctx.plan), partialOutput(dir, file)));
  },
  async cleanup(ctx) {
    for (const { file } of ctx.plan.output.compressed) await rm(partialOutput(ctx.plan.output.dir, file), { force: true });
  },
};
