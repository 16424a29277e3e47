/**
 * Raw regions (bootloader bytes outside the partitions), no root needed: stand-in bootloader
 * blobs (random bytes) served on the loopback, fetched by the bootloader-blobs step, written by
 * the disk step into a disk made of small partition files; then the image is read back byte by
 * byte against the same disk assembled without regions, and `sfdisk --json` reads the same table.
 * Also every refusal: at plan time (field values, the table, the first partition, regions that
 * overlap by their declared sizes) and at disk time (a region that runs into a partition or into
 * another region once the file's size is known, a file shorter than skip + count), and a
 * sha256 mismatch, told by the downloader with the URL.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobSource, BoardDef, RawRegion } from '../../builder/recipe/define.ts';
import { resolvePlan, type Plan } from '../../builder/recipe/plan.ts';
import { RecipeError } from '../../builder/errors.ts';
import { runSteps } from '../../builder/pipeline.ts';
import { BuildEvents, type BuildEvent } from '../../builder/events.ts';
import type { Step } from '../../builder/step.ts';
import { stepsFor } from '../../builder/build.ts';
import { bootloaderBlobsStep, blobRequests } from '../../builder/steps/bootloader-blobs.ts';
import { diskLayout, diskStep, partialImagePath, placeRawRegions } from '../../builder/steps/disk.ts';
import { partitionFile } from '../../builder/steps/filesystems.ts';
import { downloadCacheDir } from '../../builder/steps/content.ts';
import { buildManifest } from '../../builder/release/manifest.ts';
import { serveDir, type StaticServer } from '../support/static-server.ts';
import { board, image, OPTIONS, plannableRegistry, testRegistry } from './helpers/registries.ts';

const KIB = 1024;
const MIB = 1024 * KIB;
const SECTOR = 512;

let dir: string;
let cacheDir: string;
let server: StaticServer;
/** Stand-in blobs, by file name: served at `${server.url}/<name>`. */
const blobs = new Map<string, Buffer>();
/** Partition file contents, by label (small: each becomes a 4 MiB partition). */
const parts = new Map<string, Buffer>([
  ['TBBOOT', randomBytes(MIB + 123)],
  ['TBROOT', randomBytes(2 * MIB + 5 * KIB)],
]);

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const source = (name: string, licence?: string): BlobSource => ({ url: `${server.url}/${name}`, sha256: sha256(blobs.get(name)!), ...(licence ? { licence } : {}) });

/** Amlogic (C4/N2/HC4): bytes 0–439 of u-boot at 0, then the file from byte 512 at byte 512. */
const amlogicRegions = (): RawRegion[] => [
  { name: 'u-boot-head', source: source('u-boot.bin', 'GPL-2.0+'), offset: 0, count: 440 },
  { name: 'u-boot', source: source('u-boot.bin', 'GPL-2.0+'), offset: SECTOR, skip: SECTOR },
];
/** Samsung Exynos (XU4, SD card): four files at sectors 1, 31, 63 and 1503. */
const xu4Regions = (uboot = 'u-boot-xu4.bin'): RawRegion[] => [
  { name: 'bl1', source: source('bl1.bin'), offset: 1 * SECTOR },
  { name: 'bl2', source: source('bl2.bin'), offset: 31 * SECTOR },
  { name: 'u-boot', source: source(uboot), offset: 63 * SECTOR },
  { name: 'tzsw', source: source('tzsw.bin'), offset: 1503 * SECTOR },
];

function planFor(b: BoardDef): Plan {
  const boards = [b, board()];
  return resolvePlan(image({ board: b.name }), 'x.ts', testRegistry({ boards }), { ...OPTIONS, outDir: join(dir, 'out', b.name) });
}

let runs = 0;
/** Runs the given steps in a fresh scratch folder holding the partition files; the disk step's
 *  image is copied out before its cleanup removes it. */
async function build(plan: Plan, steps: Step[]) {
  const workDir = join(dir, `work-${++runs}`);
  await mkdir(join(workDir, 'parts'), { recursive: true });
  await mkdir(plan.output.dir, { recursive: true });
  for (const p of plan.partitions) await writeFile(partitionFile({ workDir } as never, p), parts.get(p.label)!);
  const kept = join(dir, `disk-${runs}.img`);
  const keep: Step = { name: 'keep', run: async (ctx) => copyFile(partialImagePath(ctx.plan), kept) };
  const events = new BuildEvents();
  const seen: BuildEvent[] = [];
  events.on((e) => seen.push(e));
  const error = await runSteps([...steps, keep], { plan, workDir, rootfs: join(workDir, 'rootfs'), signal: new AbortController().signal, events, cache: null }).then(
    () => null,
    (e: Error) => e,
  );
  return { events: seen, error, image: error ? null : await readFile(kept), partialLeft: await stat(partialImagePath(plan)).then(() => true, () => false) };
}
const withRegions = (plan: Plan) => build(plan, [bootloaderBlobsStep(cacheDir), diskStep]);
/** The same disk, with no raw region: what the shipped boards get. */
const withoutRegions = (plan: Plan) => build({ ...plan, rawRegions: [], board: { ...plan.board, rawRegions: undefined } }, [diskStep]);

const sfdiskJson = async (img: Buffer) => {
  const file = join(dir, `sfdisk-${++runs}.img`);
  await writeFile(file, img);
  // the device and partition nodes are named after the file
  return JSON.parse(execFileSync('sfdisk', ['--json', file], { encoding: 'utf8' }).split(file).join('<img>')) as unknown;
};
/** `a` equals `b`, without printing megabytes when it does not: the first differing byte. */
function sameBytes(a: Uint8Array, b: Uint8Array) {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  expect({ length: a.length, firstDifference: i < n ? i : null }).toEqual({ length: b.length, firstDifference: null });
}
/** The reference image with each region's bytes put where they should go. */
function expected(reference: Buffer, plan: Plan): Buffer {
  const want = Buffer.from(reference);
  for (const r of plan.rawRegions) {
    const blob = [...blobs.values()].find((b) => sha256(b) === r.source.sha256)!;
    blob.copy(want, r.offset, r.skip, r.count === null ? blob.length : r.skip + r.count);
  }
  return want;
}
const serverGets = (name: string) => server.requests.filter((r) => r.method === 'GET' && r.path === `/${name}`).length;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clic-raw-regions-'));
  cacheDir = join(dir, 'cache');
  const www = join(dir, 'www');
  await mkdir(www);
  for (const [name, size] of [
    ['u-boot.bin', MIB], ['bl1.bin', 15 * KIB], ['bl2.bin', 14 * KIB], ['u-boot-xu4.bin', 700 * KIB], ['tzsw.bin', 256 * KIB],
    ['u-boot-big.bin', MIB], ['u-boot-long.bin', 2 * MIB],
  ] as const) {
    blobs.set(name, randomBytes(size));
    await writeFile(join(www, name), blobs.get(name)!);
  }
  server = await serveDir(www);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('Amlogic layout (u-boot around the MBR)', () => {
  let plan: Plan;
  let reference: Buffer;
  let built: Awaited<ReturnType<typeof build>>;

  beforeAll(async () => {
    plan = planFor(board({ name: 'tb-amlogic', rawRegions: amlogicRegions() }));
    reference = (await withoutRegions(plan)).image!;
    built = await withRegions(plan);
  });

  it('plans one bootloader-blobs step before the long steps, and the regions with their defaults', () => {
    expect(plan.rawRegions).toEqual([
      { name: 'u-boot-head', source: source('u-boot.bin', 'GPL-2.0+'), offset: 0, skip: 0, count: 440 },
      { name: 'u-boot', source: source('u-boot.bin', 'GPL-2.0+'), offset: 512, skip: 512, count: null },
    ]);
    const names = plan.steps.map((s) => s.name);
    expect(names.indexOf('bootloader-blobs')).toBe(names.indexOf('packages') + 1);
    expect(names.indexOf('bootloader-blobs')).toBeLessThan(names.indexOf('bootstrap'));
    expect(plan.steps.find((s) => s.name === 'bootloader-blobs')!.description).toBe('1 bootloader file for u-boot-head, u-boot: download and verify by sha256 (cached)');
    expect(plan.steps.find((s) => s.name === 'disk')!.description).toContain('2 raw regions (u-boot-head, u-boot)');
    expect(stepsFor(plan, cacheDir).map((s) => s.name)).toEqual(names);
    const plain = planFor(board());
    expect(plain.rawRegions).toEqual([]);
    expect(plain.steps.map((s) => s.name)).not.toContain('bootloader-blobs');
    expect(stepsFor(plain, cacheDir).map((s) => s.name)).toEqual(plain.steps.map((s) => s.name));
  });

  it('downloads the file once for both regions, with download events', () => {
    expect(built.error).toBeNull();
    const ends = built.events.filter((e) => e.type === 'download:end');
    expect(ends).toMatchObject([{ step: 'bootloader-blobs', name: 'u-boot.bin', sha256: sha256(blobs.get('u-boot.bin')!), bytes: MIB, cached: false }]);
    expect(built.events.some((e) => e.type === 'download:start' && e.step === 'bootloader-blobs')).toBe(true);
    expect(serverGets('u-boot.bin')).toBe(1);
  });

  it('puts bytes 0–439 of the file at 0 and the file from byte 512 at byte 512', () => {
    const img = built.image!;
    const blob = blobs.get('u-boot.bin')!;
    sameBytes(img.subarray(0, 440), blob.subarray(0, 440));
    sameBytes(img.subarray(512, MIB), blob.subarray(512));
  });

  it('keeps bytes 440–511 as sfdisk wrote them: disk signature, partition table, 0x55AA', async () => {
    const img = built.image!;
    sameBytes(img.subarray(440, 512), reference.subarray(440, 512));
    expect(img.readUInt32LE(440)).toBe(parseInt(plan.diskId, 16));
    expect([img[510], img[511]]).toEqual([0x55, 0xaa]);
    expect(await sfdiskJson(img)).toEqual(await sfdiskJson(reference));
  });

  it('changes nothing else: partitions byte for byte, the rest as without regions', () => {
    const img = built.image!;
    const { entries } = diskLayout(plan, plan.partitions.map((p) => parts.get(p.label)!.length / MIB));
    for (const e of entries) {
      const content = parts.get(e.label)!;
      sameBytes(img.subarray(e.startMiB * MIB, e.startMiB * MIB + content.length), content);
    }
    sameBytes(img, expected(reference, plan));
  });

  it('a second build takes the file from the cache, with no request', async () => {
    const before = server.requests.length;
    const again = await withRegions(plan);
    expect(again.error).toBeNull();
    expect(server.requests.length).toBe(before);
    expect(again.events.filter((e) => e.type === 'download:end')).toMatchObject([{ cached: true }]);
    expect(again.events.some((e) => e.type === 'output' && e.line.includes('from the cache'))).toBe(true);
    sameBytes(again.image!, built.image!);
  });

  it('the manifest names where each region came from', async () => {
    const m = await buildManifest(plan, { packages: [], sourceDateEpoch: 1, partitions: [], outputs: [] });
    expect(m.downloads).toEqual([
      { what: 'bootloader/u-boot-head', url: `${server.url}/u-boot.bin`, sha256: sha256(blobs.get('u-boot.bin')!), licence: 'GPL-2.0+', size: null },
      { what: 'bootloader/u-boot', url: `${server.url}/u-boot.bin`, sha256: sha256(blobs.get('u-boot.bin')!), licence: 'GPL-2.0+', size: null },
    ]);
  });
});

describe('Exynos XU4 layout (four files at sectors 1, 31, 63, 1503)', () => {
  it('writes each file at its sector, leaves sector 0 and the partitions as sfdisk and the partition files made them', async () => {
    const plan = planFor(board({ name: 'tb-xu4', arch: 'armhf', rawRegions: xu4Regions() }));
    expect(blobRequests(plan.rawRegions).map((r) => r.name)).toEqual(['bl1.bin', 'bl2.bin', 'u-boot-xu4.bin', 'tzsw.bin']);
    const reference = (await withoutRegions(plan)).image!;
    const built = await withRegions(plan);
    expect(built.error).toBeNull();
    expect(built.events.filter((e) => e.type === 'download:end')).toHaveLength(4);
    const img = built.image!;
    for (const [sector, name] of [[1, 'bl1.bin'], [31, 'bl2.bin'], [63, 'u-boot-xu4.bin'], [1503, 'tzsw.bin']] as const) {
      sameBytes(img.subarray(sector * SECTOR, sector * SECTOR + blobs.get(name)!.length), blobs.get(name)!);
    }
    sameBytes(img.subarray(0, SECTOR), reference.subarray(0, SECTOR));
    expect(await sfdiskJson(img)).toEqual(await sfdiskJson(reference));
    sameBytes(img, expected(reference, plan));
  });
});

describe('a bootloader file inside a Debian package (source.member)', () => {
  /** A real .deb (dpkg-deb --build) holding the u-boot at the path a u-boot package uses. */
  const MEMBER = 'usr/lib/u-boot/tb-board/u-boot.bin';
  let deb: Buffer;
  let uboot: Buffer;
  const debSource = (member = MEMBER): BlobSource => ({ url: `${server.url}/u-boot-tb_1.0_arm64.deb`, sha256: sha256(deb), member, licence: 'GPL-2.0+' });

  beforeAll(async () => {
    uboot = randomBytes(MIB - 3 * KIB);
    const pkg = join(dir, 'deb-root');
    await mkdir(join(pkg, 'DEBIAN'), { recursive: true });
    await mkdir(join(pkg, 'usr/lib/u-boot/tb-board'), { recursive: true });
    await writeFile(join(pkg, MEMBER), uboot);
    await writeFile(join(pkg, 'DEBIAN/control'), 'Package: u-boot-tb\nVersion: 1.0\nArchitecture: arm64\nMaintainer: tests <tests@localhost>\nDescription: stand-in u-boot package\n');
    execFileSync('dpkg-deb', ['--root-owner-group', '--build', pkg, join(dir, 'www', 'u-boot-tb_1.0_arm64.deb')], { stdio: 'ignore' });
    deb = await readFile(join(dir, 'www', 'u-boot-tb_1.0_arm64.deb'));
  });

  it('downloads the package, checks its sha256, and writes the file it holds', async () => {
    const plan = planFor(board({ name: 'tb-deb', rawRegions: [
      { name: 'u-boot-head', source: debSource(), offset: 0, count: 440 },
      { name: 'u-boot', source: debSource(), offset: SECTOR, skip: SECTOR },
    ] }));
    const built = await withRegions(plan);
    expect(built.error).toBeNull();
    expect(built.events.filter((e) => e.type === 'download:end')).toMatchObject([{ name: 'u-boot-tb_1.0_arm64.deb', sha256: sha256(deb) }]);
    const img = built.image!;
    sameBytes(img.subarray(0, 440), uboot.subarray(0, 440));
    sameBytes(img.subarray(SECTOR, uboot.length), uboot.subarray(SECTOR));
    expect([img[510], img[511]]).toEqual([0x55, 0xaa]);
    const manifest = await buildManifest(plan, { packages: [], sourceDateEpoch: 1, partitions: [], outputs: [] });
    expect(manifest.downloads.filter((d) => d.what.startsWith('bootloader/'))).toMatchObject([
      { what: 'bootloader/u-boot-head', url: debSource().url, sha256: sha256(deb), member: MEMBER },
      { what: 'bootloader/u-boot', url: debSource().url, sha256: sha256(deb), member: MEMBER },
    ]);
  });

  it('says which package lacks the file, and leaves no image', async () => {
    const plan = planFor(board({ name: 'tb-deb-missing', rawRegions: [{ name: 'u-boot', source: debSource('usr/lib/u-boot/other/u-boot.bin'), offset: SECTOR }] }));
    const built = await withRegions(plan);
    expect(built.error?.message).toMatch(/region "u-boot": cannot take usr\/lib\/u-boot\/other\/u-boot.bin out of http:\/\/127\.0\.0\.1:\d+\/u-boot-tb_1\.0_arm64\.deb/);
    expect(built.partialLeft).toBe(false);
  });

  it('refuses a member path that is absolute or climbs out', () => {
    for (const member of ['/usr/lib/u-boot.bin', 'usr/../etc/passwd', '']) {
      expect(() => planFor(board({ name: 'tb-deb-bad', rawRegions: [{ name: 'u-boot', source: debSource(member), offset: SECTOR }] }))).toThrow(/member ".*" — expected the file's path inside the package/);
    }
  });
});

describe('refusals once the files are known (disk step)', () => {
  it('a region that runs into the first partition, naming board, region and partition with byte ranges', async () => {
    const plan = planFor(board({ name: 'tb-long', rawRegions: [{ name: 'too-long', source: source('u-boot-long.bin'), offset: 3 * MIB }] }));
    const run = await withRegions(plan);
    expect(run.error?.message).toContain('step "disk" failed (run)');
    expect(run.error?.message).toContain('board "tb-long", region "too-long" (bytes 3145728–5242879) overlaps partition TBBOOT (bytes 4194304–8388607)');
    expect(run.partialLeft).toBe(false);
  });

  it('a region that runs into the next one', async () => {
    const plan = planFor(board({ name: 'tb-xu4', rawRegions: xu4Regions('u-boot-big.bin') }));
    const run = await withRegions(plan);
    expect(run.error?.message).toContain(`board "tb-xu4", region "tzsw" (bytes ${1503 * SECTOR}–${1503 * SECTOR + 256 * KIB - 1}) overlaps region "u-boot" (bytes ${63 * SECTOR}–${63 * SECTOR + MIB - 1})`);
    expect(run.partialLeft).toBe(false);
  });

  it('a file shorter than skip + count', async () => {
    const plan = planFor(board({ name: 'tb-short', rawRegions: [{ name: 'u-boot', source: source('u-boot.bin'), offset: SECTOR, skip: SECTOR, count: 2 * MIB }] }));
    const run = await withRegions(plan);
    expect(run.error?.message).toContain(`board "tb-short", region "u-boot": its file ${server.url}/u-boot.bin`);
    expect(run.error?.message).toContain(`has ${MIB} bytes, fewer than skip 512 + count ${2 * MIB} = ${2 * MIB + 512} bytes`);
  });

  it('a sha256 mismatch: the downloader names the URL, nothing is kept, the disk is not made', async () => {
    const wrong = 'c'.repeat(64);
    const plan = planFor(board({ name: 'tb-bad', rawRegions: [{ name: 'u-boot', source: { url: `${server.url}/tzsw.bin`, sha256: wrong }, offset: SECTOR }] }));
    const run = await withRegions(plan);
    expect(run.error?.message).toMatch(/^step "bootloader-blobs" failed \(run\): /);
    expect(run.error?.message).toContain(`checksum mismatch from ${server.url}/tzsw.bin: expected ${wrong}, got ${sha256(blobs.get('tzsw.bin')!)}`);
    expect(run.events.some((e) => e.type === 'cmd' && e.step === 'disk')).toBe(false);
    await expect(stat(join(downloadCacheDir(cacheDir), 'sha256', wrong))).rejects.toThrow();
  });

  it('placeRawRegions: over the MBR table, over the GPT header or its backup, past the end of the disk', () => {
    const dos = planFor(board({ name: 'tb-amlogic', rawRegions: amlogicRegions() }));
    const layout = diskLayout(dos, [1, 2]);
    // a plan that slipped past resolvePlan's checks
    const over = { ...dos, rawRegions: [{ ...dos.rawRegions[0], count: 446 }] };
    expect(() => placeRawRegions(over, layout, [MIB])).toThrow('board "tb-amlogic", region "u-boot-head" (bytes 0–445) overlaps the MBR disk signature and partition table (bytes 440–511)');
    expect(placeRawRegions(dos, layout, [MIB, MIB])).toEqual([
      { name: 'u-boot-head', sha256: dos.rawRegions[0].source.sha256, offset: 0, skip: 0, count: 440 },
      { name: 'u-boot', sha256: dos.rawRegions[0].source.sha256, offset: 512, skip: 512, count: MIB - 512 },
    ]);
    const gpt = planFor(board({ name: 'tb-gpt-raw', partitionTable: 'gpt', rawRegions: [{ name: 'spl', source: source('bl1.bin'), offset: 34 * SECTOR }] }));
    const gptLayout = diskLayout(gpt, [1, 2]);
    expect(placeRawRegions(gpt, gptLayout, [15 * KIB])).toHaveLength(1);
    const header = { ...gpt, rawRegions: [{ ...gpt.rawRegions[0], offset: 2 * SECTOR }] };
    expect(() => placeRawRegions(header, gptLayout, [15 * KIB])).toThrow('overlaps the protective MBR, GPT header and partition entries (bytes 440–17407)');
    const disk = gptLayout.totalMiB * MIB;
    const tail = { ...gpt, rawRegions: [{ ...gpt.rawRegions[0], offset: disk - 10 * SECTOR }] };
    expect(() => placeRawRegions(tail, gptLayout, [15 * KIB])).toThrow(/overlaps the backup GPT .*ends past the end of the disk/);
  });
});

describe('refusals in the recipe (resolvePlan)', () => {
  function problems(regions: RawRegion[], over: Partial<BoardDef> = {}) {
    try {
      planFor(board({ name: 'tb-raw', rawRegions: regions, ...over }));
    } catch (err) {
      expect(err).toBeInstanceOf(RecipeError);
      return (err as RecipeError).problems.map(({ path, message }) => ({ path, message }));
    }
    return [];
  }
  const src = (): BlobSource => ({ url: 'https://example.org/u-boot.bin', sha256: 'A'.repeat(64) });
  const at = (i: number, field: string) => `/boards/tb-raw/rawRegions/${i}/${field}`;

  it('accepts boot code before byte 440, and regions between the table and 4 MiB', () => {
    expect(problems([{ name: 'head', source: src(), offset: 0, count: 440 }, { name: 'rest', source: src(), offset: 512, skip: 512 }])).toEqual([]);
    expect(problems([{ name: 'head', source: src(), offset: 0, count: 440 }, { name: 'spl', source: src(), offset: 34 * SECTOR, count: 4 * MIB - 34 * SECTOR }], { partitionTable: 'gpt' })).toEqual([]);
  });

  it.each([
    ['offset', { offset: -1 }, 'offset -1 — expected a non-negative integer (bytes)'],
    ['offset', { offset: 1.5 }, 'offset 1.5 — expected a non-negative integer (bytes)'],
    ['skip', { skip: -512 }, 'skip -512 — expected a non-negative integer (bytes)'],
    ['count', { count: 0 }, 'count 0 — expected a positive integer (bytes)'],
    ['source/sha256', { source: { url: 'https://example.org/x', sha256: 'abc' } }, 'sha256 "abc" — expected 64 hex digits'],
    ['source/url', { source: { url: 'ftp://example.org/x', sha256: 'a'.repeat(64) } }, 'url "ftp://example.org/x" — expected an http or https URL'],
    ['name', { name: 'u boot' }, 'name "u boot" — expected letters, digits, dots, dashes or underscores'],
  ] as const)('a bad %s', (field, over, why) => {
    const found = problems([{ name: 'u-boot', source: src(), offset: 512, ...over } as RawRegion]);
    expect(found).toHaveLength(1);
    expect(found[0].path).toBe(at(0, field));
    expect(found[0].message).toContain(why);
    expect(found[0].message).toMatch(/^board "tb-raw", region /);
  });

  it('two regions with the same name', () => {
    expect(problems([{ name: 'x', source: src(), offset: 512, count: 10 }, { name: 'x', source: src(), offset: 1024, count: 10 }])).toEqual([
      { path: at(1, 'name'), message: 'board "tb-raw", region "x": region 0 has the same name' },
    ]);
  });

  it('a region over the MBR table, or one of unknown length that starts before it', () => {
    expect(problems([{ name: 'head', source: src(), offset: 0, count: 442 }])).toEqual([
      { path: at(0, 'offset'), message: 'board "tb-raw", region "head": bytes 0–441 would overwrite the MBR disk signature and partition table (bytes 440–511); only bytes 0–439 are free before it' },
    ]);
    expect(problems([{ name: 'head', source: src(), offset: 0 }])).toEqual([
      { path: at(0, 'offset'), message: 'board "tb-raw", region "head": starts at byte 0, before the end of the MBR disk signature and partition table (bytes 440–511), with no count: give a count that ends it by byte 440' },
    ]);
    expect(problems([{ name: 'sig', source: src(), offset: 446, count: 16 }])[0].path).toBe(at(0, 'offset'));
  });

  it('a region over the GPT header and entries (sectors 0–33)', () => {
    const found = problems([{ name: 'spl', source: src(), offset: SECTOR, count: 1000 }], { partitionTable: 'gpt' });
    expect(found).toEqual([
      { path: at(0, 'offset'), message: 'board "tb-raw", region "spl": bytes 512–1511 would overwrite the protective MBR, GPT header and partition entries (bytes 440–17407); only bytes 0–439 are free before it' },
    ]);
  });

  it('a region inside the first partition, or whose known end runs into it', () => {
    expect(problems([{ name: 'late', source: src(), offset: 4 * MIB }])).toEqual([
      { path: at(0, 'offset'), message: `board "tb-raw", region "late": offset ${4 * MIB} is inside the first partition, which starts at byte ${4 * MIB} (4 MiB)` },
    ]);
    expect(problems([{ name: 'long', source: src(), offset: 3 * MIB, count: 2 * MIB }])).toEqual([
      { path: at(0, 'count'), message: `board "tb-raw", region "long": bytes ${3 * MIB}–${5 * MIB - 1} run into the first partition, which starts at byte ${4 * MIB} (4 MiB)` },
    ]);
  });

  it('regions that overlap by their declared sizes, or start at the same byte', () => {
    expect(problems([{ name: 'a', source: src(), offset: 512, count: 1000 }, { name: 'b', source: src(), offset: 1024, count: 10 }])).toEqual([
      { path: at(1, 'offset'), message: 'board "tb-raw", region "b" (bytes 1024–1033) overlaps region "a" (bytes 512–1511)' },
    ]);
    expect(problems([{ name: 'a', source: src(), offset: 512 }, { name: 'b', source: src(), offset: 512, count: 10 }])).toEqual([
      { path: at(1, 'offset'), message: 'board "tb-raw", region "b" (bytes 512–521) overlaps region "a" (from byte 512)' },
    ]);
    // an unknown end is checked when the file is known (disk step)
    expect(problems([{ name: 'a', source: src(), offset: 512 }, { name: 'b', source: src(), offset: 1024, count: 10 }])).toEqual([]);
  });

  it('every problem at once', () => {
    const found = problems([
      { name: 'a', source: { url: 'file:///x', sha256: 'x' }, offset: 0 },
      { name: 'b', source: src(), offset: 5 * MIB, skip: -1 },
    ]);
    expect(found.map((p) => p.path).sort()).toEqual([at(0, 'offset'), at(0, 'source/sha256'), at(0, 'source/url'), at(1, 'skip')]);
  });
});

describe('the Odroid boards as shipped', async () => {
  const registry = await plannableRegistry();
  const planOf = (name: string) => resolvePlan(registry.images.get(name)!, `${name}.ts`, registry, OPTIONS);

  it('odroid-xu4: Hardkernel\'s four files, at their pinned sizes, fit at sectors 1, 31, 63 and 1503 before the first partition', () => {
    const plan = planOf('clic-odroid-xu4');
    const layout = diskLayout(plan, plan.partitions.map(() => 64));
    // sizes of the pinned files (bl1, bl2, u-boot, tzsw), as Hardkernel's sd_fuse folder has them
    const placed = placeRawRegions(plan, layout, [15616, 14592, 616568, 262144]);
    expect(placed.map((p) => [p.name, p.offset / SECTOR])).toEqual([['bl1', 1], ['bl2', 31], ['u-boot', 63], ['tzsw', 1503]]);
    // bl1's file is 30.5 sectors: as with Hardkernel's sd_fusing.sh, bl2 at sector 31 wins
    expect(placed[0].count).toBe(30 * SECTOR);
    for (let i = 1; i < placed.length; i++) expect(placed[i - 1].offset + placed[i - 1].count).toBeLessThanOrEqual(placed[i].offset);
    expect(placed.at(-1)!.offset + placed.at(-1)!.count).toBeLessThanOrEqual(layout.entries[0].startMiB * MIB);
    // a u-boot grown past sector 1503 runs into the TrustZone firmware
    expect(() => placeRawRegions(plan, layout, [15616, 14592, (1503 - 63) * SECTOR + 1, 262144])).toThrow(/"u-boot".*"tzsw"|"tzsw".*"u-boot"/);
  });

  it.each(['clic-odroid-c4', 'clic-odroid-n2', 'clic-odroid-hc4'])('%s: u-boot at 0–439 and from byte 512, the MBR table between them', (name) => {
    const plan = planOf(name);
    const layout = diskLayout(plan, plan.partitions.map(() => 64));
    const size = 1_000_000; // about an Amlogic u-boot with its FIP
    const placed = placeRawRegions(plan, layout, plan.rawRegions.map(() => size));
    expect(placed.map((p) => [p.name, p.offset, p.skip, p.count])).toEqual([['u-boot-head', 0, 0, 440], ['u-boot', 512, 512, size - 512]]);
    expect(new Set(plan.rawRegions.map((r) => r.source.sha256)).size).toBe(1);
    expect(layout.entries[0].startMiB * MIB).toBeGreaterThanOrEqual(4 * MIB);
  });
});
