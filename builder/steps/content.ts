/**
 * content — the content partition: downloads the plan's ZIM files (verified, resumable, in
 * parallel, into the shared download cache), writes a kiwix library.xml for each content folder
 * (kiwix-manage), and makes the ext4 partition file holding them, with no mount: `mkfs.ext4`
 * then `debugfs` writes each file, in sorted order, and dates every inode.
 *
 * The partition file is cached by what it holds (files, folders, label, UUID), not by the OS:
 * rebuilding the system never rewrites the content, and a build whose content is already in the
 * cache downloads nothing. It runs early (right after the package set is known), so a wrong URL
 * or checksum stops the build before the long bootstrap. Its size: the content + 3 % + 32 MiB
 * (first boot grows it to the card).
 *
 * Options (from the plan): content.sets (layer, folder, requests), content.resolved, partition.
 * Example: 2 ZIM files, 4.2 GiB → <cache>/content/<key>.ext4 (4.3 GiB), kiwix/library.xml in it.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step, StepContext } from '../step.ts';
import type { Plan } from '../recipe/plan.ts';
import { canonicalJson } from '../cache/keys.ts';
import { runCommand } from '../exec.ts';
import { checkDiskSpace, downloadAll, type DownloadRequest } from '../download/index.ts';
import { datingCommands, debugfsQuote, partitionFile } from './filesystems.ts';

/** Content partitions are dated with this fixed time, not the build's: the same content gives
 *  the same partition whatever OS it goes with (2000-01-01T00:00:00Z). */
export const CONTENT_EPOCH = 946684800;
const MIB = 2 ** 20;
/** Bump when the partition layout or its making changes. */
const CONTENT_FORMAT = 1;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

export const downloadCacheDir = (cacheDir: string) => join(cacheDir, 'downloads');

function resolvedOf(plan: Plan) {
  if (!plan.content) throw new Error('this image has no content');
  if (!plan.content.resolved) throw new Error('the content is not resolved: resolveContent(plan) must run before the build');
  return plan.content.resolved;
}

/** Everything the partition's bytes depend on. */
export function contentKey(plan: Plan): string {
  const files = resolvedOf(plan).map((z) => ({ dir: z.dir, file: z.file, sha256: z.sha256 }));
  const folders = plan.content!.sets.map((s) => s.dir);
  const { label, fsId } = plan.content!.partition;
  return createHash('sha256').update(canonicalJson({ format: CONTENT_FORMAT, files, folders, label, fsId, epoch: CONTENT_EPOCH })).digest('hex');
}

export const contentPartitionCache = (cacheDir: string, plan: Plan) => join(cacheDir, 'content', `${contentKey(plan)}.ext4`);

/** Partition size in MiB for content of this many bytes, 4 MiB aligned. */
export function contentSizeMiB(bytes: number): number {
  return Math.ceil((Math.ceil((bytes * 1.03) / MIB) + 32) / 4) * 4;
}

function requests(plan: Plan): DownloadRequest[] {
  return resolvedOf(plan).map((z) => ({ name: z.file, urls: z.urls, sha256: z.sha256, size: z.size }));
}

/** The library.xml of a content folder with no ZIM file (kiwix-serve serves it: an empty library). */
export const EMPTY_LIBRARY = '<library version="20110515">\n</library>\n';

/** Writes the partition into `file`: folders, files (linked from the download cache), libraries. */
async function makePartition(ctx: StepContext, file: string, paths: Map<string, string>, bytes: number): Promise<void> {
  const plan = ctx.plan;
  const { label, fsId } = plan.content!.partition;
  const stage = join(ctx.workDir, 'content');
  const env = { E2FSPROGS_FAKE_TIME: String(CONTENT_EPOCH) };
  const commands: string[] = [];
  const inodes = ['/'];
  for (const dir of [...new Set(plan.content!.sets.map((s) => s.dir))].sort()) {
    const files = resolvedOf(plan).filter((z) => z.dir === dir).sort((a, b) => (a.file < b.file ? -1 : 1));
    const folder = join(stage, dir);
    await mkdir(folder, { recursive: true });
    for (const z of files) await symlink(paths.get(z.sha256)!, join(folder, z.file));
    const library = join(folder, 'library.xml');
    // kiwix-manage records each book's path relative to the library, as the kit will see it
    if (files.length) await ctx.run(['kiwix-manage', library, 'add', ...files.map((z) => join(folder, z.file))]);
    else await writeFile(library, EMPTY_LIBRARY);
    commands.push(`mkdir ${debugfsQuote(dir)}`, `cd ${debugfsQuote(`/${dir}`)}`);
    for (const name of [...files.map((z) => z.file), 'library.xml'].sort()) {
      commands.push(`write ${debugfsQuote(join(folder, name))} ${debugfsQuote(name)}`);
      inodes.push(`/${dir}/${name}`);
    }
    commands.push('cd /');
    inodes.push(`/${dir}`);
  }
  inodes.push('/lost+found');
  await ctx.run(['truncate', '--size', `${contentSizeMiB(bytes)}M`, file]);
  // one inode per MiB is plenty for ZIM files, and no blocks are kept back for root
  await ctx.run(['mkfs.ext4', '-q', '-F', '-T', 'largefile', '-m', '0', '-L', label, '-U', fsId, '-E', `hash_seed=${fsId},root_owner=0:0`, file], { env });
  const script = commands.join('\n') + '\n'
    + inodes.sort().map((p) => `sif ${debugfsQuote(p)} uid 0\nsif ${debugfsQuote(p)} gid 0`).join('\n') + '\n'
    + datingCommands(inodes.sort(), CONTENT_EPOCH, ['atime', 'ctime', 'mtime', 'crtime']);
  const scriptFile = join(ctx.workDir, 'content.debugfs');
  await writeFile(scriptFile, script);
  const errors: string[] = [];
  ctx.events.emit({ type: 'cmd', step: 'content', argv: ['debugfs', '-w', '-f', scriptFile, file] });
  await runCommand(['debugfs', '-w', '-f', scriptFile, file], {
    env, signal: ctx.signal, onLine: (l) => { if (l.trim() && !l.startsWith('debugfs') && !l.startsWith('Allocated inode')) errors.push(l); },
  });
  if (errors.length) throw new Error(`debugfs could not fill the content partition ${label}: ${errors.slice(0, 3).join('; ')}`);
  await ctx.run(['e2fsck', '-f', '-n', file]);
}

export function contentStep(cacheDir: string): Step {
  const downloads = downloadCacheDir(cacheDir);
  return {
    name: 'content',
    async verify(ctx) {
      const zims = resolvedOf(ctx.plan);
      for (const z of zims) {
        if (!FILE_NAME.test(z.file)) throw new Error(`ZIM file name "${z.file}" (from ${z.urls[0]}): expected letters, digits, dots, dashes, underscores or plus signs`);
      }
      const cached = await stat(contentPartitionCache(cacheDir, ctx.plan)).then(() => true, () => false);
      if (cached) return;
      await mkdir(downloads, { recursive: true });
      const bytes = zims.reduce((n, z) => n + (z.size ?? 0), 0);
      // the downloads, then the partition file made from them
      await checkDiskSpace(requests(ctx.plan), downloads, contentSizeMiB(bytes) * MIB);
    },
    async run(ctx) {
      const target = contentPartitionCache(cacheDir, ctx.plan);
      const zims = resolvedOf(ctx.plan);
      await mkdir(join(ctx.workDir, 'parts'), { recursive: true });
      const link = partitionFile(ctx, ctx.plan.content!.partition);
      if (await stat(target).then(() => true, () => false)) {
        ctx.events.emit({ type: 'output', step: 'content', line: `content partition from the cache: ${target}` });
        await symlink(target, link);
        return;
      }
      const results = await downloadAll(requests(ctx.plan), {
        cacheDir: downloads, signal: ctx.signal, onEvent: (e) => ctx.events.emit({ ...e, step: 'content' }),
      });
      const paths = new Map(results.map((r) => [r.sha256, r.path]));
      const bytes = results.reduce((n, r) => n + r.size, 0);
      await mkdir(join(cacheDir, 'content'), { recursive: true });
      const partial = `${target}.${process.pid}.partial`;
      try {
        await makePartition(ctx, partial, paths, bytes);
        await rename(partial, target);
      } finally {
        await rm(partial, { force: true });
      }
      ctx.events.emit({ type: 'output', step: 'content', line: `content partition: ${zims.length} ZIM files, ${(bytes / MIB).toFixed(1)} MiB` });
      await symlink(target, link);
    },
  };
}
