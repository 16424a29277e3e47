/**
 * The Raspberry Pi image, read with sfdisk, mtools and debugfs: a Debian Raspberry Pi system
 * (firmware, DTBs for Pi 3 and 4, kernel, initrd, config.txt and cmdline.txt naming the image's
 * own root by label), ids derived from the recipe, nothing per-device left in it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { imagesDir } from '../support/images.ts';
import { openDisk } from '../support/inspect.ts';
import { planOf } from '../support/plans.ts';
import type { Plan } from '../../builder/index.ts';

let disk: Awaited<ReturnType<typeof openDisk>>;
let plan: Plan;
let img: string;

beforeAll(async () => {
  img = join(await imagesDir(), 'clic-rpi4.img');
  disk = await openDisk(img);
  plan = await planOf('clic-rpi4');
});

describe('clic-rpi4 image', () => {
  it('has an MBR table: bootable FAT at 4 MiB, the Linux root, then the content partition, with the recipe-derived disk id', () => {
    expect(disk.table.label).toBe('dos');
    expect(disk.table.id).toBe(plan.diskId);
    const [boot, root, data] = disk.table.partitions;
    expect(disk.table.partitions).toHaveLength(3);
    expect(boot).toMatchObject({ start: 8192, type: 'c', bootable: true });
    expect(root.type).toBe('83');
    expect(root.start).toBeGreaterThanOrEqual(boot.start + boot.size);
    expect(data.type).toBe('83');
    expect(data.start).toBe(root.start + root.size);
  });

  it('carries the Pi firmware, DTBs for Pi 3 and 4, kernel and initrd on the FAT partition', async () => {
    const files = await disk.fatList(0);
    for (const f of ['bootcode.bin', 'start.elf', 'fixup.dat', 'start4.elf', 'fixup4.dat', 'config.txt', 'cmdline.txt', 'bcm2837-rpi-3-b.dtb', 'bcm2837-rpi-3-b-plus.dtb', 'bcm2711-rpi-4-b.dtb', 'bcm2711-rpi-400.dtb']) {
      expect(files).toContain(f);
    }
    const config = await disk.fatRead(0, 'config.txt');
    const kernel = config.match(/^kernel=(\S+)/m)?.[1];
    const initrd = config.match(/^initramfs (\S+)/m)?.[1];
    expect(kernel).toMatch(/^vmlinuz-.*-arm64$/);
    expect(initrd).toMatch(/^initrd\.img-.*-arm64$/);
    expect(files).toContain(kernel);
    expect(files).toContain(initrd);
    expect(config).toMatch(/^arm_64bit=1$/m);
    expect(config).toMatch(/^enable_uart=1$/m);
  });

  it('boots the root partition by its label, with the serial console', async () => {
    const root = plan.partitions.find((p) => p.mountpoint === '/')!;
    const cmdline = (await disk.fatRead(0, 'cmdline.txt')).trim();
    expect(cmdline).toContain(`root=LABEL=${root.label}`);
    expect(cmdline).toContain('console=ttyS1,115200');
    expect(await disk.extHeader(1)).toMatch(new RegExp(`volume name:\\s+${root.label}\\b`));
  });

  it('uses the file system ids derived from the recipe', async () => {
    const [fat, root] = plan.partitions;
    expect(await disk.fatInfo(0)).toMatch(new RegExp(`serial number: ${fat.fsId}`, 'i'));
    const header = await disk.extHeader(1);
    expect(header).toMatch(new RegExp(`Filesystem UUID:\\s+${root.fsId}`));
    expect(header).toMatch(new RegExp(`Directory Hash Seed:\\s+${root.fsId}`));
  });

  it('has a Debian arm64 root: fstab by label, kernel modules, hostname, apt sources', async () => {
    const fstab = await disk.extRead(1, '/etc/fstab');
    expect(fstab).toMatch(/^LABEL=RASPIFIRM\s+\/boot\/firmware\s+vfat/m);
    expect(fstab).toMatch(/^LABEL=RASPIROOT\s+\/\s+ext4/m);
    expect((await disk.extRead(1, '/etc/hostname')).trim()).toBe(plan.layers.find((l) => l.name === 'base')!.vars.hostname);
    expect(await disk.extRead(1, '/etc/debian_version')).toMatch(/^12\./);
    expect((await disk.extList(1, '/usr/lib/modules')).some((v) => v.endsWith('-arm64'))).toBe(true);
    expect(await disk.extRead(1, '/etc/apt/sources.list')).toMatch(/^deb .* bookworm main non-free-firmware/m);
    expect(await disk.extList(1, '/boot/firmware')).toEqual([]);
  });

  it('ships nothing that must differ per device: empty machine-id, no SSH host key', async () => {
    expect(await disk.extRead(1, '/etc/machine-id')).toBe('');
    expect((await disk.extList(1, '/etc/ssh')).filter((f) => f.startsWith('ssh_host_'))).toEqual([]);
  });

  it('comes with a sha256 file that sha256sum accepts', () => {
    const sums = readFileSync(`${img}.sha256`, 'utf8');
    expect(sums).toMatch(/^[0-9a-f]{64}  clic-rpi4\.img\n$/);
    expect(execFileSync('sha256sum', ['--check', `${img}.sha256`], { cwd: join(img, '..') }).toString()).toContain('OK');
  });
});
