/**
 * checksum — computes the image's sha256, writes `<image>.img.sha256` (sha256sum format, so
 * `sha256sum -c` checks it) and `<image>.packages` (the exact package set, for
 * `--pin-packages`), and only then gives the image its final name, atomically.
 *
 * Options: none. Example output: `3f5a…  clic-rpi4.img`; `libc6=2.36-9+deb12u13:arm64` …
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Step } from '../step.ts';
import { partialImagePath } from './disk.ts';
import { packageListText } from './packages.ts';

export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash, { signal });
  return hash.digest('hex');
}

export const checksumStep: Step = {
  name: 'checksum',
  async run(ctx) {
    const { dir, img, sha256 } = ctx.plan.output;
    const partial = partialImagePath(ctx.plan);
    const digest = await sha256File(partial, ctx.signal);
    const sumPartial = join(dir, `${sha256}.partial`);
    await writeFile(sumPartial, `${digest}  ${img}\n`);
    if (!ctx.resolved) throw new Error('no resolved package set to list: the packages step must run first');
    const listPartial = join(dir, `${ctx.plan.output.packages}.partial`);
    await writeFile(listPartial, packageListText(ctx.plan, ctx.resolved));
    await rename(listPartial, join(dir, ctx.plan.output.packages));
    await rename(partial, join(dir, img));
    await rename(sumPartial, join(dir, sha256));
  },
  async cleanup(ctx) {
    for (const file of [ctx.plan.output.sha256, ctx.plan.output.packages]) await rm(join(ctx.plan.output.dir, `${file}.partial`), { force: true });
  },
};
