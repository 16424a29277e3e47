/**
 * The x86_64 PC image, read with sfdisk, mtools and debugfs: GPT with an EFI system partition
 * holding systemd-boot as the removable-media loader, one loader entry, kernel and initrd (with
 * the root file system's fsck).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { imagesDir } from '../support/images.ts';
import { initrdEntries } from '../support/initrd.ts';
import { openDisk } from '../support/inspect.ts';
import { planOf } from '../support/plans.ts';
import type { Plan } from '../../builder/index.ts';

const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const LINUX_TYPE = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

let disk: Awaited<ReturnType<typeof openDisk>>;
let plan: Plan;

beforeAll(async () => {
  disk = await openDisk(join(await imagesDir(), 'clic-pc-x86_64.img'));
  plan = await planOf('clic-pc-x86_64');
});

describe('clic-pc-x86_64 image', () => {
  it('has a GPT with the ESP first and the Linux root, ids from the recipe', () => {
    expect(disk.table.label).toBe('gpt');
    expect(disk.table.id).toBe(plan.diskId);
    expect(disk.table.partitions.map((p) => [p.type, p.name])).toEqual([
      [ESP_TYPE, 'ESP'],
      [LINUX_TYPE, 'CLICROOT'],
      // the content partition of the kiwix layer, last: first boot grows it
      [LINUX_TYPE, 'CLICDATA'],
    ]);
    expect(disk.table.partitions[0].start).toBe(8192);
  });

  it('uses the file system ids derived from the recipe', async () => {
    const [esp, root] = plan.partitions;
    expect(await disk.fatInfo(0)).toMatch(new RegExp(`serial number: ${esp.fsId}`, 'i'));
    expect(await disk.extHeader(1)).toMatch(new RegExp(`Filesystem UUID:\\s+${root.fsId}`));
  });

  it('has systemd-boot as EFI/BOOT/BOOTX64.EFI and an entry booting the root by label', async () => {
    expect(await disk.fatList(0, 'EFI/BOOT')).toContain('EFI/BOOT/BOOTX64.EFI');
    const top = await disk.fatList(0);
    expect(top).toEqual(expect.arrayContaining(['vmlinuz', 'initrd.img', 'loader', 'EFI']));
    const entry = await disk.fatRead(0, 'loader/entries/clic.conf');
    expect(entry).toMatch(/^linux \/vmlinuz$/m);
    expect(entry).toMatch(/^initrd \/initrd\.img$/m);
    expect(entry).toMatch(/^options .*root=LABEL=CLICROOT\b.*console=ttyS0,115200/m);
  });

  it('mounts the ESP at /boot/efi and has the hook that refreshes it on kernel updates', async () => {
    expect(await disk.extRead(1, '/etc/fstab')).toMatch(/^LABEL=ESP\s+\/boot\/efi\s+vfat/m);
    expect(await disk.extList(1, '/etc/kernel/postinst.d')).toContain('zz-clic-update-esp');
    expect(await disk.extList(1, '/etc/initramfs/post-update.d')).toContain('zz-clic-update-esp');
  });

  it('has the root file system’s fsck in its initramfs, so that a kit that lost power is checked at boot', async () => {
    const names = await initrdEntries(await disk.fatBytes(0, 'initrd.img'));
    expect(names.length).toBeGreaterThan(100);
    // (/sbin or /usr/sbin: initramfs-tools keeps the path it was given)
    expect(names.filter((n) => /^(usr\/)?sbin\/fsck(\.ext4)?$/.test(n)).map((n) => n.replace(/^usr\//, '')).sort()).toEqual(['sbin/fsck', 'sbin/fsck.ext4']);
  });

  it('ships no per-device identity', async () => {
    expect(await disk.extRead(1, '/etc/machine-id')).toBe('');
    expect((await disk.extList(1, '/etc/ssh')).filter((f) => f.startsWith('ssh_host_'))).toEqual([]);
  });
});
