/**
 * `clic-image build` of several images at once: the PC image and a lab build of it whose base
 * layer fails (a time zone that does not exist). The failure does not hide the other image:
 * it is built, the summary names each result, the exit status says something failed, and
 * SHA256SUMS lists only what was built.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuild, TEST_CACHE } from '../support/images.ts';
import { parseSums } from '../../builder/release/sums.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('building several images', () => {
  it('goes on after a failing image and reports each result', async () => {
    const labs = await mkdtemp(join(tmpdir(), 'clic-set-labs-'));
    const out = await mkdtemp(join(tmpdir(), 'clic-set-out-'));
    dirs.push(labs, out);
    const lab = join(labs, 'clic-mars.yaml');
    await writeFile(lab, 'extends: clic-pc-x86_64\nvars:\n  base:\n    timezone: Mars/Olympus_Mons\n');
    const run = await runBuild('clic-pc-x86_64', out, { cacheDir: TEST_CACHE, extraArgs: [lab, '--compress', 'none'] });
    expect(run.code).toBe(1);
    const end = run.events.find((e) => e.type === 'set:end') as { results: { image: string; ok: boolean; message?: string }[] };
    expect(end.results.map((r) => [r.image, r.ok])).toEqual([['clic-pc-x86_64', true], ['clic-mars', false]]);
    expect(end.results[1].message).toMatch(/layer:base/);
    expect(run.events.filter((e) => e.type === 'step:fail').map((e) => [e.image, e.step])).toEqual([['clic-mars', 'layer:base']]);
    const files = await readdir(out);
    expect(files.filter((f) => f.startsWith('clic-mars'))).toEqual([]);
    expect(files).toContain('clic-pc-x86_64.img');
    const listed = parseSums(await readFile(join(out, 'SHA256SUMS'), 'utf8')).entries.map((e) => e.file);
    expect(listed.sort()).toEqual(['clic-pc-x86_64.img', 'clic-pc-x86_64.img.bmap', 'clic-pc-x86_64.manifest.json', 'clic-pc-x86_64.packages']);
  });
});
