/**
 * Raspberry Pi 4 B / 400 (arm64), the Debian way (see shared/raspi.ts). QEMU 7.2 has no raspi4b
 * machine: `clic-image`'s QEMU runner boots the same kernel and initrd, read from the FAT
 * partition, on the generic `virt` machine; the boot tests boot this image as a Pi 3 B, which
 * its firmware and DTBs also support.
 */
import { raspiBoard } from './shared/raspi.ts';

export default raspiBoard({
  name: 'rpi4',
  description: 'Raspberry Pi 4 B, 400 (arm64, Debian kernel + raspi-firmware)',
  imagerDevices: ['pi4-64bit'],
  qemu: { machine: 'aarch64-virt', console: 'ttyAMA0', memoryMiB: 2048 },
});
