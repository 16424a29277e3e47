/**
 * Runs a list of steps: every verify first, then each run in order, then the cleanups of the
 * steps that started (and deferred undos), in reverse order, whatever happened. The first error
 * is wrapped in a StepError naming the step and phase.
 *
 *   await runSteps(steps, { plan, workDir, rootfs, signal, events });
 */
import { runCommand } from './exec.ts';
import { AbortedError, StepError } from './errors.ts';
import type { Step, StepContext } from './step.ts';

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
    for (const step of steps) {
      if (base.signal.aborted) throw new AbortedError(String(base.signal.reason));
      current = step.name;
      const started = Date.now();
      base.events.emit({ type: 'step:start', step: step.name, description: base.plan.steps.find((s) => s.name === step.name)?.description ?? '' });
      if (step.cleanup) undo.push({ step: step.name, what: `${step.name} cleanup`, fn: (c) => step.cleanup!(c) });
      try {
        await step.run(ctx);
      } catch (cause) {
        // after an abort, whatever a step throws (a killed command, an aborted stream) is the abort
        const err = base.signal.aborted
          ? new AbortedError(String(base.signal.reason))
          : new StepError({ step: step.name, phase: 'run', cause });
        base.events.emit({ type: 'step:fail', step: step.name, ms: Date.now() - started, message: err.message });
        throw err;
      }
      base.events.emit({ type: 'step:end', step: step.name, ms: Date.now() - started });
    }
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
