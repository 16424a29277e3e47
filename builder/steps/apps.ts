/**
 * apps — stages the image's YunoHost apps for first boot, which installs them with no network:
 * for each app, its package at the catalog's pinned git revision (the revision is the package's
 * checksum), every source its manifest declares for the board's architecture (downloaded through
 * the project's downloader, verified by sha256, cached), the `--args` answers to its install
 * questions, and the catalog entry YunoHost reads before installing anything. The apps' Debian
 * dependencies were put in the image's local apt repository by the bootstrap.
 *
 * In the image: /var/lib/clic/apps/order (ids, in install order), /var/lib/clic/apps/<id>/package/
 * (manifest.toml with `prefetch = false` on each source: YunoHost then takes the staged file
 * instead of downloading it), /var/lib/clic/apps/<id>/sources/<source id>, /var/lib/clic/apps/<id>/args,
 * and the trimmed catalog at /var/cache/yunohost/repo/default.json. Runs right before the apps
 * layer; cached by what it stages (revisions, source checksums, answers).
 *
 * Options (from the plan): apps.resolved, apps.imageCatalog; the board's architecture.
 * Example: yeswiki at revision 3f…: package from git, sources main (sha256 9c…), args
 *   `domain=clic.local&init_main_permission=visitors&path=%2Fwiki`.
 */
import { chmod, mkdir, readFile, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step, StepContext } from '../step.ts';
import { downloadAll, type DownloadRequest } from '../download/index.ts';
import { downloadCacheDir } from './content.ts';
import { fetchAppPackage } from '../apps/package.ts';
import { withPrefetchOff } from '../apps/manifest.ts';
import type { ResolvedApp } from '../apps/types.ts';

export const APPS_DIR = '/var/lib/clic/apps';
export const YUNOHOST_CATALOG_CACHE = '/var/cache/yunohost/repo/default.json';

function resolvedApps(ctx: StepContext): ResolvedApp[] {
  const resolved = ctx.plan.apps?.resolved;
  if (!resolved) throw new Error('the apps are not resolved against the catalog (resolveApps must run before the build)');
  return resolved;
}

const sourceRequest = (app: ResolvedApp, source: ResolvedApp['sources'][number]): DownloadRequest => ({
  name: `${app.id}/${source.id}`,
  urls: [source.url],
  sha256: source.sha256,
});

export function appsStep(cacheDir: string): Step {
  return {
    name: 'apps',
    async cacheInputs(ctx) {
      return {
        arch: ctx.plan.board.arch,
        apps: resolvedApps(ctx).map((a) => ({ id: a.id, gitUrl: a.gitUrl, revision: a.revision, sources: a.sources, args: a.argsQuery })),
        catalog: ctx.plan.apps?.imageCatalog ?? null,
      };
    },
    async run(ctx) {
      const apps = resolvedApps(ctx);
      const root = join(ctx.rootfs, APPS_DIR);
      await mkdir(root, { recursive: true, mode: 0o755 });
      const downloads = await downloadAll(apps.flatMap((a) => a.sources.map((s) => sourceRequest(a, s))), {
        cacheDir: downloadCacheDir(cacheDir), signal: ctx.signal, onEvent: (e) => ctx.events.emit({ ...e, step: 'apps' }),
      });
      const byName = new Map(downloads.map((d) => [d.name, d.path]));
      for (const app of apps) {
        const dir = join(root, app.id);
        const packageDir = join(dir, 'package');
        await mkdir(packageDir, { recursive: true });
        const tar = await fetchAppPackage({ id: app.id, gitUrl: app.gitUrl, revision: app.revision, cacheDir, signal: ctx.signal });
        await ctx.run(['tar', '--extract', '--no-same-owner', '--file', tar, '--directory', packageDir]);
        const manifest = join(packageDir, 'manifest.toml');
        const text = await readFile(manifest, 'utf8').catch(() => {
          throw new Error(`app ${app.id} at ${app.revision}: its package has no manifest.toml (YunoHost's packaging format 2 is needed)`);
        });
        await writeFile(manifest, withPrefetchOff(text));
        await mkdir(join(dir, 'sources'), { recursive: true });
        for (const source of app.sources) {
          const target = join(dir, 'sources', source.id);
          await copyFile(byName.get(`${app.id}/${source.id}`)!, target);
          await chmod(target, 0o644);
        }
        await writeFile(join(dir, 'args'), app.argsQuery + '\n', { mode: 0o600 });
        ctx.events.emit({ type: 'output', step: 'apps', line: `${app.id} ${app.revision.slice(0, 12)}: ${app.sources.length} source(s), ${app.aptPackages.length} Debian package(s) staged` });
      }
      await writeFile(join(root, 'order'), apps.map((a) => a.id).join('\n') + '\n');
      if (ctx.plan.apps?.imageCatalog) {
        await mkdir(join(ctx.rootfs, '/var/cache/yunohost/repo'), { recursive: true });
        await writeFile(join(ctx.rootfs, YUNOHOST_CATALOG_CACHE), ctx.plan.apps.imageCatalog);
      }
    },
  };
}
