/**
 * buildImage — runs a plan: host checks, bootstrap, layers, finalize, file systems, disk,
 * checksum. Works in a private folder under the cache directory, removed at the end whatever
 * happens (after checking that nothing is still mounted below it).
 *
 *   const result = await buildImage(plan, { cacheDir, events, signal });
 *   result.image; // /path/out/clic-rpi4.img
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { BuildEvents } from './events.ts';
import { runSteps } from './pipeline.ts';
import type { Plan } from './recipe/plan.ts';
import type { Step } from './step.ts';
import { hostToolsStep } from './steps/host-tools.ts';
import { bootstrapStep } from './steps/bootstrap.ts';
import { layerStep } from './steps/layer.ts';
import { finalizeStep } from './steps/finalize.ts';
import { filesystemsStep } from './steps/filesystems.ts';
import { diskStep } from './steps/disk.ts';
import { checksumStep } from './steps/checksum.ts';

export interface BuildRuntime {
  /** Shared apt cache and scratch space; default $CLIC_CACHE_DIR or ~/.cache/clic-image. */
  cacheDir?: string;
  events?: BuildEvents;
  signal?: AbortSignal;
}

export interface BuildResult {
  image: string;
  sha256File: string;
  ms: number;
}

export const defaultCacheDir = () => process.env.CLIC_CACHE_DIR ?? join(homedir(), '.cache', 'clic-image');

export function stepsFor(plan: Plan, cacheDir: string): Step[] {
  return [
    hostToolsStep,
    bootstrapStep(cacheDir),
    ...plan.layers.map(layerStep),
    finalizeStep,
    filesystemsStep,
    diskStep,
    checksumStep,
  ];
}

/** Mount points at or below dir, from the kernel's own table. */
export async function mountsBelow(dir: string): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  const prefix = resolve(dir);
  return table
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && (m === prefix || m.startsWith(prefix + '/')));
}

export async function buildImage(plan: Plan, runtime: BuildRuntime = {}): Promise<BuildResult> {
  const started = Date.now();
  const cacheDir = resolve(runtime.cacheDir ?? defaultCacheDir());
  const events = runtime.events ?? new BuildEvents();
  const signal = runtime.signal ?? new AbortController().signal;
  await mkdir(join(cacheDir, 'work'), { recursive: true });
  await mkdir(plan.output.dir, { recursive: true });
  const workDir = await mkdtemp(join(cacheDir, 'work', `${plan.image}-`));
  const steps = stepsFor(plan, cacheDir);
  events.emit({ type: 'build:start', image: plan.image, board: plan.board.name, steps: steps.map((s) => s.name) });
  let failure: unknown;
  try {
    await runSteps(steps, { plan, workDir, rootfs: join(workDir, 'rootfs'), signal, events });
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
  if (failure) throw failure;
  const result = { image: join(plan.output.dir, plan.output.img), sha256File: join(plan.output.dir, plan.output.sha256), ms: Date.now() - started };
  events.emit({ type: 'build:end', image: plan.image, outputs: [result.image, result.sha256File], ms: result.ms });
  return result;
}
