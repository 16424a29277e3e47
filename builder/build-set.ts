/**
 * buildSet — builds several images into one output folder (`clic-image build --all`, the
 * release set): images of different architectures in parallel, at most `jobs` at a time; images
 * of one architecture and suite one after the other, because they share the apt package cache
 * and the qemu-user setup (and, often, cached steps: the second one replays them). A failing
 * image does not stop the others: every image gets its result.
 *
 * Options: jobs (default: defaultJobs()), runtimeFor (the build runtime of each image: events,
 * signal, cache directory).
 *
 *   const results = await buildSet(plans, { jobs: 2, runtimeFor: (plan) => ({ events }) });
 *   results.filter((r) => !r.ok).map((r) => r.image); // ['clic-rpi3']
 */
import { availableParallelism, totalmem } from 'node:os';
import pLimit from 'p-limit';
import { buildImage, type BuildResult, type BuildRuntime } from './build.ts';
import type { Plan } from './recipe/plan.ts';

export type SetResult = { image: string; board: string; ok: true; result: BuildResult } | { image: string; board: string; ok: false; error: unknown };

/** Parallel builds this machine can take: one per 2 cores (a build keeps about two busy:
 *  compression, qemu-user) and per 4 GiB of memory; at least one. */
export function defaultJobs(): number {
  return Math.max(1, Math.min(Math.floor(availableParallelism() / 2), Math.floor(totalmem() / 4 / 2 ** 30)));
}

/** Images that must not build at the same time: same architecture and suite. */
export function buildGroups(plans: readonly Plan[]): Plan[][] {
  const groups = new Map<string, Plan[]>();
  for (const plan of plans) {
    const key = `${plan.suite}-${plan.board.arch}`;
    groups.set(key, [...(groups.get(key) ?? []), plan]);
  }
  return [...groups.values()];
}

export async function buildSet(
  plans: readonly Plan[],
  opts: { jobs?: number; runtimeFor: (plan: Plan) => BuildRuntime; build?: typeof buildImage },
): Promise<SetResult[]> {
  const names = plans.map((p) => p.image);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  // two builds of one name would write the same files
  if (twice) throw new Error(`${twice} is asked for twice`);
  const build = opts.build ?? buildImage;
  const limit = pLimit(Math.max(1, opts.jobs ?? defaultJobs()));
  const results = new Map<string, SetResult>();
  await Promise.all(
    buildGroups(plans).map((group) =>
      limit(async () => {
        for (const plan of group) {
          const runtime = opts.runtimeFor(plan);
          if (runtime.signal?.aborted) {
            results.set(plan.image, { image: plan.image, board: plan.board.name, ok: false, error: new Error('not started: the build set was interrupted') });
            continue;
          }
          try {
            results.set(plan.image, { image: plan.image, board: plan.board.name, ok: true, result: await build(plan, runtime) });
          } catch (error) {
            results.set(plan.image, { image: plan.image, board: plan.board.name, ok: false, error });
          }
        }
      }),
    ),
  );
  return plans.map((p) => results.get(p.image)!);
}
