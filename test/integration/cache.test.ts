/**
 * The step cache on real builds. A second checkout of the project, with the cache the shared
 * images were built with: unchanged, every root file system step is replayed and the image is
 * the same, byte for byte; with one overlay file of the top layer changed, only that layer and
 * the steps after it run. Then builds of the PC image sharing one new cache, killed, at once,
 * with an entry pruned: always the --no-cache build's image, which is the shared one (built at
 * another time, in another cache: reproducible), and no leftover stays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFile, cp, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { PROJECT_ROOT } from '../../builder/recipe/registry.ts';
import { imagesDir, runBuild, TEST_CACHE, type BuildRun } from '../support/images.ts';
import { StepCache } from '../../builder/cache/store.ts';
import { leaseIdOf } from '../../builder/cache/lease.ts';
import { parseSums } from '../../builder/release/sums.ts';

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

const PC = 'clic-pc-x86_64';
const KEYED = /^[0-9a-f]{64}$/;

/** Pids of the processes that carry a build's lease id in their environment. */
async function processesOf(id: string): Promise<number[]> {
  const pids: number[] = [];
  for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
    const env = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    if (env.split('\0').includes(`CLIC_IMAGE_BUILD=${id}`)) pids.push(Number(pid));
  }
  return pids;
}

/** What a cache folder holds besides its entries: scratch folders, temporary entries, leases. */
async function leftoversIn(cacheDir: string): Promise<string[]> {
  const names = async (dir: string) => (await readdir(join(cacheDir, dir)).catch(() => [] as string[])).map((n) => `${dir}/${n}`);
  return [...(await names('work')), ...(await names('steps')).filter((n) => !KEYED.test(n.slice(6))), ...(await names('leases'))];
}

/**
 * One cache shared by builds that are killed, run at once, and find an entry pruned: the image
 * is always the one a --no-cache build makes, and nothing a killed build left stays.
 */
describe(`builds of ${PC} sharing one cache`, () => {
  const cacheDir = join(tmpdir(), `clic-shared-cache-${process.pid}`);
  const outs: string[] = [];
  const outDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clic-shared-out-'));
    outs.push(dir);
    return dir;
  };
  let clean = '';
  afterAll(async () => {
    for (const dir of [cacheDir, ...outs]) await rm(dir, { recursive: true, force: true });
  });

  it('killed with SIGKILL while it stores a step: its commands end with it; it leaves a half-written entry', async () => {
    const steps = join(cacheDir, 'steps');
    let partial: string[] = [];
    const killed = await runBuild(PC, await outDir(), {
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
    const id = leaseIdOf(partial[0])!;
    // tar was writing the entry: the lease's watcher ends it, within seconds
    let left = await processesOf(id);
    for (let i = 0; i < 50 && left.length; i++) left = await new Promise((r) => setTimeout(() => r(processesOf(id)), 100));
    expect(left).toEqual([]);
    expect((await readdir(steps)).filter((n) => KEYED.test(n))).toEqual([]);
    expect(await leftoversIn(cacheDir)).toEqual(expect.arrayContaining([`work/${PC}.${id}`, `steps/${partial[0]}`]));
  });

  it('three builds at once, and a --no-cache build beside them: the shared image\'s outputs, and the killed build\'s leftovers swept', async () => {
    const runs = await Promise.all([
      outDir().then((out) => runBuild(PC, out, { cacheDir, noCache: true, log: join(out, 'build.log') }).then((run) => ({ run, out }))),
      ...[1, 2, 3].map(() => outDir().then((out) => runBuild(PC, out, { cacheDir, log: join(out, 'build.log') }).then((run) => ({ run, out })))),
    ]);
    for (const { run } of runs) expect(run.code, run.stderr.slice(-3000)).toBe(0);
    // each said so at the very end: the lease was released before the process ended
    for (const { run } of runs) expect(run.events.at(-1)?.type).toBe('build:end');
    clean = await sha256Of(runs[0].out, PC);
    for (const { out } of runs.slice(1)) expect(await sha256Of(out, PC)).toBe(clean);
    // reproducible: the shared image, built at another time in another cache, has the same outputs
    const sumsOf = async (dir: string) => parseSums(await readFile(join(dir, 'SHA256SUMS'), 'utf8')).entries.filter((e) => e.file.startsWith(`${PC}.`));
    const shared = await sumsOf(await imagesDir());
    expect(shared.map((e) => e.file).sort()).toEqual([`${PC}.img`, `${PC}.img.bmap`, `${PC}.manifest.json`, `${PC}.packages`]);
    expect(await sumsOf(runs[0].out)).toEqual(shared);
    expect(await leftoversIn(cacheDir)).toEqual([]);
    const entries = await new StepCache(join(cacheDir, 'steps')).list();
    expect(entries.length).toBe(ROOTFS_STEPS(runs[1].run).length);
  });

  it('with its first entry pruned: the bootstrap runs again, the rest is replayed, the same image', async () => {
    const cache = new StepCache(join(cacheDir, 'steps'));
    const first = (await cache.list()).find((e) => e.parent === null)!;
    expect(first.step).toBe('bootstrap');
    await rm(first.dir, { recursive: true });
    const out = await outDir();
    const run = await runBuild(PC, out, { cacheDir, log: join(out, 'build.log') });
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    expect(started(run)).toContain('bootstrap');
    expect(skipped(run)).toEqual(ROOTFS_STEPS(run).filter((s) => s !== 'bootstrap'));
    expect(await sha256Of(out, PC)).toBe(clean);
  });

  it('killed with SIGKILL while it removes its scratch folder: the next build leaves nothing behind', async () => {
    const killed = await runBuild(PC, await outDir(), {
      cacheDir,
      onEvent: (e, child) => {
        if (e.type === 'cleanup' && e.step === 'build') child.kill('SIGKILL');
      },
    });
    expect(killed.signal).toBe('SIGKILL');
    expect((await leftoversIn(cacheDir)).filter((n) => n.startsWith('work/'))).toHaveLength(1);
    const out = await outDir();
    const next = await runBuild(PC, out, { cacheDir });
    expect(next.code, next.stderr.slice(-3000)).toBe(0);
    expect(skipped(next)).toEqual(ROOTFS_STEPS(next));
    expect(await leftoversIn(cacheDir)).toEqual([]);
    expect(await sha256Of(out, PC)).toBe(clean);
  });
});
