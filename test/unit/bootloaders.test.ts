/**
 * Boot configuration written into the image: fstab and the bootloaders' files name the
 * partitions by the labels the board declares.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { bootloaderProblems, bootloaders, fstab, kernelCmdline } from '../../builder/bootloaders/index.ts';
import { boardFiles } from '../../builder/steps/initramfs.ts';
import { preinstallFiles } from '../../builder/steps/bootstrap.ts';
import { parseExtlinux } from '../../builder/qemu.ts';
import { resolvePlan, type Plan } from '../../builder/recipe/plan.ts';
import { board, image, OPTIONS, plannableRegistry, testRegistry } from './helpers/registries.ts';

const registry = await plannableRegistry();
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

  it('a missing or damaged FAT partition does not stop the boot (nofail); the initramfs gets the root’s fsck', () => {
    const fat = fstab(plan).split('\n').find((l) => l.split('\t')[2] === 'vfat');
    if (fat) expect(fat.split('\t')[3].split(',')).toContain('nofail');
    expect(preinstallFiles(plan)['etc/initramfs-tools/conf.d/clic-root-fsck']).toEqual({ content: expect.stringMatching(new RegExp(`^FSTYPE=${rootOf(plan).fs}$`, 'm')) });
  });

  it('the kernel command line finds the root by label', () => {
    expect(kernelCmdline(plan)).toContain(`root=LABEL=${rootOf(plan).label} `);
    expect(kernelCmdline(plan)).toContain(`rootfstype=${rootOf(plan).fs}`);
  });

  it(`the ${plan.board.bootloader} files name the root label and the consoles`, () => {
    const bootloader = bootloaders[plan.board.bootloader];
    const files = { ...bootloader.preinstallFiles(plan), ...bootloader.configureFiles?.(plan) };
    const text = Object.values(files).map((f) => f.content).join('\n');
    expect(text).toContain(`LABEL=${rootOf(plan).label}`);
    for (const other of plan.partitions.filter((p) => p.mountpoint !== '/')) expect(text).not.toMatch(new RegExp(`LABEL=${other.label}\\b`));
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

describe('u-boot-extlinux', () => {
  const odroids = shipped.filter((p) => p.board.bootloader === 'u-boot-extlinux');
  it('is the bootloader of the four Odroid boards', () => {
    expect(new Set(odroids.map((p) => p.board.name))).toEqual(new Set(['odroid-c4', 'odroid-n2', 'odroid-hc4', 'odroid-xu4']));
  });

  it('the boards differ only in what the initramfs step writes: they can share a bootstrap', () => {
    const amlogic = odroids.filter((p) => p.board.arch === 'arm64');
    const preinstall = amlogic.map((p) => JSON.stringify({ files: bootloaders['u-boot-extlinux'].preinstallFiles(p), fstab: fstab(p), packages: p.packages }));
    expect(new Set(preinstall).size).toBe(1);
    const configured = amlogic.map((p) => JSON.stringify(boardFiles(p)));
    expect(new Set(configured).size).toBe(amlogic.length);
  });

  // u-boot-update sources /etc/default/u-boot as shell: what it reads from it (the extlinux.conf
  // it writes in the image is checked by the boot tier)
  it.each(odroids.map((p) => [p.board.name, p] as const))('%s: /etc/default/u-boot gives u-boot-update the root, consoles and device tree, no menu', (_, plan) => {
    const defaults = boardFiles(plan)['etc/default/u-boot'].content;
    // the file is shell: run it, then print what u-boot-update reads
    const vars = execFileSync('sh', ['-c', `${defaults}\nprintf "%s\\n" "$U_BOOT_ROOT" "$U_BOOT_PARAMETERS" "$U_BOOT_FDT" "$U_BOOT_ALTERNATIVES" "$U_BOOT_PROMPT"`], { encoding: 'utf8' }).split('\n');
    expect(vars[0]).toBe(`root=LABEL=${rootOf(plan).label}`);
    for (const c of plan.board.consoles) expect(vars[1]).toContain(`console=${c}`);
    expect(vars[1]).toMatch(/(^| )rw( |$)/);
    expect(vars[2]).toBe(plan.board.deviceTree);
    expect(vars[3]).toBe('default');
    expect(vars[4]).toBe('0');
  });

  it('reads the first entry of an extlinux.conf as u-boot does', () => {
    const entry = parseExtlinux([
      '## /boot/extlinux/extlinux.conf', 'default l0', 'menu title U-Boot menu', 'prompt 0', 'timeout 10', '',
      'label l0', '\tmenu label CLIC (Debian) 6.1.0-56-arm64', '\tlinux /boot/vmlinuz-6.1.0-56-arm64',
      '\tinitrd /boot/initrd.img-6.1.0-56-arm64', '\tfdt /usr/lib/linux-image-6.1.0-56-arm64/amlogic/meson-sm1-odroid-c4.dtb', '\t',
      '\tappend root=LABEL=CLICROOT rootfstype=ext4 rootwait rw console=ttyAML0,115200 console=tty0', '',
      'label l1', '\tlinux /boot/vmlinuz-old', '\tinitrd /boot/initrd.img-old',
    ].join('\n'));
    expect(entry).toEqual({
      linux: '/boot/vmlinuz-6.1.0-56-arm64',
      initrd: '/boot/initrd.img-6.1.0-56-arm64',
      fdt: '/usr/lib/linux-image-6.1.0-56-arm64/amlogic/meson-sm1-odroid-c4.dtb',
      fdtdir: undefined,
      append: 'root=LABEL=CLICROOT rootfstype=ext4 rootwait rw console=ttyAML0,115200 console=tty0',
    });
    expect(() => parseExtlinux('default l0\n')).toThrow(/no "label" entry/);
    expect(() => parseExtlinux('label l0\n\tlinux /boot/vmlinuz\n')).toThrow(/no initrd/);
  });

  it('refuses a board without u-boot-menu, or a device tree that is not a .dtb path', () => {
    const odroid = odroids[0].board;
    expect(bootloaderProblems({ ...odroid, packages: ['linux-image-arm64'] })[0].message).toMatch(/needs the package u-boot-menu/);
    expect(bootloaderProblems({ ...odroid, deviceTree: '../etc/passwd' })[0].message).toMatch(/deviceTree "\.\.\/etc\/passwd" — expected a \.dtb file/);
    expect(bootloaderProblems(odroid)).toEqual([]);
  });
});
