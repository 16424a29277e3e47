/**
 * Runs a list of steps: every verify first, then each run in order, then the cleanups of the
 * steps that started (and deferred undos), in reverse order, whatever happened. The first error
 * is wrapped in a StepError naming the step and phase.
 *
 * Steps with cacheInputs are looked up in the step cache first (key: their inputs chained to the
 * previous cached step's key): a hit is skipped, and its stored changes are replayed onto the
 * root file system just before the next step that does run; a miss runs and stores its changes.
 * After a root file system step runs (cached or not), the times it left on the tree are clamped
 * to SOURCE_DATE_EPOCH: the tree, and so what is stored, is then the same whenever it ran.
 *
 *   await runSteps(steps, { plan, workDir, rootfs, signal, events });
 */
import { runCommand } from './exec.ts';
import { AbortedError, StepError } from './errors.ts';
import type { Step, StepContext } from './step.ts';
import { cacheKey } from './cache/keys.ts';
import type { CacheEntry } from './cache/store.ts';
import { clampTimes, indexTree, restoreSnapshot, writeSnapshot, type TreeIndex } from './cache/snapshot.ts';

export type PipelineContext = Omit<StepContext, 'run' | 'defer'>;

export async function runSteps(steps: readonly Step[], base: PipelineContext): Promise<void> {
  const undo: { step: string; what: string; fn: (c: StepContext) => Promise<void> | void }[] = [];
  let current = '';
  const ctx: StepContext = {
    ...base,
    run: (argv, opts = {}) => {
      const step = current;
      base.events.emit({ type: 'cmd', step, argv: [...argv] });
      return runCommand(argv, {
        ...opts,
        signal: base.signal,
        onLine: (line) => {
          opts.onLine?.(line);
          base.events.emit({ type: 'output', step, line });
        },
      });
    },
    defer: (what, fn) => undo.push({ step: current, what, fn: () => fn() }),
  };
  const replay = async (entries: CacheEntry[]) => {
    for (const entry of entries) {
      const started = Date.now();
      await restoreSnapshot(ctx.run, entry.dir, ctx.rootfs);
      base.events.emit({ type: 'cache', step: entry.step, action: 'restore', key: entry.key, ms: Date.now() - started });
    }
  };
  const store = async (step: string, key: string, parent: string | null, before: TreeIndex) => {
    const started = Date.now();
    const info = { step, image: ctx.plan.image, parent };
    const stored = await ctx.cache!.put(key, info, (dir) => writeSnapshot(ctx.run, ctx.rootfs, before, dir, base.signal).then(() => {}));
    base.events.emit({ type: 'cache', step, action: stored ? 'store' : 'lost', key, ms: Date.now() - started });
  };
  let failure: unknown;
  try {
    for (const step of steps) {
      current = step.name;
      if (!step.verify) continue;
      try {
        await step.verify(ctx);
      } catch (cause) {
        const err = cause instanceof StepError ? cause : new StepError({ step: step.name, phase: 'verify', cause });
        base.events.emit({ type: 'step:fail', step: step.name, ms: 0, message: err.message });
        throw err;
      }
    }
    let parentKey: string | null = null;
    const cached: CacheEntry[] = [];
    for (const step of steps) {
      if (base.signal.aborted) throw new AbortedError(String(base.signal.reason));
      current = step.name;
      const started = Date.now();
      const fail = (cause: unknown) => {
        // after an abort, whatever a step throws (a killed command, an aborted stream) is the abort
        const err = base.signal.aborted ? new AbortedError(String(base.signal.reason)) : new StepError({ step: step.name, phase: 'run', cause });
        base.events.emit({ type: 'step:fail', step: step.name, ms: Date.now() - started, message: err.message });
        return err;
      };
      let key: string | null = null;
      const parent = parentKey;
      if (step.cacheInputs && ctx.cache) {
        try {
          key = cacheKey(parent, step.name, await step.cacheInputs(ctx));
          parentKey = key;
          const hit = await ctx.cache.get(key);
          if (hit) {
            cached.push(hit);
            base.events.emit({ type: 'step:skip', step: step.name, reason: 'cached', key });
            continue;
          }
        } catch (cause) {
          throw fail(cause);
        }
      }
      base.events.emit({ type: 'step:start', step: step.name, description: base.plan.steps.find((s) => s.name === step.name)?.description ?? '' });
      if (step.cleanup) undo.push({ step: step.name, what: `${step.name} cleanup`, fn: (c) => step.cleanup!(c) });
      try {
        // the tree this step works on: the cached steps before it, replayed in order
        await replay(cached.splice(0));
        const before = key ? await indexTree(ctx.rootfs, base.signal) : null;
        await step.run(ctx);
        if (step.cacheInputs && ctx.plan.sourceDateEpoch !== null) await clampTimes(ctx.run, ctx.rootfs, ctx.plan.sourceDateEpoch);
        base.events.emit({ type: 'step:end', step: step.name, ms: Date.now() - started });
        if (key && before && ctx.cache) await store(step.name, key, parent, before);
      } catch (cause) {
        throw fail(cause);
      }
    }
    await replay(cached.splice(0));
  } catch (err) {
    failure = err;
  }
  // Undo with a fresh context: the build's abort signal must not stop cleanup commands.
  const cleanupCtx: StepContext = { ...ctx, signal: new AbortController().signal, run: (argv, opts) => runCommand(argv, opts) };
  for (const { step, what, fn } of undo.reverse()) {
    base.events.emit({ type: 'cleanup', step, what });
    try {
      await fn(cleanupCtx);
    } catch (cause) {
      const err = new StepError({ step, phase: 'cleanup', cause });
      base.events.emit({ type: 'step:fail', step, ms: 0, message: err.message });
      failure ??= err;
    }
  }
  if (failure) throw failure;
}
