/**
 * buildImage — runs a plan: host checks, bootstrap, layers, finalize, file systems, disk,
 * checksum. Works in a private folder under the cache directory, removed at the end whatever
 * happens (after checking that nothing is still mounted below it), under a lease (cache/lease.ts)
 * that ends its commands if it is killed and lets the next build remove what it left.
 *
 *   const result = await buildImage(plan, { cacheDir, events, signal });
 *   result.image; // /path/out/clic-rpi4.img
 */
import { mkdir, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { BuildEvents } from './events.ts';
import { runSteps } from './pipeline.ts';
import type { Plan } from './recipe/plan.ts';
import type { Step } from './step.ts';
import { StepCache } from './cache/store.ts';
import { hostToolsStep } from './steps/host-tools.ts';
import { packagesStep } from './steps/packages.ts';
import { contentStep } from './steps/content.ts';
import { bootloaderBlobsStep } from './steps/bootloader-blobs.ts';
import { aptSourcesStep } from './steps/apt-sources.ts';
import { appsStep } from './steps/apps.ts';
import { resolveContent } from './content/resolve.ts';
import { resolvePlanApps } from './apps/resolve-plan.ts';
import { bootstrapStep } from './steps/bootstrap.ts';
import { initramfsStep } from './steps/initramfs.ts';
import { layerStep } from './steps/layer.ts';
import { finalizeStep } from './steps/finalize.ts';
import { filesystemsStep } from './steps/filesystems.ts';
import { diskStep } from './steps/disk.ts';
import { bmapStep } from './steps/bmap.ts';
import { compressStep } from './steps/compress.ts';
import { checksumStep, outputFiles } from './steps/checksum.ts';
import { withCommandEnv } from './exec.ts';
import { checkFolders } from './build-folders.ts';
import { findLeftovers, mountsBelow, removeLeftovers, takeLease } from './cache/lease.ts';

export interface BuildRuntime {
  /** Step cache, shared apt cache and scratch space; default $CLIC_CACHE_DIR or ~/.cache/clic-image. */
  cacheDir?: string;
  /** Run every step, neither looking up nor storing results in the step cache. */
  noCache?: boolean;
  /** Build with exactly these package versions (`name=version:arch`) or fail (see readPackageList). */
  pinnedPackages?: readonly string[];
  events?: BuildEvents;
  signal?: AbortSignal;
}

export interface BuildResult {
  image: string;
  sha256File: string;
  /** The exact package set, `name=version:arch` per line (see --pin-packages). */
  packagesFile: string;
  /** Every file the build wrote in the output folder (image, compressed copies, block map,
   *  package list, manifest, checksums), by full path. */
  outputs: string[];
  ms: number;
}

export const defaultCacheDir = () => process.env.CLIC_CACHE_DIR ?? join(homedir(), '.cache', 'clic-image');
export const stepCacheOf = (cacheDir: string, owner?: string) => new StepCache(join(resolve(cacheDir), 'steps'), owner);

export function stepsFor(plan: Plan, cacheDir: string, pinnedPackages: readonly string[] | null = null): Step[] {
  return [
    hostToolsStep,
    ...(plan.aptSources.length ? [aptSourcesStep()] : []),
    packagesStep(pinnedPackages),
    ...(plan.rawRegions.length ? [bootloaderBlobsStep(cacheDir)] : []),
    ...(plan.content ? [contentStep(cacheDir)] : []),
    bootstrapStep(cacheDir),
    initramfsStep,
    ...plan.layers.flatMap((l) => [...(l.name === plan.apps?.layer ? [appsStep(cacheDir)] : []), layerStep(l)]),
    finalizeStep,
    filesystemsStep,
    diskStep,
    bmapStep,
    ...(plan.output.compressed.length ? [compressStep] : []),
    checksumStep,
  ];
}

export async function buildImage(unresolved: Plan, runtime: BuildRuntime = {}): Promise<BuildResult> {
  const started = Date.now();
  const cacheDir = resolve(runtime.cacheDir ?? defaultCacheDir());
  const events = runtime.events ?? new BuildEvents();
  const signal = runtime.signal ?? new AbortController().signal;
  // the folders first (the catalog lookups write into the cache folder), their room once the
  // content's exact files are known (catalog lookups), before anything is started
  await checkFolders(unresolved, cacheDir);
  const plan = await resolvePlanApps(await resolveContent(unresolved, { cacheDir, signal }), { cacheDir, signal });
  await checkFolders(plan, cacheDir);
  const lease = await takeLease(cacheDir);
  let failure: unknown;
  try {
    await withCommandEnv(lease.env, async () => {
      // what builds killed before left behind (their lease is free): their commands, folders, entries
      for (const problem of await removeLeftovers(await findLeftovers(cacheDir))) events.emit({ type: 'output', step: 'build', line: problem });
      await mkdir(plan.output.dir, { recursive: true });
      const workDir = join(cacheDir, 'work', `${plan.image}.${lease.id}`);
      await mkdir(workDir, { recursive: true });
      const steps = stepsFor(plan, cacheDir, runtime.pinnedPackages ?? null);
      const cache = runtime.noCache ? null : stepCacheOf(cacheDir, lease.id);
      events.emit({ type: 'build:start', image: plan.image, board: plan.board.name, steps: steps.map((s) => s.name) });
      try {
        await runSteps(steps, { plan, workDir, rootfs: join(workDir, 'rootfs'), signal, events, cache });
      } catch (err) {
        failure = err;
      }
      const mounted = await mountsBelow(workDir);
      if (mounted.length) {
        // never recurse into a mounted /dev or /proc; the build's own error, if any, stays the one reported
        failure ??= new Error(`refusing to delete ${workDir}: still mounted: ${mounted.join(', ')}`);
      } else {
        events.emit({ type: 'cleanup', step: 'build', what: `remove ${workDir}` });
        await rm(workDir, { recursive: true, force: true });
      }
    });
  } finally {
    await lease.release();
  }
  if (failure) throw failure;
  const result = {
    image: join(plan.output.dir, plan.output.img),
    sha256File: join(plan.output.dir, plan.output.sha256),
    packagesFile: join(plan.output.dir, plan.output.packages),
    outputs: outputFiles(plan).map((f) => join(plan.output.dir, f)),
    ms: Date.now() - started,
  };
  events.emit({ type: 'build:end', image: plan.image, outputs: result.outputs, ms: result.ms });
  return result;
}
