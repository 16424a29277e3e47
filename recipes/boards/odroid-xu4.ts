/**
 * Hardkernel Odroid XU4 / XU4Q (Samsung Exynos 5422, armhf), the Debian way (see
 * shared/odroid.ts): Debian's armmp kernel with its exynos5422-odroidxu4 device tree,
 * extlinux.conf by u-boot-menu (reached through a boot.ini, which Hardkernel's u-boot reads
 * first), and Hardkernel's boot chain (bl1, bl2, u-boot, TrustZone
 * firmware) in front of the first partition, from shared/odroid-blobs.ts. Boots from the SD
 * card (boot-mode switch on "uSD"). QEMU cannot emulate the board: the tests boot the same
 * kernel, initrd and root on the 32-bit `virt` machine.
 */
import { exynosBoard } from './shared/odroid.ts';
import { ODROID_XU4_BLOBS } from './shared/odroid-blobs.ts';

export default exynosBoard({
  name: 'odroid-xu4',
  description: 'Odroid XU4, XU4Q (armhf, Debian armmp kernel, Hardkernel boot chain on SD card)',
  deviceTree: 'exynos5422-odroidxu4.dtb',
  blobs: ODROID_XU4_BLOBS,
  bootFiles: {
    // Hardkernel's u-boot runs `cfgload` first, which sources the first /boot.ini or
    // /boot/boot.ini it finds on partition 1 or 2 (a text script after this header line)
    '/boot/boot.ini': [
      'ODROIDXU-UBOOT-CONFIG',
      '',
      '# Written by clic-image: hand over to distro boot, which boots the first entry of',
      '# /boot/extlinux/extlinux.conf (written by u-boot-menu) on the bootable partition.',
      'run distro_bootcmd',
      '',
    ].join('\n'),
  },
});
