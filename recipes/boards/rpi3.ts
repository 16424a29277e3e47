/**
 * Raspberry Pi 3 B / B+ (arm64), the Debian way, like rpi4: Debian's arm64 kernel and
 * raspi-firmware. QEMU's `raspi3b` machine boots it with the kernel, initrd and
 * bcm2837-rpi-3-b.dtb read from the image's own FAT partition; its SD card is the image.
 */
import { defineBoard } from '../../builder/recipe/define.ts';

export default defineBoard({
  name: 'rpi3',
  description: 'Raspberry Pi 3 B, 3 B+ (arm64, Debian kernel + raspi-firmware)',
  arch: 'arm64',
  components: ['non-free-firmware'],
  packages: ['linux-image-arm64', 'raspi-firmware', 'firmware-brcm80211'],
  consoles: ['ttyS1,115200', 'tty0'],
  partitionTable: 'dos',
  partitions: [
    { label: 'RASPIFIRM', fs: 'vfat', mountpoint: '/boot/firmware', sizeMiB: 256, type: 'c', bootable: true },
    { label: 'RASPIROOT', fs: 'ext4', mountpoint: '/', type: '83' },
  ],
  bootloader: 'raspi-firmware',
  qemu: { machine: 'raspi3b', dtb: 'bcm2837-rpi-3-b.dtb', console: 'ttyS1,115200', memoryMiB: 1024 },
});
