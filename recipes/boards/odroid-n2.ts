/**
 * Hardkernel Odroid N2 and N2+ (Amlogic S922X, arm64), the Debian way (see shared/odroid.ts).
 * One image for both: the N2's meson-g12b-odroid-n2 device tree also runs the N2+, at the N2's
 * CPU clocks (a lab wanting the N2+'s can define a board with meson-g12b-odroid-n2-plus.dtb).
 */
import { amlogicBoard } from './shared/odroid.ts';
import { ODROID_N2_UBOOT } from './shared/odroid-blobs.ts';

export default amlogicBoard({
  name: 'odroid-n2',
  description: 'Odroid N2, N2+ (arm64, Debian kernel, u-boot from SD card or eMMC)',
  deviceTree: 'amlogic/meson-g12b-odroid-n2.dtb',
  uboot: ODROID_N2_UBOOT,
});
