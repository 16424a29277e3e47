/**
 * bootloader-blobs — fetches the files of the board's raw regions (BoardDef.rawRegions: a
 * prebuilt u-boot and the like, which Debian does not ship for the board) through the project's
 * downloader: verified by sha256, resumable, into the shared download cache, where a file already
 * there costs no request (a build with its blobs cached runs offline). Each distinct file is
 * fetched once, however many regions take bytes from it. The disk step then finds each file at
 * blobFile(ctx, sha256), a link into the cache, and writes the regions.
 *
 * Runs early (right after the package set is known, before the content and the bootstrap), so
 * a wrong URL or checksum stops the build in seconds; only for boards with raw regions.
 *
 * Options (from the plan): rawRegions (name, source { url, sha256, licence }, offset, skip, count).
 * Example: Amlogic u-boot.bin (sha256 3a…) for regions u-boot-head and u-boot → one download,
 *   <cache>/downloads/sha256/3a…, linked as <work>/bootloader/3a….
 */
import { mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step, StepContext } from '../step.ts';
import type { PlannedRawRegion } from '../recipe/plan.ts';
import { downloadAll, formatBytes, type DownloadRequest } from '../download/index.ts';
import { downloadCacheDir } from './content.ts';

/** Where the disk step finds the verified file of this sha256 during the build. */
export const blobFile = (ctx: Pick<StepContext, 'workDir'>, sha256: string) => join(ctx.workDir, 'bootloader', sha256.toLowerCase());

/** One request per distinct file (by sha256; every URL given for it, as mirrors), in region order. */
export function blobRequests(regions: readonly PlannedRawRegion[]): (DownloadRequest & { regions: string[] })[] {
  const bySha = new Map<string, DownloadRequest & { regions: string[] }>();
  for (const r of regions) {
    const sha256 = r.source.sha256.toLowerCase();
    const known = bySha.get(sha256);
    if (known) {
      known.regions.push(r.name);
      if (!known.urls.includes(r.source.url)) known.urls.push(r.source.url);
      continue;
    }
    const file = decodeURIComponent(new URL(r.source.url).pathname.split('/').filter(Boolean).pop() ?? '') || r.name;
    bySha.set(sha256, { name: file, urls: [r.source.url], sha256, regions: [r.name] });
  }
  return [...bySha.values()];
}

export function bootloaderBlobsStep(cacheDir: string): Step {
  const downloads = downloadCacheDir(cacheDir);
  return {
    name: 'bootloader-blobs',
    async run(ctx) {
      const requests = blobRequests(ctx.plan.rawRegions);
      const results = await downloadAll(requests.map(({ name, urls, sha256 }) => ({ name, urls, sha256 })), {
        cacheDir: downloads, signal: ctx.signal, onEvent: (e) => ctx.events.emit({ ...e, step: 'bootloader-blobs' }),
      });
      await mkdir(join(ctx.workDir, 'bootloader'), { recursive: true });
      for (const [i, result] of results.entries()) {
        const link = blobFile(ctx, result.sha256);
        await rm(link, { force: true });
        await symlink(result.path, link);
        ctx.events.emit({
          type: 'output', step: 'bootloader-blobs',
          line: `${result.name} (${formatBytes(result.size)}, sha256 ${result.sha256.slice(0, 12)}…${result.cached ? ', from the cache' : ''}) for ${requests[i].regions.join(', ')}`,
        });
      }
    },
  };
}
