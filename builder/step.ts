/**
 * The shape every build step has, and what it gets to work with.
 *
 * A step verifies its preconditions (all verifies run before any run), runs, and cleans up what
 * it started. Cleanups of started steps unwind in reverse order on success, failure and Ctrl-C.
 *
 *   export const checksumStep: Step = {
 *     name: 'checksum',
 *     async run(ctx) { … },
 *   };
 */
import type { BuildEvents } from './events.ts';
import type { RunOptions } from './exec.ts';
import type { Plan } from './recipe/plan.ts';
import type { StepCache } from './cache/store.ts';
import type { ResolvedPackages } from './steps/packages.ts';

export interface StepContext {
  /** The build plan; the packages step dates it (withSourceDate) when no date was given. */
  plan: Plan;
  /** The exact package set, once the packages step has run. */
  resolved?: ResolvedPackages;
  /** Where cached steps store and find their results; null when the build runs without cache. */
  cache: StepCache | null;
  /** Private scratch folder of this build, removed at the end. */
  workDir: string;
  /** The image's root file system, as a folder inside workDir. */
  rootfs: string;
  signal: AbortSignal;
  events: BuildEvents;
  /** Run a command as part of the current step: emits `cmd`/`output` events, obeys the abort signal. */
  run(argv: readonly string[], opts?: Omit<RunOptions, 'signal'>): Promise<{ stdout: string }>;
  /** Register something to undo when the build ends, whatever the outcome. */
  defer(what: string, undo: () => Promise<void> | void): void;
}

export interface Step {
  name: string;
  /** For steps that change the root file system: everything their result depends on, besides
   *  the previous cached step (the parent). The pipeline then keys the step's result by these
   *  inputs and its parent's key, stores its changes to the tree in the step cache, and on a
   *  later build with the same key replays them instead of running the step. */
  cacheInputs?(ctx: StepContext): Promise<unknown>;
  verify?(ctx: StepContext): Promise<void>;
  run(ctx: StepContext): Promise<void>;
  cleanup?(ctx: StepContext): Promise<void>;
}

/** The build's SOURCE_DATE_EPOCH: given, or set by the packages step from the suite's date. */
export function sourceDate(ctx: StepContext): number {
  if (ctx.plan.sourceDateEpoch === null) throw new Error('the build has no date yet: the packages step must run first');
  return ctx.plan.sourceDateEpoch;
}
