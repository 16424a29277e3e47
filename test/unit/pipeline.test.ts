/**
 * runSteps: every verify before any run; cleanups of started steps and deferred undos unwind in
 * reverse order on success, failure and abort; the error names the step and the phase.
 */
import { describe, expect, it } from 'vitest';
import { AbortedError, StepError } from '../../builder/errors.ts';
import { BuildEvents, type BuildEvent } from '../../builder/events.ts';
import { runSteps } from '../../builder/pipeline.ts';
import { resolvePlan } from '../../builder/recipe/plan.ts';
import type { Step, StepContext } from '../../builder/step.ts';
import { image, OPTIONS, testRegistry } from './helpers/registries.ts';

const plan = resolvePlan(image(), 'x.ts', testRegistry(), OPTIONS);

interface Harness {
  log: string[];
  events: BuildEvent[];
  controller: AbortController;
  go: (steps: Step[]) => Promise<unknown>;
}

function harness(): Harness {
  const log: string[] = [];
  const events = new BuildEvents();
  const seen: BuildEvent[] = [];
  events.on((e) => seen.push(e));
  const controller = new AbortController();
  const go = (steps: Step[]) =>
    runSteps(steps, { plan, workDir: '/nonexistent', rootfs: '/nonexistent/root', signal: controller.signal, events, cache: null }).then(
      () => null,
      (e: unknown) => e,
    );
  return { log, events: seen, controller, go };
}

type Hooks = { verify?: (c: StepContext) => Promise<void> | void; run?: (c: StepContext) => Promise<void> | void; cleanup?: (c: StepContext) => Promise<void> | void };

/** A step that logs its phases; hooks add behaviour (throw, defer, run a command). */
function step(h: Harness, name: string, hooks: Hooks = {}): Step {
  return {
    name,
    async verify(c) {
      h.log.push(`verify ${name}`);
      await hooks.verify?.(c);
    },
    async run(c) {
      h.log.push(`run ${name}`);
      await hooks.run?.(c);
    },
    async cleanup(c) {
      h.log.push(`cleanup ${name}`);
      await hooks.cleanup?.(c);
    },
  };
}

describe('runSteps', () => {
  it('runs every verify first, then the steps, then cleanups in reverse', async () => {
    const h = harness();
    expect(await h.go(['a', 'b', 'c'].map((n) => step(h, n)))).toBeNull();
    expect(h.log).toEqual(['verify a', 'verify b', 'verify c', 'run a', 'run b', 'run c', 'cleanup c', 'cleanup b', 'cleanup a']);
    expect(h.events.filter((e) => e.type === 'step:end').map((e) => (e as { step: string }).step)).toEqual(['a', 'b', 'c']);
  });

  it('a failed verify runs nothing, and names the step and phase', async () => {
    const h = harness();
    const err = await h.go([step(h, 'a'), step(h, 'b', { verify: () => { throw new Error('no mmdebstrap'); } }), step(h, 'c')]);
    expect(err).toBeInstanceOf(StepError);
    expect(err).toMatchObject({ step: 'b', phase: 'verify', message: 'step "b" failed (verify): no mmdebstrap' });
    expect(h.log).toEqual(['verify a', 'verify b']);
  });

  it('a failed run stops the build and unwinds what started, the failed step included', async () => {
    const h = harness();
    const cause = new Error('disk full');
    const err = await h.go([step(h, 'a'), step(h, 'b', { run: () => { throw cause; } }), step(h, 'c')]);
    expect(err).toBeInstanceOf(StepError);
    expect(err).toMatchObject({ step: 'b', phase: 'run', cause });
    expect((err as Error).message).toBe('step "b" failed (run): disk full');
    expect(h.log).toEqual(['verify a', 'verify b', 'verify c', 'run a', 'run b', 'cleanup b', 'cleanup a']);
    expect(h.events.find((e) => e.type === 'step:fail')).toMatchObject({ step: 'b', message: err && (err as Error).message });
  });

  it('a failed command carries its stderr tail into the StepError', async () => {
    const h = harness();
    const err = (await h.go([step(h, 'a', { run: async (c) => void (await c.run(['sh', '-c', 'echo "E: no space left" >&2; exit 100'])) })])) as StepError;
    expect(err).toMatchObject({ step: 'a', phase: 'run' });
    expect(err.stderrTail).toBe('E: no space left');
  });

  it('deferred undos unwind with the cleanups, in reverse order of registration', async () => {
    const h = harness();
    const undo = (what: string) => (c: StepContext) => c.defer(what, () => void h.log.push(`undo ${what}`));
    await h.go([step(h, 'a', { run: undo('mount-a') }), step(h, 'b', { run: undo('mount-b') })]);
    // a step's cleanup is registered when it starts, before what its run defers
    expect(h.log.slice(-4)).toEqual(['undo mount-b', 'cleanup b', 'undo mount-a', 'cleanup a']);
    expect(h.events.filter((e) => e.type === 'cleanup').map((e) => (e as { what: string }).what)).toEqual(['mount-b', 'b cleanup', 'mount-a', 'a cleanup']);
  });

  it('a failed cleanup fails the build but the other cleanups still run', async () => {
    const h = harness();
    const err = await h.go([step(h, 'a'), step(h, 'b', { cleanup: () => { throw new Error('busy'); } })]);
    expect(err).toMatchObject({ step: 'b', phase: 'cleanup', message: 'step "b" failed (cleanup): busy' });
    expect(h.log.slice(-2)).toEqual(['cleanup b', 'cleanup a']);
  });

  it('the first error wins over a later cleanup error', async () => {
    const h = harness();
    const err = await h.go([step(h, 'a', { cleanup: () => { throw new Error('busy'); } }), step(h, 'b', { run: () => { throw new Error('first'); } })]);
    expect(err).toMatchObject({ step: 'b', phase: 'run' });
  });

  it('on abort during a command: the command ends, later steps never start, cleanups run and can still run commands', async () => {
    const h = harness();
    let cleanupOutput = '';
    const err = await h.go([
      step(h, 'a'),
      step(h, 'b', {
        run: async (c) => {
          setTimeout(() => h.controller.abort('SIGINT'), 50);
          await c.run(['sleep', '30']);
        },
        cleanup: async (c) => {
          cleanupOutput = (await c.run(['echo', 'cleaned'])).stdout;
        },
      }),
      step(h, 'c'),
    ]);
    expect(err).toBeInstanceOf(AbortedError);
    expect((err as AbortedError).signal).toBe('SIGINT');
    expect(h.log).toEqual(['verify a', 'verify b', 'verify c', 'run a', 'run b', 'cleanup b', 'cleanup a']);
    expect(cleanupOutput).toBe('cleaned\n');
  });

  it('on abort between steps: the next step does not start', async () => {
    const h = harness();
    const err = await h.go([step(h, 'a', { run: () => h.controller.abort('SIGTERM') }), step(h, 'b')]);
    expect(err).toBeInstanceOf(AbortedError);
    expect(h.log).toEqual(['verify a', 'verify b', 'run a', 'cleanup a']);
  });

  it('tags commands and their output with the step that ran them', async () => {
    const h = harness();
    await h.go([step(h, 'a', { run: async (c) => void (await c.run(['echo', 'hello'])) })]);
    expect(h.events.filter((e) => e.type === 'cmd' || e.type === 'output')).toEqual([
      { type: 'cmd', step: 'a', argv: ['echo', 'hello'] },
      { type: 'output', step: 'a', line: 'hello' },
    ]);
  });

  it('describes each step from the plan', async () => {
    const h = harness();
    await h.go([step(h, 'bootstrap')]);
    expect(h.events.find((e) => e.type === 'step:start')).toEqual({ type: 'step:start', step: 'bootstrap', description: plan.steps.find((s) => s.name === 'bootstrap')!.description });
  });
});
