/**
 * x86_64 PC with UEFI: GPT, an EFI system partition with systemd-boot as the removable-media
 * loader (no NVRAM entry needed, boots from any USB stick or disk), kernel and initrd on the
 * ESP, ext4 root. Serial console on ttyS0 as well as the screen. QEMU boots it with OVMF and
 * KVM when available.
 */
import { defineBoard } from '../../builder/recipe/define.ts';

export default defineBoard({
  name: 'pc-x86_64',
  description: 'x86_64 PC or mini-PC with UEFI (GPT, systemd-boot)',
  arch: 'amd64',
  components: [],
  packages: ['linux-image-amd64', 'systemd-boot-efi'],
  consoles: ['tty0', 'ttyS0,115200'],
  partitionTable: 'gpt',
  partitions: [
    { label: 'ESP', fs: 'vfat', mountpoint: '/boot/efi', sizeMiB: 256, type: 'U' },
    { label: 'CLICROOT', fs: 'ext4', mountpoint: '/', type: 'L' },
  ],
  bootloader: 'systemd-boot-efi',
  qemu: { machine: 'x86_64-uefi', console: 'ttyS0,115200', memoryMiB: 1024 },
});
