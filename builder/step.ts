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

export interface StepContext {
  plan: Plan;
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
  verify?(ctx: StepContext): Promise<void>;
  run(ctx: StepContext): Promise<void>;
  cleanup?(ctx: StepContext): Promise<void>;
}
