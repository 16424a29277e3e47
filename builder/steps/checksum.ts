/**
 * checksum — the last step: the sha256 of every output (image, compressed copies, block map),
 * the package list (`<image>.packages`, for `--pin-packages`), the manifest
 * (`<image>.manifest.json`), `<image>.img.sha256` and `SHA256SUMS` (the lines of this image's
 * files replaced, other images' kept: one file for an output folder, `sha256sum -c SHA256SUMS`
 * checks it all). Every output is written as `<file>.partial` and only then renamed, the image
 * and the sums last: a file under its final name is always complete.
 *
 * Options: none. Example: `3f5a…  clic-rpi4.img`, `9c1e…  clic-rpi4.img.xz`, … in SHA256SUMS.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { sourceDate, type Step, type StepContext } from '../step.ts';
import type { Plan } from '../recipe/plan.ts';
import { partialImagePath } from './disk.ts';
import { partialOutput } from './bmap.ts';
import { packageListText } from './packages.ts';
import { buildManifest, type ManifestOutput } from '../release/manifest.ts';
import { updateSums } from '../release/sums.ts';
import { COMPRESSIONS } from '../recipe/define.ts';

export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash, { signal });
  return hash.digest('hex');
}

/** The partition table as written in the image: byte offsets and sizes, types. */
async function partitionTable(ctx: StepContext, img: string) {
  const { stdout } = await ctx.run(['sfdisk', '--json', img]);
  const table = (JSON.parse(stdout) as { partitiontable: { sectorsize?: number; partitions: { start: number; size: number; type: string }[] } }).partitiontable;
  const sector = table.sectorsize ?? 512;
  return table.partitions.map((p, i) => ({ label: ctx.plan.partitions[i].label, start: p.start * sector, size: p.size * sector, type: p.type }));
}

/** Every file a build writes into the output folder, by final name. */
export function outputFiles(plan: Plan): string[] {
  const o = plan.output;
  return [o.img, ...o.compressed.map((c) => c.file), o.bmap, o.packages, o.manifest, o.sha256, o.sums];
}

export const checksumStep: Step = {
  name: 'checksum',
  async run(ctx) {
    const o = ctx.plan.output;
    if (!ctx.resolved) throw new Error('no resolved package set to list: the packages step must run first');
    const image = partialImagePath(ctx.plan);
    const outputs: ManifestOutput[] = [];
    for (const [file, path] of [[o.img, image], ...o.compressed.map((c) => [c.file, partialOutput(o.dir, c.file)]), [o.bmap, partialOutput(o.dir, o.bmap)]]) {
      outputs.push({ file, size: (await stat(path)).size, sha256: await sha256File(path, ctx.signal) });
    }
    const packagesText = packageListText(ctx.plan, ctx.resolved);
    await writeFile(partialOutput(o.dir, o.packages), packagesText);
    outputs.push({ file: o.packages, size: Buffer.byteLength(packagesText), sha256: createHash('sha256').update(packagesText).digest('hex') });
    const manifest = await buildManifest(ctx.plan, { packages: ctx.resolved.packages, sourceDateEpoch: sourceDate(ctx), partitions: await partitionTable(ctx, image), outputs });
    const manifestText = JSON.stringify(manifest, null, 2) + '\n';
    await writeFile(partialOutput(o.dir, o.manifest), manifestText);
    const digest = outputs[0].sha256;
    await writeFile(partialOutput(o.dir, o.sha256), `${digest}  ${o.img}\n`);
    const sums = [...outputs, { file: o.manifest, sha256: createHash('sha256').update(manifestText).digest('hex') }];
    // an earlier build's copies this one does not make (compress: []) would no longer match
    const stale = COMPRESSIONS.map((c) => `${o.img}.${c}`).filter((f) => !o.compressed.some((c) => c.file === f));
    await Promise.all(stale.map((f) => rm(join(o.dir, f), { force: true })));
    // the image and the sums last: whoever sees them finds every other file complete
    for (const file of [o.packages, o.bmap, ...o.compressed.map((c) => c.file), o.manifest, o.img, o.sha256]) {
      await rename(partialOutput(o.dir, file), join(o.dir, file));
    }
    // every line of a file named <image>.… is this image's, ours or stale
    await updateSums(o.dir, sums, (file) => file.startsWith(`${ctx.plan.image}.`));
  },
  async cleanup(ctx) {
    const o = ctx.plan.output;
    for (const file of [o.sha256, o.packages, o.manifest]) await rm(partialOutput(o.dir, file), { force: true });
  },
};
