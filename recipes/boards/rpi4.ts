/**
 * Raspberry Pi 4 B / 400 (arm64), the Debian way: Debian's arm64 kernel and the raspi-firmware
 * package, whose hooks fill the FAT partition (GPU firmware, DTBs for Pi 3 and 4, kernel,
 * initrd, config.txt, cmdline.txt naming the root by label). Serial console on the GPIO
 * mini-UART (ttyS1). QEMU 7.2 has no raspi4b machine: tests boot the same kernel and initrd,
 * read from the FAT partition, on the generic `virt` machine.
 */
import { defineBoard } from '../../builder/recipe/define.ts';

export default defineBoard({
  name: 'rpi4',
  description: 'Raspberry Pi 4 B, 400 (arm64, Debian kernel + raspi-firmware)',
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
  qemu: { machine: 'aarch64-virt', console: 'ttyAMA0', memoryMiB: 2048 },
});
