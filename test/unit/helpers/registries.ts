/**
 * Registries for tests: the project's own, and small in-memory ones whose boards and layers the
 * tests control.
 */
import { defineBoard, defineImage, defineLayer, type BoardDef, type ImageDef, type LayerDef } from '../../../builder/recipe/define.ts';
import { loadRegistry, type Registry } from '../../../builder/recipe/registry.ts';
import type { BuildOptions } from '../../../builder/recipe/plan.ts';
import { withStandInBlobs } from '../../support/odroid-images.ts';

export const OPTIONS: BuildOptions = { outDir: '/tmp/clic-out', sourceDateEpoch: 1_700_000_000 };

let shipped: Promise<Registry> | undefined;
/** The project's registry (recipes/), loaded once per test file. */
export const projectRegistry = () => (shipped ??= loadRegistry());

/** Whether a board waits for a bootloader file to be pinned (its builds stop at plan time). */
export const hasUnpinnedBlobs = (b: BoardDef) => (b.rawRegions ?? []).some((r) => r.source.unpinned !== undefined);

/** The project's registry with the unpinned bootloader files of its boards given stand-in pins
 *  (never fetched by unit tests), so that every shipped image plans. */
export async function plannableRegistry(): Promise<Registry> {
  const r = await projectRegistry();
  const standIn = (b: BoardDef) => withStandInBlobs(b, 'http://127.0.0.1:9/stand-in');
  return { ...r, boards: new Map([...r.boards].map(([n, b]) => [n, hasUnpinnedBlobs(b) ? standIn(b) : b])) };
}

/** The project's registry plus an `unused-extra` layer that no shipped image uses. */
export async function registryWithUnusedLayer(): Promise<Registry> {
  const r = await projectRegistry();
  const layers = new Map(r.layers);
  layers.set('unused-extra', defineLayer({
    name: 'unused-extra',
    description: 'test layer that no image lists',
    requires: ['base'],
    packages: ['hostapd'],
    vars: { ssid: { type: 'string', default: 'CLIC', description: 'network name' } },
  }));
  return { ...r, layers };
}

export const board = (over: Partial<BoardDef> = {}): BoardDef =>
  defineBoard({
    name: 'tb',
    description: 'test board',
    arch: 'arm64',
    components: ['non-free-firmware'],
    packages: ['linux-image-arm64', 'zz-firmware', 'dbus'],
    consoles: ['ttyS1,115200', 'tty0'],
    partitionTable: 'dos',
    partitions: [
      { label: 'TBBOOT', fs: 'vfat', mountpoint: '/boot/firmware', sizeMiB: 128, type: 'c', bootable: true },
      { label: 'TBROOT', fs: 'ext4', mountpoint: '/', type: '83' },
    ],
    bootloader: 'raspi-firmware',
    qemu: { machine: 'aarch64-virt', console: 'ttyAMA0', memoryMiB: 1024 },
    ...over,
  });

export const LAYERS: LayerDef[] = [
  defineLayer({
    name: 'base',
    description: 'test base',
    packages: ['systemd-sysv', 'dbus', 'udev'],
    vars: {
      hostname: { type: 'string', default: 'clic', pattern: '^[a-z0-9-]+$', description: 'host name' },
      locales: { type: 'list', default: ['en_US.UTF-8'], description: 'locales' },
    },
  }),
  defineLayer({
    name: 'hotspot',
    description: 'test hotspot',
    requires: ['base'],
    packages: ['hostapd', 'dnsmasq', 'udev'],
    vars: {
      apSsid: { type: 'string', default: 'CLIC', minLength: 1, maxLength: 32, description: 'network name' },
      channel: { type: 'int', default: 6, min: 1, max: 13, description: 'wifi channel' },
      open: { type: 'bool', default: true, description: 'no passphrase' },
      band: { type: 'enum', default: 'g', values: ['a', 'g'], description: 'wifi band' },
    },
  }),
  defineLayer({ name: 'portal', description: 'test portal', requires: ['base', 'hotspot'], packages: ['nginx-light'] }),
];

export const image = (over: Partial<ImageDef> = {}): ImageDef =>
  defineImage({ name: 'test-image', description: 'test image', board: 'tb', layers: ['base', 'hotspot', 'portal'], ...over });

/** An in-memory registry: the given boards, the test layers, the given images. */
export function testRegistry(opts: { boards?: BoardDef[]; layers?: LayerDef[]; images?: ImageDef[]; overlays?: Record<string, string> } = {}): Registry {
  const byName = <T extends { name: string }>(xs: T[]) => new Map(xs.map((x) => [x.name, x]));
  return {
    root: '/nonexistent/test-registry',
    boards: byName(opts.boards ?? [board(), board({ name: 'tb-gpt', partitionTable: 'gpt', partitions: [
      { label: 'ESP', fs: 'vfat', mountpoint: '/boot/efi', sizeMiB: 256, type: 'U' },
      { label: 'ROOT', fs: 'ext4', mountpoint: '/', type: 'L' },
      { label: 'DATA', fs: 'ext4', mountpoint: '/srv', sizeMiB: 512, type: 'L' },
    ] })]),
    layers: byName(opts.layers ?? LAYERS),
    images: byName(opts.images ?? [image()]),
    overlays: new Map(Object.entries(opts.overlays ?? {})),
  };
}
