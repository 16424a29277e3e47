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
 * A source pinned as a file inside a Debian package (source.member: e.g. a u-boot package's
 * /usr/lib/u-boot/<board>/u-boot.bin) is fetched and checked as the package, then the file is
 * taken out of it with dpkg-deb and tar into the work folder.
 *
 * Options (from the plan): rawRegions (name, source { url, sha256, member, licence }, offset,
 * skip, count).
 * Example: Amlogic u-boot.bin (sha256 3a…) for regions u-boot-head and u-boot → one download,
 *   <cache>/downloads/sha256/3a…, linked as <work>/bootloader/3a….
 */
import { createHash } from 'node:crypto';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step, StepContext } from '../step.ts';
import type { PlannedRawRegion } from '../recipe/plan.ts';
import type { BlobSource } from '../recipe/define.ts';
import { downloadAll, formatBytes, type DownloadRequest } from '../download/index.ts';
import { downloadCacheDir } from './content.ts';

/** Where the disk step finds the bytes of this source during the build: the verified download
 *  itself, or the file taken out of it when the source names a package member. */
export function blobFile(ctx: Pick<StepContext, 'workDir'>, source: Pick<BlobSource, 'sha256' | 'member'>): string {
  const sha256 = source.sha256.toLowerCase();
  const name = source.member === undefined ? sha256 : `${sha256}-${createHash('sha256').update(source.member).digest('hex').slice(0, 16)}`;
  return join(ctx.workDir, 'bootloader', name);
}

// the package's data archive, to stdout; tar then writes the one member (named ./path in it)
const EXTRACT_MEMBER = 'dpkg-deb --fsys-tarfile "$1" | tar --extract --to-stdout --file - "./$2" > "$3"';

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
        const link = blobFile(ctx, { sha256: result.sha256 });
        await rm(link, { force: true });
        await symlink(result.path, link);
        ctx.events.emit({
          type: 'output', step: 'bootloader-blobs',
          line: `${result.name} (${formatBytes(result.size)}, sha256 ${result.sha256.slice(0, 12)}…${result.cached ? ', from the cache' : ''}) for ${requests[i].regions.join(', ')}`,
        });
      }
      const members = new Map(ctx.plan.rawRegions.filter((r) => r.source.member !== undefined).map((r) => [blobFile(ctx, r.source), r]));
      for (const [file, r] of members) {
        const deb = blobFile(ctx, { sha256: r.source.sha256 });
        try {
          await ctx.run(['sh', '-c', EXTRACT_MEMBER, 'extract', deb, r.source.member!, file]);
        } catch (err) {
          throw new Error(`board "${ctx.plan.board.name}", region "${r.name}": cannot take ${r.source.member} out of ${r.source.url} (is it a Debian package holding that file?): ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    },
  };
}
