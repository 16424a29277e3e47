/**
 * The build manifest, from the shipped recipes' plans: packages split into name, version and
 * architecture (epochs kept), partitions with their file systems, apps' install answers left
 * out, and a recipe hash that follows what the image is made of.
 */
import { describe, expect, it } from 'vitest';
import { buildManifest, recipeHash } from '../../builder/release/manifest.ts';
import { planOf } from '../support/plans.ts';

const PARTITIONS = [
  { label: 'ESP', start: 4 << 20, size: 256 << 20, type: 'U' },
  { label: 'CLICROOT', start: 260 << 20, size: 1024 << 20, type: 'L' },
  { label: 'CLICDATA', start: 1284 << 20, size: 32 << 20, type: 'L' },
];
const BUILT = {
  packages: ['adduser=3.134:all', 'libc6=2.36-9+deb12u13:amd64', 'tzdata=1:2025b-0+deb12u1:all'],
  sourceDateEpoch: 1_783_764_997,
  partitions: PARTITIONS,
  outputs: [{ file: 'clic-pc-x86_64.img', size: 1, sha256: 'a'.repeat(64) }],
};

describe('buildManifest', () => {
  it('describes the image: board, date, packages with versions, partitions with their file systems', async () => {
    const plan = await planOf('clic-pc-x86_64');
    const m = await buildManifest(plan, BUILT);
    expect(m.image).toBe('clic-pc-x86_64');
    expect(m.board).toEqual({ name: plan.board.name, arch: 'amd64', description: plan.board.description, imagerDevices: [] });
    expect(m.date).toBe(new Date(BUILT.sourceDateEpoch * 1000).toISOString());
    expect(m.recipe.file).toBe('recipes/images/clic-pc-x86_64.ts');
    expect(m.packages).toEqual([
      { name: 'adduser', version: '3.134', arch: 'all' },
      { name: 'libc6', version: '2.36-9+deb12u13', arch: 'amd64' },
      { name: 'tzdata', version: '1:2025b-0+deb12u1', arch: 'all' },
    ]);
    expect(m.partitionTable.partitions.map((p) => [p.label, p.fs, p.mountpoint])).toEqual(plan.partitions.map((p) => [p.label, p.fs, p.mountpoint]));
    expect(m.partitionTable.id).toBe(plan.diskId);
  });

  it('is the same for the same inputs, and its recipe hash changes with a variable', async () => {
    const plan = await planOf('clic-pc-x86_64');
    expect(JSON.stringify(await buildManifest(plan, BUILT))).toBe(JSON.stringify(await buildManifest(await planOf('clic-pc-x86_64'), BUILT)));
    const hotspot = plan.layers.find((l) => l.name === 'hotspot')!;
    const changed = { ...plan, layers: plan.layers.map((l) => (l === hotspot ? { ...l, vars: { ...l.vars, ssid: 'other' } } : l)) };
    expect(await recipeHash(changed)).not.toBe(await recipeHash(plan));
  });

  it('names the Raspberry Pi Imager devices of a Pi board', async () => {
    const plan = await planOf('clic-rpi4');
    expect((await buildManifest(plan, { ...BUILT, partitions: PARTITIONS.slice(0, 2) })).board.imagerDevices).toEqual(['pi4-64bit']);
  });

  it('publishes the apps asked for, without their install answers', async () => {
    const plan = await planOf('clic-pc-x86_64-yunohost');
    const apps = plan.layers.find((l) => l.name === plan.apps!.layer)!;
    const withAnswers = { ...plan, layers: plan.layers.map((l) => (l === apps ? { ...l, vars: { ...l.vars, apps: ['hedgedoc', { id: 'yeswiki', args: { password: 'hunter2', admin: 'camille' } }] } } : l)) };
    const m = await buildManifest(withAnswers, BUILT);
    expect(JSON.stringify(m)).not.toContain('hunter2');
    expect(m.layers.find((l) => l.name === 'apps')!.vars).toMatchObject({ apps: ['hedgedoc', { id: 'yeswiki', args: ['admin', 'password'] }] });
  });
});
