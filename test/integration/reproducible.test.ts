/**
 * Bit-identical images: the Raspberry Pi image built again from an empty cache directory (no
 * step cache, no downloaded package) is the same file, byte for byte, as the shared one — same
 * recipe, same package set, same date (the suite's Release date), built at another time, in
 * another scratch folder.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imagesDir, runBuild } from '../support/images.ts';

const RECIPE = 'clic-rpi4';

describe(`${RECIPE} built twice`, () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('from a cleared cache gives the same .img, byte for byte', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'clic-repro-cache-'));
    const out = await mkdtemp(join(tmpdir(), 'clic-repro-out-'));
    dirs.push(cacheDir, out);
    const run = await runBuild(RECIPE, out, { cacheDir, log: join(await imagesDir(), `${RECIPE}.second-build.log`) });
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    expect(run.events.filter((e) => e.type === 'step:skip')).toEqual([]);
    const first = await readFile(join(await imagesDir(), `${RECIPE}.img.sha256`), 'utf8');
    const second = await readFile(join(out, `${RECIPE}.img.sha256`), 'utf8');
    expect(second).toBe(first);
  });
});
