/**
 * Bit-identical outputs: the Raspberry Pi image built again from an empty cache directory (no
 * step cache, no downloaded package) gives the same files, byte for byte, as the shared one —
 * image, xz and zstd copies, block map, manifest, package list — same recipe, same package set,
 * same date (the suite's Release date), built at another time, in another scratch folder.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSums } from '../../builder/release/sums.ts';
import { COMPRESSED_IMAGE, imagesDir, RELEASE_COMPRESSION, runBuild } from '../support/images.ts';

const RECIPE = COMPRESSED_IMAGE;

describe(`${RECIPE} built twice`, () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('from a cleared cache gives the same outputs, byte for byte', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'clic-repro-cache-'));
    const out = await mkdtemp(join(tmpdir(), 'clic-repro-out-'));
    dirs.push(cacheDir, out);
    const run = await runBuild(RECIPE, out, { cacheDir, log: join(await imagesDir(), `${RECIPE}.second-build.log`), extraArgs: RELEASE_COMPRESSION });
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    expect(run.events.filter((e) => e.type === 'step:skip')).toEqual([]);
    const sumsOf = async (dir: string) => parseSums(await readFile(join(dir, 'SHA256SUMS'), 'utf8')).entries.filter((e) => e.file.startsWith(`${RECIPE}.`));
    const first = await sumsOf(await imagesDir());
    expect(first.map((e) => e.file).sort()).toEqual([`${RECIPE}.img`, `${RECIPE}.img.bmap`, `${RECIPE}.img.xz`, `${RECIPE}.img.zst`, `${RECIPE}.manifest.json`, `${RECIPE}.packages`]);
    expect(await sumsOf(out)).toEqual(first);
  });
});
