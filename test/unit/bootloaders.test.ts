/**
 * Boot configuration written into the image: fstab and the bootloaders' files name the
 * partitions by the labels the board declares.
 */
import { describe, expect, it } from 'vitest';
import { bootloaders, fstab, kernelCmdline } from '../../builder/bootloaders/index.ts';
import { resolvePlan, type Plan } from '../../builder/recipe/plan.ts';
import { board, image, OPTIONS, projectRegistry, testRegistry } from './helpers/registries.ts';

const registry = await projectRegistry();
const shipped = [...registry.images.values()].map((i) => resolvePlan(i, `${i.name}.ts`, registry, OPTIONS));
/** A board with labels no shipped board uses, so nothing can pass by accident. */
const relabelled = resolvePlan(image(), 'x.ts', testRegistry({ boards: [board({ partitions: [
  { label: 'MYFW', fs: 'vfat', mountpoint: '/boot/firmware', sizeMiB: 64, type: 'c', bootable: true },
  { label: 'MYROOT', fs: 'ext4', mountpoint: '/', type: '83' },
], consoles: ['ttyAMA0,115200'] })] }), OPTIONS);
const all: Plan[] = [...shipped, relabelled];
const rootOf = (p: Plan) => p.partitions.find((x) => x.mountpoint === '/')!;

describe.each(all.map((p) => [p.board.name, p] as const))('board %s', (_, plan) => {
  it('fstab mounts every partition by label, root checked first', () => {
    const rows = fstab(plan).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t'));
    expect(rows.map((r) => r.slice(0, 3))).toEqual(plan.partitions.map((p) => [`LABEL=${p.label}`, p.mountpoint, p.fs]));
    rows.forEach((r, i) => {
      expect(r).toHaveLength(6);
      expect(r[5]).toBe(plan.partitions[i].mountpoint === '/' ? '1' : '2');
    });
  });

  it('the kernel command line finds the root by label', () => {
    expect(kernelCmdline(plan)).toContain(`root=LABEL=${rootOf(plan).label} `);
    expect(kernelCmdline(plan)).toContain(`rootfstype=${rootOf(plan).fs}`);
  });

  it(`the ${plan.board.bootloader} files name the root label and the consoles`, () => {
    const files = bootloaders[plan.board.bootloader].preinstallFiles(plan);
    const text = Object.values(files).map((f) => f.content).join('\n');
    expect(text).toContain(`LABEL=${rootOf(plan).label}`);
    for (const other of plan.partitions.filter((p) => p.mountpoint !== '/')) expect(text).not.toContain(`LABEL=${other.label}`);
    for (const c of plan.board.consoles) expect(text).toContain(c);
  });
});

describe('raspi-firmware', () => {
  it('writes /etc/default/raspi-firmware with ROOTPART and CONSOLES', () => {
    const files = bootloaders['raspi-firmware'].preinstallFiles(relabelled);
    expect(Object.keys(files)).toEqual(['etc/default/raspi-firmware']);
    const lines = files['etc/default/raspi-firmware'].content.split('\n');
    expect(lines).toContain('ROOTPART=LABEL=MYROOT');
    expect(lines).toContain('CONSOLES="ttyAMA0,115200"');
  });
});

describe('systemd-boot-efi', () => {
  const pc = shipped.find((p) => p.board.bootloader === 'systemd-boot-efi')!;
  it('installs an executable ESP updater and the hooks that run it', () => {
    const files = bootloaders['systemd-boot-efi'].preinstallFiles(pc);
    for (const f of Object.values(files)) {
      expect(f.mode).toBe(0o755);
      expect(f.content.startsWith('#!/bin/sh\n')).toBe(true);
    }
    const esp = pc.partitions.find((p) => p.type === 'U')!.mountpoint;
    expect(files['usr/local/sbin/clic-update-esp'].content).toContain(`esp=${esp}\n`);
    expect(files['usr/local/sbin/clic-update-esp'].content).toContain(kernelCmdline(pc));
  });
});
