/**
 * Raspberry Pi 3 B / B+ (arm64), the Debian way (see shared/raspi.ts). QEMU's `raspi3b` machine
 * boots it with the kernel, initrd and bcm2837-rpi-3-b.dtb read from the image's own FAT
 * partition; its SD card is the image.
 */
import { raspiBoard } from './shared/raspi.ts';

export default raspiBoard({
  name: 'rpi3',
  description: 'Raspberry Pi 3 B, 3 B+ (arm64, Debian kernel + raspi-firmware)',
  imagerDevices: ['pi3-64bit'],
  qemu: { machine: 'raspi3b', dtb: 'bcm2837-rpi-3-b.dtb', console: 'ttyS1,115200', memoryMiB: 1024 },
});
