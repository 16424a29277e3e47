/**
 * Offline content in recipes and plans: the `zims` variable type (schema, lab YAML errors), the
 * content partition a content layer adds (last, ext4, mounted nofail), the content step, and
 * the progress text the CLI shows for downloads.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineLayer } from '../../builder/recipe/define.ts';
import { CONTENT_PARTITION, resolvePlan } from '../../builder/recipe/plan.ts';
import { loadRecipe } from '../../builder/recipe/load.ts';
import { fstab, mountUnitName } from '../../builder/bootloaders/index.ts';
import { preinstallFiles } from '../../builder/steps/bootstrap.ts';
import { RecipeError } from '../../builder/errors.ts';
import { contentSizeMiB } from '../../builder/steps/content.ts';
import { DownloadProgress } from '../../builder/progress.ts';
import { image, LAYERS, OPTIONS, projectRegistry, testRegistry } from './helpers/registries.ts';
import { ROOT } from './helpers/paths.ts';

const SHA = 'a'.repeat(64);
const library = defineLayer({
  name: 'library',
  description: 'test content layer',
  requires: ['base'],
  vars: {
    zims: { type: 'zims', default: [], description: 'ZIM files' },
    catalog: { type: 'string', default: 'http://127.0.0.1:9/catalog/v2', description: 'catalog' },
  },
  content: { zimsVar: 'zims', catalogVar: 'catalog', dir: 'kiwix' },
});
const registry = () => testRegistry({ layers: [...LAYERS, library] });

describe('a content layer in a plan', () => {
  it('adds the content partition last, ext4, with its own derived UUID, and the content step after packages', () => {
    for (const board of ['tb', 'tb-gpt']) {
      const plan = resolvePlan(image({ board, layers: ['base', 'hotspot', 'portal', 'library'], vars: { library: { zims: ['wikipedia_fr_all_mini', { url: 'http://x/y.zim', sha256: SHA }] } } }), 'x.ts', registry(), OPTIONS);
      const last = plan.partitions.at(-1)!;
      expect(last).toMatchObject({ label: CONTENT_PARTITION.label, mountpoint: CONTENT_PARTITION.mountpoint, fs: 'ext4', content: true, type: board === 'tb' ? '83' : 'L' });
      expect(new Set(plan.partitions.map((p) => p.fsId)).size).toBe(plan.partitions.length);
      expect(plan.content?.sets).toEqual([{ layer: 'library', dir: 'kiwix', catalog: 'http://127.0.0.1:9/catalog/v2', requests: ['wikipedia_fr_all_mini', { url: 'http://x/y.zim', sha256: SHA }] }]);
      expect(plan.content?.resolved).toBeNull();
      const steps = plan.steps.map((s) => s.name);
      expect(steps.indexOf('content')).toBe(steps.indexOf('packages') + 1);
      expect(plan.steps.find((s) => s.name === 'content')?.description).toMatch(/^2 ZIM files: /);
    }
  });

  it('has no content partition and no content step without a content layer', () => {
    const plan = resolvePlan(image(), 'x.ts', registry(), OPTIONS);
    expect(plan.content).toBeNull();
    expect(plan.partitions.some((p) => p.content)).toBe(false);
    expect(plan.steps.map((s) => s.name)).not.toContain('content');
  });

  it('fstab mounts the content partition so that the kit boots without it', () => {
    const plan = resolvePlan(image({ layers: ['base', 'hotspot', 'portal', 'library'] }), 'x.ts', registry(), OPTIONS);
    const line = fstab(plan).split('\n').find((l) => l.startsWith(`LABEL=${CONTENT_PARTITION.label}\t`))!;
    const [, mountpoint, fs, opts, , pass] = line.split('\t');
    expect([mountpoint, fs, pass]).toEqual([CONTENT_PARTITION.mountpoint, 'ext4', '2']);
    expect(opts.split(',')).toEqual(expect.arrayContaining(['nofail', 'x-systemd.before=local-fs.target']));
    // systemd's own device timeout: a short one expired on slow first boots
    expect(opts).not.toMatch(/device-timeout/);
  });

  it('mounts the content partition whenever it appears, and the library starts with it', () => {
    const plan = resolvePlan(image({ layers: ['base', 'hotspot', 'portal', 'library'] }), 'x.ts', registry(), OPTIONS);
    const unit = execFileSync('systemd-escape', ['--path', '--suffix=mount', CONTENT_PARTITION.mountpoint], { encoding: 'utf8' }).trim();
    expect(mountUnitName(CONTENT_PARTITION.mountpoint)).toBe(unit);
    for (const path of ['/', '/boot/firmware', '/srv/.hidden dir/é']) {
      expect(mountUnitName(path)).toBe(execFileSync('systemd-escape', ['--path', '--suffix=mount', path], { encoding: 'utf8' }).trim());
    }
    expect(preinstallFiles(plan)['etc/udev/rules.d/80-clic-content.rules']).toEqual({
      content: expect.stringContaining(`ACTION=="add", SUBSYSTEM=="block", ENV{ID_FS_LABEL}=="${CONTENT_PARTITION.label}", ENV{SYSTEMD_WANTS}+="${unit}"\n`),
    });
    const kiwix = readFileSync(join(ROOT, 'overlays/kiwix/etc/systemd/system/clic-kiwix.service'), 'utf8');
    expect(kiwix).toMatch(new RegExp(`^WantedBy=multi-user\\.target ${unit.replace(/\\/g, '\\\\').replace(/\./g, '\\.')}$`, 'm'));
    expect(preinstallFiles(resolvePlan(image(), 'x.ts', registry(), OPTIONS))['etc/udev/rules.d/80-clic-content.rules']).toBeUndefined();
  });

  it('rejects a content layer whose variables are not declared with the right types', () => {
    const broken = defineLayer({ ...library, vars: { zims: { type: 'list', default: [], description: 'x' } } });
    expect(() => resolvePlan(image({ layers: ['base', 'library'] }), 'x.ts', testRegistry({ layers: [...LAYERS, broken] }), OPTIONS)).toThrow(
      /layer "library" declares content with variable "zims", which it must declare with type zims[\s\S]*variable "catalog", which it must declare with type string/,
    );
  });

  it('sizes the content partition to the content plus 3 % and 32 MiB, 4 MiB aligned', () => {
    expect(contentSizeMiB(0)).toBe(32);
    expect(contentSizeMiB(100 * 2 ** 20)).toBe(136);
    expect(contentSizeMiB(4 * 2 ** 30) % 4).toBe(0);
    expect(contentSizeMiB(4 * 2 ** 30)).toBeGreaterThan(4 * 1024 * 1.03);
  });
});

describe('ZIM files in a lab YAML', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clic-content-lab-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const lab = async (name: string, zims: string) => {
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, `extends: clic-pc-x86_64\nvars:\n  kiwix:\n    zims:\n${zims}`);
    return file;
  };

  it('accepts catalog names and URLs with their sha256', async () => {
    const file = await lab('good', `      - wikipedia_fr_all_mini\n      - wiktionary_fr_all_maxi_2024-05\n      - url: https://example.org/guide.zim\n        sha256: ${SHA}\n        size: 1234\n`);
    const { image: img } = await loadRecipe(file, await projectRegistry());
    expect(img.vars?.kiwix?.zims).toEqual(['wikipedia_fr_all_mini', 'wiktionary_fr_all_maxi_2024-05', { url: 'https://example.org/guide.zim', sha256: SHA, size: 1234 }]);
  });

  it('names the file, the item and what is expected for a bad entry', async () => {
    const file = await lab('bad', `      - url: https://example.org/guide.zim\n        sha256: 1234\n`);
    const err = await loadRecipe(file, await projectRegistry()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecipeError);
    const problems = (err as RecipeError).problems;
    expect(problems).toEqual([{ path: '/vars/kiwix/zims/0/sha256', line: 6, message: 'expected string, got number 1234' }]);
  });
});

describe('download progress text', () => {
  it('shows a bar per file in flight and the total, and a line per finished file', () => {
    let now = 0;
    const p = new DownloadProgress(() => now);
    expect(p.update({ type: 'download:start', step: 'content', name: 'a.zim', url: 'http://x/a.zim', size: 1000, resumeFrom: 0 })).toBeNull();
    now = 2000;
    p.update({ type: 'download:progress', step: 'content', name: 'a.zim', bytes: 500, size: 1000, totalBytes: 500, totalSize: 3000 });
    const lines = p.lines(100);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^ {2}a\.zim\s+\[#{10}-{10}\]  50%/);
    expect(lines[1]).toMatch(/^ {2}total \[#{3}-{17}\] .*0 files done$/);
    expect(p.update({ type: 'download:retry', step: 'content', name: 'a.zim', url: 'http://x/a.zim', attempt: 1, error: 'connection reset', delayMs: 1000 })).toMatch(/a\.zim: connection reset — retry 1 in 1\.0 s/);
    expect(p.update({ type: 'download:end', step: 'content', name: 'a.zim', sha256: SHA, bytes: 1000, ms: 2000, cached: false })).toMatch(/a\.zim: 1000 B in 2\.0 s .*sha256 verified/);
    expect(p.update({ type: 'download:end', step: 'content', name: 'b.zim', sha256: SHA, bytes: 2000, ms: 0, cached: true })).toMatch(/b\.zim: already downloaded/);
    expect(p.lines(100)).toEqual([expect.stringMatching(/2 files done \(1 from the cache\)$/)]);
  });
});
