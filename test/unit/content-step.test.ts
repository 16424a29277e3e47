/**
 * The content step on its own (no root needed): real ZIM files from a local kiwix catalog are
 * resolved, downloaded and written to an ext4 partition file with mkfs.ext4 + debugfs, which is
 * then read back with debugfs. Same content → same partition bytes, from the cache, with no
 * download; a wrong checksum stops the step and leaves nothing under a final name.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineLayer } from '../../builder/recipe/define.ts';
import { resolvePlan, type Plan } from '../../builder/recipe/plan.ts';
import { resolveContent } from '../../builder/content/resolve.ts';
import { contentPartitionCache, contentStep, downloadCacheDir } from '../../builder/steps/content.ts';
import { partitionFile } from '../../builder/steps/filesystems.ts';
import { runSteps } from '../../builder/pipeline.ts';
import { BuildEvents, type BuildEvent } from '../../builder/events.ts';
import { makeZim, type MadeZim } from '../support/zim.ts';
import { startKiwixCatalog, type KiwixCatalog } from '../support/kiwix-catalog.ts';
import { image, LAYERS, OPTIONS, testRegistry } from './helpers/registries.ts';

const library = defineLayer({
  name: 'library',
  description: 'test content layer',
  vars: {
    zims: { type: 'zims', default: [], description: 'ZIM files' },
    catalog: { type: 'string', default: 'http://127.0.0.1:9/catalog/v2', description: 'catalog' },
  },
  content: { zimsVar: 'zims', catalogVar: 'catalog', dir: 'kiwix' },
});

let dir: string;
let cacheDir: string;
let catalog: KiwixCatalog;
let zims: MadeZim[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clic-content-step-'));
  cacheDir = join(dir, 'cache');
  zims = [
    await makeZim(join(dir, 'zims'), { name: 'step_test_fr', articles: { 'Lyon.html': '<p>Lyon est sur le Rhône.</p>' }, padBytes: 400_000 }),
    await makeZim(join(dir, 'zims'), { name: 'step_test_en', language: 'eng', articles: { 'Tea.html': '<p>Tea is a drink.</p>' } }),
  ];
  catalog = await startKiwixCatalog({ dir: join(dir, 'catalog'), zims });
});

afterAll(async () => {
  await catalog?.close();
  await rm(dir, { recursive: true, force: true });
});

async function planWith(zimsVar: unknown[]): Promise<Plan> {
  const img = image({ layers: ['base', 'library'], vars: { library: { zims: zimsVar as string[], catalog: catalog.url } } });
  return resolveContent(resolvePlan(img, 'x.ts', testRegistry({ layers: [...LAYERS, library] }), OPTIONS), { cacheDir });
}

async function runContent(plan: Plan, name: string) {
  const workDir = join(dir, name);
  await mkdir(workDir, { recursive: true });
  const events = new BuildEvents();
  const seen: BuildEvent[] = [];
  events.on((e) => seen.push(e));
  const error = await runSteps([contentStep(cacheDir)], { plan, workDir, rootfs: join(workDir, 'rootfs'), signal: new AbortController().signal, events, cache: null }).then(
    () => null,
    (e: Error) => e,
  );
  return { workDir, events: seen, error };
}

const debugfs = (file: string, request: string) => execFileSync('debugfs', ['-R', request, file], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 2 ** 20 });
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const fileName = (z: MadeZim) => z.file.split('/').pop()!;

describe('content step', () => {
  let plan: Plan;
  let first: Awaited<ReturnType<typeof runContent>>;
  let partition: string;

  beforeAll(async () => {
    plan = await planWith([zims[0].name, { url: catalog.zimUrl(zims[1].name), sha256: zims[1].sha256 }]);
    first = await runContent(plan, 'first');
    partition = contentPartitionCache(cacheDir, plan);
  });

  it('downloads each file, verified, and makes the partition file in the cache, linked for the disk step', async () => {
    expect(first.error).toBeNull();
    const ends = first.events.filter((e) => e.type === 'download:end');
    expect(ends.map((e) => (e as { sha256: string }).sha256).sort()).toEqual(zims.map((z) => z.sha256).sort());
    expect(await readlink(partitionFile({ workDir: first.workDir } as never, plan.content!.partition))).toBe(partition);
    execFileSync('e2fsck', ['-f', '-n', partition], { stdio: 'ignore' });
  });

  it('holds the ZIM files byte for byte and a library.xml that kiwix-serve can read', async () => {
    const listing = debugfs(partition, 'ls -p /kiwix').toString().split('\n').map((l) => l.split('/')[5]).filter((n) => n && n !== '.' && n !== '..');
    expect(listing.sort()).toEqual(['library.xml', ...zims.map(fileName)].sort());
    for (const z of zims) expect(sha256(debugfs(partition, `cat /kiwix/${fileName(z)}`))).toBe(z.sha256);
    const xml = debugfs(partition, 'cat /kiwix/library.xml').toString();
    for (const z of zims) expect(xml).toContain(`path="${fileName(z)}"`);
    expect(debugfs(partition, 'stat /kiwix/library.xml').toString()).toMatch(/User:\s+0\s+Group:\s+0/);
  });

  it('a second build with the same content downloads nothing and takes the partition from the cache', async () => {
    const again = await runContent(plan, 'second');
    expect(again.error).toBeNull();
    expect(again.events.filter((e) => e.type.startsWith('download:'))).toEqual([]);
    expect(again.events.some((e) => e.type === 'output' && /from the cache/.test(e.line))).toBe(true);
  });

  it('makes the same partition bytes again from the same files (downloads from the cache)', async () => {
    const before = sha256(await readFile(partition));
    await rm(partition);
    const again = await runContent(plan, 'third');
    expect(again.error).toBeNull();
    expect(again.events.filter((e) => e.type === 'download:end').every((e) => (e as { cached: boolean }).cached)).toBe(true);
    expect(sha256(await readFile(partition))).toBe(before);
  });

  it('an empty selection still makes a small partition with an empty library', async () => {
    const empty = await planWith([]);
    const run = await runContent(empty, 'empty');
    expect(run.error).toBeNull();
    const file = contentPartitionCache(cacheDir, empty);
    expect((await stat(file)).size).toBe(32 * 2 ** 20);
    expect(debugfs(file, 'cat /kiwix/library.xml').toString()).toMatch(/^<library version="\d+">\s*<\/library>\s*$/);
  });

  it('a wrong checksum stops the step with expected and got, and nothing is left under a final name', async () => {
    const wrong = 'b'.repeat(64);
    const bad = await planWith([{ url: catalog.zimUrl(zims[1].name), sha256: wrong }]);
    const run = await runContent(bad, 'bad');
    expect(run.error?.message).toMatch(/step "content" failed \(run\): .*checksum/);
    expect(run.error?.message).toContain(wrong.slice(0, 12));
    expect(run.error?.message).toContain(zims[1].sha256.slice(0, 12));
    await expect(stat(contentPartitionCache(cacheDir, bad))).rejects.toThrow();
    await expect(stat(join(downloadCacheDir(cacheDir), 'sha256', wrong))).rejects.toThrow();
  });
});
