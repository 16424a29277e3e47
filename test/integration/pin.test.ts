/**
 * Pinning the package set: a build given the <image>.packages of an earlier build goes on when
 * the mirror still resolves exactly those versions (and gives the same image), and stops
 * before installing anything, naming the packages that differ, when it does not.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imagesDir, runBuild, TEST_CACHE } from '../support/images.ts';

const RECIPE = 'clic-pc-x86_64';

describe('--pin-packages', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const tmp = async (prefix: string) => {
    const d = await mkdtemp(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  const pinnedBuild = (out: string, list: string) => runBuild(RECIPE, out, { cacheDir: TEST_CACHE, extraArgs: ['--pin-packages', list] });

  it('with the list of the shared build: the same versions, the same image', async () => {
    const list = join(await imagesDir(), `${RECIPE}.packages`);
    expect((await readFile(list, 'utf8')).split('\n').filter((l) => /=.*:/.test(l)).length).toBeGreaterThan(100);
    const out = await tmp('clic-pin-out-');
    const run = await pinnedBuild(out, list);
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(join(out, `${RECIPE}.img.sha256`), 'utf8')).toBe(await readFile(join(await imagesDir(), `${RECIPE}.img.sha256`), 'utf8'));
    expect(await readFile(join(out, `${RECIPE}.packages`), 'utf8')).toBe(await readFile(list, 'utf8'));
  });

  it('with a version the mirror does not give: stops at the packages step, naming it, with a hint', async () => {
    const lines = (await readFile(join(await imagesDir(), `${RECIPE}.packages`), 'utf8')).split('\n');
    const i = lines.findIndex((l) => l.startsWith('libc6='));
    expect(i).toBeGreaterThan(0);
    const wanted = lines[i].replace(/=([^:]+):/, '=$1~older1:');
    lines[i] = wanted;
    const dir = await tmp('clic-pin-list-');
    const list = join(dir, 'old.packages');
    await writeFile(list, lines.join('\n'));
    const out = await tmp('clic-pin-out-');
    const run = await pinnedBuild(out, list);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/step "packages" failed/);
    expect(run.stderr).toContain(`libc6: pinned ${wanted.slice('libc6='.length)}, resolved `);
    expect(run.stderr).toMatch(/hint: build from a dated snapshot/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.events.some((e) => e.type === 'step:start' && e.step === 'bootstrap')).toBe(false);
    expect(existsSync(join(out, `${RECIPE}.img`))).toBe(false);
  });
});
