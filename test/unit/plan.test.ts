/**
 * resolvePlan on valid recipes: pure, step order, packages, variables and their environment,
 * and the ids that make builds reproducible (same recipe → same ids, another name → other ids).
 */
import { describe, expect, it } from 'vitest';
import { layerGenerator, resolvePlan, withSourceDate, type Plan } from '../../builder/recipe/plan.ts';
import { image, OPTIONS, plannableRegistry, testRegistry } from './helpers/registries.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ids = (p: Plan) => [p.diskId, ...p.partitions.map((x) => x.fsId)];

const IMAGE_ENV = ['CLIC_IMAGE', 'CLIC_BOARD', 'CLIC_ARCH', 'CLIC_BOOT_DIR', 'CLIC_ROOT_LABEL', 'CLIC_SERVICES', 'SOURCE_DATE_EPOCH'];

describe('resolvePlan', () => {
  it('orders steps: host tools, package resolution, bootstrap, initramfs, the layers in image order, then disk assembly', () => {
    const r = testRegistry();
    const img = image({ layers: ['base', 'hotspot', 'portal'] });
    const plan = resolvePlan(img, 'x.ts', r, OPTIONS);
    expect(plan.steps.map((s) => s.name)).toEqual([
      'host-tools', 'packages', 'bootstrap', 'initramfs', ...img.layers.map((l) => `layer:${l}`), 'finalize', 'filesystems', 'disk', 'bmap', 'compress', 'checksum',
    ]);
    expect(plan.layers.map((l) => l.name)).toEqual(img.layers);
  });

  it('writes both compressed copies unless the recipe or the build options say otherwise; no compress step for none', () => {
    const r = testRegistry();
    const files = (plan: ReturnType<typeof resolvePlan>) => plan.output.compressed.map((c) => c.file);
    expect(files(resolvePlan(image({ name: 'x' }), 'x.ts', r, OPTIONS))).toEqual(['x.img.xz', 'x.img.zst']);
    expect(files(resolvePlan(image({ name: 'x', compress: ['zst'] }), 'x.ts', r, OPTIONS))).toEqual(['x.img.zst']);
    // the option wins over the recipe, and the order is always xz then zst
    expect(files(resolvePlan(image({ name: 'x', compress: ['zst'] }), 'x.ts', r, { ...OPTIONS, compress: ['zst', 'xz'] }))).toEqual(['x.img.xz', 'x.img.zst']);
    const none = resolvePlan(image({ name: 'x' }), 'x.ts', r, { ...OPTIONS, compress: [] });
    expect(files(none)).toEqual([]);
    expect(none.steps.map((s) => s.name)).not.toContain('compress');
    expect(none.steps.map((s) => s.name)).toContain('bmap');
  });

  it('installs the board\'s and every layer\'s packages, sorted, each once', () => {
    const r = testRegistry();
    const plan = resolvePlan(image(), 'x.ts', r, OPTIONS);
    const all = [...r.boards.get('tb')!.packages, ...[...r.layers.values()].flatMap((l) => l.packages ?? [])];
    expect(all.length).toBeGreaterThan(new Set(all).size); // the test registry does repeat some
    expect(new Set(plan.packages)).toEqual(new Set(all));
    expect(plan.packages).toHaveLength(new Set(all).size);
    expect(plan.packages).toEqual([...plan.packages].sort());
  });

  it('merges variable defaults with the image\'s values and exports them as CLIC_* strings', () => {
    const r = testRegistry();
    const plan = resolvePlan(image({ vars: { hotspot: { apSsid: 'Atelier', channel: 11, open: false }, base: { locales: ['fr_FR.UTF-8', 'de_DE.UTF-8'] } } }), 'x.ts', r, OPTIONS);
    const hotspot = plan.layers.find((l) => l.name === 'hotspot')!;
    expect(hotspot.vars).toEqual({ apSsid: 'Atelier', channel: 11, open: false, band: 'g' });
    const own = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).filter(([k]) => !IMAGE_ENV.includes(k)));
    expect(own(hotspot.env)).toEqual({ CLIC_AP_SSID: 'Atelier', CLIC_CHANNEL: '11', CLIC_OPEN: 'false', CLIC_BAND: 'g' });
    expect(own(plan.layers[0].env)).toEqual({ CLIC_HOSTNAME: 'clic', CLIC_LOCALES: 'fr_FR.UTF-8 de_DE.UTF-8' });
    expect(own(plan.layers.find((l) => l.name === 'portal')!.env)).toEqual({});
  });

  it('gives every layer the image-wide CLIC_* values', () => {
    const r = testRegistry();
    const plan = resolvePlan(image(), 'x.ts', r, OPTIONS);
    const board = r.boards.get('tb')!;
    for (const l of plan.layers) {
      expect(Object.keys(l.env)).toEqual(expect.arrayContaining(IMAGE_ENV));
      expect(l.env.CLIC_BOARD).toBe(board.name);
      expect(l.env.CLIC_ARCH).toBe(board.arch);
      expect(l.env.CLIC_BOOT_DIR).toBe(board.partitions.find((p) => p.fs === 'vfat')?.mountpoint ?? '');
      expect(JSON.parse(l.env.CLIC_SERVICES)).toEqual(plan.services);
    }
  });

  it('passes options through and takes overlays from the registry', () => {
    const r = testRegistry({ overlays: { hotspot: '/somewhere/overlays/hotspot' } });
    const plan = resolvePlan(image(), 'x.ts', r, { outDir: '/o', sourceDateEpoch: 42, mirror: 'http://mirror.example/debian' });
    expect(plan).toMatchObject({ mirror: 'http://mirror.example/debian', sourceDateEpoch: 42, output: { dir: '/o', img: 'test-image.img', sha256: 'test-image.img.sha256' } });
    expect(plan.layers.map((l) => l.overlay)).toEqual([null, '/somewhere/overlays/hotspot', null]);
    expect(plan.components).toEqual(['main', 'non-free-firmware']);
    expect(resolvePlan(image(), 'x.ts', r, OPTIONS).mirror).toBeNull();
  });

  it('is pure: same input, same plan, input untouched', () => {
    const r = testRegistry();
    const img = image({ vars: { base: { hostname: 'a' } } });
    const before = structuredClone(img);
    const a = resolvePlan(img, 'x.ts', r, OPTIONS);
    const b = resolvePlan(img, 'x.ts', r, OPTIONS);
    expect(b).toEqual(a);
    expect(img).toEqual(before);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });
});

describe('derived ids', () => {
  it('are well formed: dos signature, vfat volume id, ext4 uuid', () => {
    const plan = resolvePlan(image(), 'x.ts', testRegistry(), OPTIONS);
    expect(plan.diskId).toMatch(/^0x[0-9a-f]{8}$/);
    expect(plan.partitions.map((p) => p.fsId)).toEqual([expect.stringMatching(/^[0-9a-f]{8}$/), expect.stringMatching(UUID)]);
  });

  it('are well formed on gpt, and every partition gets its own', () => {
    const plan = resolvePlan(image({ board: 'tb-gpt' }), 'x.ts', testRegistry(), OPTIONS);
    expect(plan.diskId).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
    expect(plan.partitions.map((p) => p.fsId)).toEqual([expect.stringMatching(/^[0-9a-f]{8}$/), expect.stringMatching(UUID), expect.stringMatching(UUID)]);
    expect(new Set(ids(plan)).size).toBe(ids(plan).length);
  });

  it('depend on the image name and board only', () => {
    const r = testRegistry();
    const a = resolvePlan(image(), 'a.ts', r, OPTIONS);
    expect(ids(resolvePlan(image({ vars: { base: { hostname: 'other' } } }), 'b.ts', r, { outDir: '/x', sourceDateEpoch: 1 }))).toEqual(ids(a));
    const renamed = ids(resolvePlan(image({ name: 'test-image-2' }), 'a.ts', r, OPTIONS));
    ids(a).forEach((id, i) => expect(renamed[i]).not.toBe(id));
  });

  it('differ between the shipped images', async () => {
    const r = await plannableRegistry();
    const all = [...r.images.values()].flatMap((img) => ids(resolvePlan(img, `${img.name}.ts`, r, OPTIONS)));
    expect(all.length).toBeGreaterThan(r.images.size);
    expect(new Set(all).size).toBe(all.length);
  });
});

describe('the build date', () => {
  it('given, is in the plan and in every layer\'s environment; else it is set once the packages are resolved', () => {
    const r = testRegistry();
    const given = resolvePlan(image(), 'x.ts', r, { ...OPTIONS, sourceDateEpoch: 1_234_567_890 });
    expect(given.layers.every((l) => l.env.SOURCE_DATE_EPOCH === '1234567890')).toBe(true);
    const undated = resolvePlan(image(), 'x.ts', r, { ...OPTIONS, sourceDateEpoch: null });
    expect(undated.sourceDateEpoch).toBeNull();
    expect(undated.layers.some((l) => 'SOURCE_DATE_EPOCH' in l.env)).toBe(false);
    const dated = withSourceDate(undated, 1_700_000_000);
    expect(dated.sourceDateEpoch).toBe(1_700_000_000);
    expect(dated.layers.every((l) => l.env.SOURCE_DATE_EPOCH === '1700000000')).toBe(true);
    expect(undated.sourceDateEpoch).toBeNull(); // the plan itself is left as it was
    // generators follow their layer into the dated plan
    dated.layers.forEach((l) => expect(!!layerGenerator(l)).toBe(l.generates));
  });
});
