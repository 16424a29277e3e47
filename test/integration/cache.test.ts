/**
 * The step cache on real builds. A second checkout of the project, with the cache the shared
 * images were built with: unchanged, every root file system step is replayed and the image is
 * the same, byte for byte; with one overlay file of the top layer changed, only that layer and
 * the steps after it run. A build killed with SIGKILL while it stores a step leaves a
 * half-written entry that the next build neither uses nor trips over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFile, cp, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { PROJECT_ROOT } from '../../builder/recipe/registry.ts';
import { imagesDir, runBuild, TEST_CACHE, type BuildRun } from '../support/images.ts';

const RECIPE = 'clic-rpi4';
// a file of the top layer (kiwix) that no other layer reads (its icon is read by the portal's pages)
const CHANGED_FILE = 'overlays/kiwix/etc/nginx/clic-services/kiwix.conf';
const ROOTFS_STEPS = (run: BuildRun) => run.events.filter((e) => e.type === 'build:start').flatMap((e) => e.steps as string[])
  .filter((s) => s === 'bootstrap' || s === 'initramfs' || s.startsWith('layer:') || s === 'finalize');
const skipped = (run: BuildRun) => run.events.filter((e) => e.type === 'step:skip').map((e) => e.step);
const started = (run: BuildRun) => run.events.filter((e) => e.type === 'step:start').map((e) => e.step);
const sha256Of = async (dir: string, image: string) => (await readFile(join(dir, `${image}.img.sha256`), 'utf8')).split(' ')[0];

/** The parts of the project a build uses, copied; node_modules shared. */
async function copyProject(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'clic-project-'));
  for (const part of ['bin', 'builder', 'recipes', 'overlays', 'package.json', 'tsconfig.json']) {
    await cp(join(PROJECT_ROOT, part), join(dir, part), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  }
  await symlink(join(PROJECT_ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

describe(`rebuilding ${RECIPE} from the step cache, in another checkout`, () => {
  let project: string;
  let out: string;
  let unchanged: BuildRun;
  let changed: BuildRun;
  let changedMs = 0;

  beforeAll(async () => {
    project = await copyProject();
    out = join(project, 'out');
    const cli = join(project, 'bin/clic-image.js');
    unchanged = await runBuild(RECIPE, join(out, 'unchanged'), { cacheDir: TEST_CACHE, cli, log: join(await imagesDir(), `${RECIPE}.rebuild-unchanged.log`) });
    // a new change each run: the same change would be found in the step cache of an earlier run
    await appendFile(join(project, CHANGED_FILE), `# changed by the cache test, ${randomUUID()}\n`);
    const t0 = Date.now();
    changed = await runBuild(RECIPE, join(out, 'changed'), { cacheDir: TEST_CACHE, cli, log: join(await imagesDir(), `${RECIPE}.rebuild-changed.log`) });
    changedMs = Date.now() - t0;
    await writeFile(join(await imagesDir(), `${RECIPE}.rebuild-changed-ms`), String(changedMs));
    process.stderr.write(`[cache test] ${RECIPE} rebuilt after one overlay file of the top layer changed: ${(changedMs / 1000).toFixed(1)} s\n`);
  });

  afterAll(async () => {
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('unchanged: every root file system step is replayed from the cache, and the image is the same, byte for byte', async () => {
    expect(unchanged.code, unchanged.stderr).toBe(0);
    expect(skipped(unchanged)).toEqual(ROOTFS_STEPS(unchanged));
    // content: the (empty) content partition, taken from its own cache
    expect(started(unchanged)).toEqual(['host-tools', 'packages', 'content', 'filesystems', 'disk', 'bmap', 'checksum']);
    expect(await sha256Of(join(out, 'unchanged'), RECIPE)).toBe(await sha256Of(await imagesDir(), RECIPE));
  });

  it('one overlay file of the top layer changed: only that layer and the later steps run', async () => {
    expect(changed.code, changed.stderr).toBe(0);
    const steps = ROOTFS_STEPS(changed);
    const top = steps.indexOf('layer:kiwix');
    expect(top).toBeGreaterThan(0);
    expect(skipped(changed)).toEqual(steps.slice(0, top));
    expect(started(changed)).toEqual(['host-tools', 'packages', 'content', ...steps.slice(top), 'filesystems', 'disk', 'bmap', 'checksum']);
    // the initramfs does not depend on that file: finalize does not build it again
    const finalizeOutput = changed.events.filter((e) => e.type === 'output' && e.step === 'finalize').map((e) => e.line);
    expect(finalizeOutput.join('\n')).not.toMatch(/building it again/);
    expect(await sha256Of(join(out, 'changed'), RECIPE)).not.toBe(await sha256Of(await imagesDir(), RECIPE));
  });
});

describe('a build killed with SIGKILL while it stores a step in the cache', () => {
  const cacheDir = join(tmpdir(), `clic-kill-cache-${process.pid}`);
  afterAll(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('leaves a half-written entry that the next build neither uses nor trips over', async () => {
    const out = await mkdtemp(join(tmpdir(), 'clic-kill-out-'));
    const steps = join(cacheDir, 'steps');
    let partial: string[] = [];
    const killed = await runBuild('clic-pc-x86_64', out, {
      cacheDir,
      onEvent: (e, child) => {
        // the bootstrap's archive takes seconds to write: kill the build while it does
        if (e.type === 'step:end' && e.step === 'bootstrap') {
          setTimeout(async () => {
            partial = (await readdir(steps).catch(() => [])).filter((n) => n.startsWith('.tmp-'));
            child.kill('SIGKILL');
          }, 800);
        }
      },
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(partial).toHaveLength(1);
    expect((await readdir(steps)).filter((n) => /^[0-9a-f]{64}$/.test(n))).toEqual([]);

    const next = await runBuild('clic-pc-x86_64', out, { cacheDir });
    expect(next.code, next.stderr).toBe(0);
    expect(started(next)).toContain('bootstrap');
    expect(skipped(next)).toEqual([]);
    const names = await readdir(steps);
    expect(names.filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect(names.filter((n) => /^[0-9a-f]{64}$/.test(n)).length).toBe(ROOTFS_STEPS(next).length);
    // and the killed build's scratch folder is gone too
    expect(await readdir(join(cacheDir, 'work'))).toEqual([]);
    expect(existsSync(join(out, 'clic-pc-x86_64.img'))).toBe(true);
    await rm(out, { recursive: true, force: true });
  });
});
