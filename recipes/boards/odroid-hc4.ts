/**
 * Hardkernel Odroid HC4 (Amlogic S905X3, arm64, two SATA bays), the Debian way (see
 * shared/odroid.ts) with its meson-sm1-odroid-hc4 device tree. The HC4 starts from its SPI
 * flash (Hardkernel's petitboot) unless told otherwise: to boot this image from the SD card,
 * hold the board's button while powering on (or erase the SPI flash's bootloader once from
 * petitboot's shell) — see README, "Boards".
 */
import { amlogicBoard } from './shared/odroid.ts';
import { ODROID_HC4_UBOOT } from './shared/odroid-blobs.ts';

export default amlogicBoard({
  name: 'odroid-hc4',
  description: 'Odroid HC4 (arm64, Debian kernel, u-boot from the SD card: see README for the SPI flash)',
  deviceTree: 'amlogic/meson-sm1-odroid-hc4.dtb',
  uboot: ODROID_HC4_UBOOT,
});
