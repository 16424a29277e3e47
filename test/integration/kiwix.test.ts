/**
 * Offline content, end to end on the build side: a lab YAML asks for two real ZIM files (one by
 * catalog name from a local kiwix OPDS catalog, one by URL + sha256); the build resolves,
 * downloads and verifies them, and puts them on the content partition (CLICDATA, last on the
 * disk) with a kiwix library.xml. Checked in the image file itself (sfdisk, debugfs), and a
 * second build with the same content downloads nothing and reuses the content partition.
 * The image stays in the artifacts folder for the boot tier (test/boot/kiwix.test.ts).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI, imagesDir, TEST_CACHE, type BuildRun } from '../support/images.ts';
import { buildKiwixLab, KIWIX_LAB, saveKiwixContent, type KiwixLab } from '../support/kiwix-image.ts';
import { openDisk } from '../support/inspect.ts';
import { CONTENT_PARTITION } from '../../builder/recipe/plan.ts';

let work: string;
let artifacts: string;
let lab: KiwixLab;
let second: BuildRun;
let image: string;

const ofType = (run: BuildRun, type: string) => run.events.filter((e) => e.type === type);
const stepMs = (run: BuildRun, step: string) => ofType(run, 'step:end').find((e) => e.step === step)?.ms as number | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'clic-kiwix-it-'));
  artifacts = await imagesDir();
  lab = await buildKiwixLab(work, artifacts, join(artifacts, `${KIWIX_LAB}.build.log`));
  expect(lab.run.code, lab.run.stderr.slice(-3000)).toBe(0);
  image = join(artifacts, `${KIWIX_LAB}.img`);
  await saveKiwixContent(artifacts, lab.content);
  second = await lab.rebuild(join(work, 'second'), join(artifacts, `${KIWIX_LAB}.second-build.log`));
  expect(second.code, second.stderr.slice(-3000)).toBe(0);
});

afterAll(async () => {
  await lab?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('kiwix lab image: ZIM files resolved, downloaded, verified, on their own partition', () => {
  it('downloaded each file once and verified it', () => {
    const ends = ofType(lab.run, 'download:end');
    expect(ends.map((e) => e.name).sort()).toEqual(lab.content.zims.map((z) => z.file.split('/').pop()).sort());
    expect(ends.every((e) => e.cached === false)).toBe(true);
    expect(ends.map((e) => e.sha256).sort()).toEqual(lab.content.zims.map((z) => z.sha256).sort());
  });

  it('puts the content partition last, after the root, with both ZIM files and a kiwix library', async () => {
    const disk = await openDisk(image);
    expect(disk.table.partitions).toHaveLength(3);
    const data = 2;
    expect(disk.table.partitions[data].name).toBe(CONTENT_PARTITION.label);
    expect(await disk.extHeader(data)).toMatch(new RegExp(`^Filesystem volume name:\\s+${CONTENT_PARTITION.label}$`, 'm'));
    const files = await disk.extList(data, '/kiwix');
    expect(files.sort()).toEqual(['library.xml', ...lab.content.zims.map((z) => z.file.split('/').pop()!)].sort());
    for (const z of lab.content.zims) {
      const name = z.file.split('/').pop()!;
      const bytes = execFileSync('debugfs', ['-R', `cat /kiwix/${name}`, `${image}?offset=${disk.table.partitions[data].start * 512}`], { maxBuffer: 64 * 2 ** 20, stdio: ['ignore', 'pipe', 'ignore'] });
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(z.sha256);
    }
    const library = await disk.extRead(data, '/kiwix/library.xml');
    for (const z of lab.content.zims) expect(library).toContain(`path="${z.file.split('/').pop()}"`);
    expect(library).toMatch(/name="clic_test_fr_mini"/);
  });

  it('mounts the content partition from fstab without making the boot depend on it', async () => {
    const disk = await openDisk(image);
    const fstab = await disk.extRead(1, '/etc/fstab');
    expect(fstab).toMatch(new RegExp(`^LABEL=${CONTENT_PARTITION.label}\\t${CONTENT_PARTITION.mountpoint}\\text4\\t\\S*nofail\\S*\\t0\\t2$`, 'm'));
    expect(await disk.extList(1, '/etc/systemd/system/multi-user.target.wants')).toContain('clic-kiwix.service');
  });

  it('a second build with the same content downloads nothing and reuses the content partition', () => {
    expect(ofType(second, 'download:start')).toEqual([]);
    expect(ofType(second, 'download:progress')).toEqual([]);
    expect(ofType(second, 'output').some((e) => e.step === 'content' && /from the cache/.test(String(e.line)))).toBe(true);
    // the system steps come from the step cache too
    expect(ofType(second, 'step:start').map((e) => e.step)).not.toContain('bootstrap');
    process.stderr.write(`[kiwix] content step: first build ${stepMs(lab.run, 'content')} ms, second build ${stepMs(second, 'content')} ms\n`);
  });

  it('`clic-image plan` lists each ZIM file with its size and sha256, and the total', async () => {
    // not execFileSync: the catalog server runs in this process and must answer meanwhile
    const { stdout: out, stderr } = await promisify(execFile)(process.execPath, [CLI, 'plan', lab.labFile, '--cache-dir', TEST_CACHE], { encoding: 'utf8' });
    expect(stderr).not.toMatch(/cannot be read/);
    const total = lab.content.zims.reduce((n, z) => n + z.size, 0);
    expect(out).toMatch(new RegExp(`^content\\s+2 ZIM files, ${(total / 2 ** 20).toFixed(1)} MiB on ${CONTENT_PARTITION.label}$`, 'm'));
    for (const z of lab.content.zims) {
      expect(out).toMatch(new RegExp(`^\\s+kiwix/${z.file.split('/').pop()!.replace(/\./g, '\\.')}\\s+${(z.size / 2 ** 20).toFixed(1)} MiB\\s+sha256 ${z.sha256.slice(0, 16)}`, 'm'));
    }
  });
});
