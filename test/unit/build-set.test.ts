/**
 * buildSet (build --all): images of one architecture one after the other, architectures in
 * parallel up to `jobs`, and a failing image leaves the others' results intact. The build
 * function is a stand-in that records when each image starts and ends.
 */
import { describe, expect, it } from 'vitest';
import { buildGroups, buildSet, defaultJobs } from '../../builder/build-set.ts';
import type { BuildResult } from '../../builder/build.ts';
import { resolvePlan, type Plan } from '../../builder/index.ts';
import { board, image, testRegistry } from './helpers/registries.ts';

function plans(specs: { name: string; arch: 'amd64' | 'arm64' }[]): Plan[] {
  const r = testRegistry();
  for (const arch of ['amd64', 'arm64'] as const) r.boards.set(`b-${arch}`, board({ name: `b-${arch}`, arch }));
  return specs.map((s) => resolvePlan(image({ name: s.name, board: `b-${s.arch}` }), 'x.ts', r, { outDir: '/nonexistent', sourceDateEpoch: 0 }));
}

function recorder(fail: string[] = [], ms = 30) {
  const log: string[] = [];
  let running = 0;
  let most = 0;
  const build = async (plan: Plan): Promise<BuildResult> => {
    log.push(`start ${plan.image}`);
    most = Math.max(most, ++running);
    await new Promise((r) => setTimeout(r, ms));
    running--;
    log.push(`end ${plan.image}`);
    if (fail.includes(plan.image)) throw new Error(`${plan.image} broke`);
    return { image: `/out/${plan.image}.img`, sha256File: '', packagesFile: '', outputs: [], ms };
  };
  return { build, log, most: () => most };
}

const SET = [
  { name: 'pc', arch: 'amd64' },
  { name: 'rpi3', arch: 'arm64' },
  { name: 'pc-ynh', arch: 'amd64' },
  { name: 'rpi4', arch: 'arm64' },
] as const;

describe('buildSet', () => {
  it('groups images by suite and architecture, keeping their order', () => {
    expect(buildGroups(plans([...SET])).map((g) => g.map((p) => p.image))).toEqual([['pc', 'pc-ynh'], ['rpi3', 'rpi4']]);
  });

  it('runs the architectures side by side and each architecture\'s images one after the other', async () => {
    const r = recorder();
    const results = await buildSet(plans([...SET]), { jobs: 2, runtimeFor: () => ({}), build: r.build });
    expect(results.map((x) => [x.image, x.ok])).toEqual([['pc', true], ['rpi3', true], ['pc-ynh', true], ['rpi4', true]]);
    expect(r.most()).toBe(2);
    expect(r.log.indexOf('end pc')).toBeLessThan(r.log.indexOf('start pc-ynh'));
    expect(r.log.indexOf('end rpi3')).toBeLessThan(r.log.indexOf('start rpi4'));
  });

  it('never runs more than `jobs` builds at once', async () => {
    const r = recorder();
    await buildSet(plans([...SET]), { jobs: 1, runtimeFor: () => ({}), build: r.build });
    expect(r.most()).toBe(1);
  });

  it('goes on after a failing image, and reports each image\'s result', async () => {
    const r = recorder(['pc']);
    const results = await buildSet(plans([...SET]), { jobs: 2, runtimeFor: () => ({}), build: r.build });
    expect(results.map((x) => [x.image, x.ok])).toEqual([['pc', false], ['rpi3', true], ['pc-ynh', true], ['rpi4', true]]);
    const failed = results[0];
    expect(!failed.ok && (failed.error as Error).message).toBe('pc broke');
    expect(r.log).toContain('end pc-ynh');
  });

  it('starts nothing more once interrupted', async () => {
    const controller = new AbortController();
    const r = recorder();
    const results = await buildSet(plans([...SET]), {
      jobs: 1,
      runtimeFor: () => ({ signal: controller.signal }),
      build: async (plan) => {
        controller.abort('SIGINT');
        return r.build(plan);
      },
    });
    expect(results.filter((x) => x.ok).map((x) => x.image)).toEqual(['pc']);
    expect(results.filter((x) => !x.ok).map((x) => !x.ok && (x.error as Error).message)).toEqual(Array(3).fill('not started: the build set was interrupted'));
  });

  it('refuses an image asked for twice (both would write the same files)', async () => {
    await expect(buildSet(plans([SET[0], SET[0]]), { runtimeFor: () => ({}) })).rejects.toThrow('pc is asked for twice');
  });

  it('runs at least one build at a time', () => {
    expect(defaultJobs()).toBeGreaterThanOrEqual(1);
  });
});
