/**
 * Hardkernel Odroid C4 (Amlogic S905X3, arm64), the Debian way (see shared/odroid.ts): Debian's
 * arm64 kernel with its meson-sm1-odroid-c4 device tree, extlinux.conf by u-boot-menu, the
 * prebuilt u-boot of shared/odroid-blobs.ts in front of the first partition. QEMU cannot
 * emulate the board: the tests boot the same kernel, initrd and root on the `virt` machine.
 */
import { amlogicBoard } from './shared/odroid.ts';
import { ODROID_C4_UBOOT } from './shared/odroid-blobs.ts';

export default amlogicBoard({
  name: 'odroid-c4',
  description: 'Odroid C4 (arm64, Debian kernel, u-boot from SD card or eMMC)',
  deviceTree: 'amlogic/meson-sm1-odroid-c4.dtb',
  uboot: ODROID_C4_UBOOT,
});
