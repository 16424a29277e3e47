/**
 * What Hardkernel's Odroid boards share, the Debian way: Debian's kernel (linux-image-arm64, or
 * linux-image-armmp on the 32-bit XU4) with the board's device tree from the kernel package,
 * u-boot-menu writing /boot/extlinux/extlinux.conf, which the board's u-boot reads from the
 * bootable root partition (distro boot), and a prebuilt u-boot written as raw regions before
 * the first partition (Debian ships none that these boards boot as is), pinned by URL and
 * sha256. MBR table; a small FAT partition first, for the deployer's clic-settings.txt; the
 * first partition at 4 MiB, after every region.
 *
 *   export default amlogicBoard({ name: 'odroid-c4', description: '…', deviceTree: 'amlogic/…dtb', uboot });
 */
import { defineBoard, type BlobSource, type BoardDef, type PartitionDef } from '../../../builder/recipe/define.ts';

const SECTOR = 512;

const PARTITIONS: readonly PartitionDef[] = [
  // not read by u-boot: the deployer's settings file, readable on any computer
  { label: 'CLIC', fs: 'vfat', mountpoint: '/boot/clic', sizeMiB: 64, type: 'c' },
  // bootable: distro boot scans it for /boot/extlinux/extlinux.conf
  { label: 'CLICROOT', fs: 'ext4', mountpoint: '/', type: '83', bootable: true },
];

/** Modules every Odroid initramfs takes whatever the SoC: the root file system, USB disks,
 *  a USB keyboard for the emergency shell, and QEMU's virt machine where the tests boot it. */
const COMMON_MODULES = [
  'ext4', 'crc32c',
  'xhci-plat-hcd', 'usb-storage', 'uas', 'sd_mod',
  'usbhid', 'hid-generic',
  'virtio_pci', 'virtio_mmio', 'virtio_blk',
];

type OdroidOptions = Pick<BoardDef, 'name' | 'description' | 'deviceTree' | 'bootFiles'>;
/** What differs with the SoC: kernel, consoles, bootloader regions, the drivers of its storage. */
type SocParts = Pick<BoardDef, 'arch' | 'packages' | 'consoles' | 'rawRegions' | 'qemu'> & { initramfsModules: readonly string[] };

function odroidBoard(board: OdroidOptions, soc: SocParts): BoardDef {
  return defineBoard({
    ...board,
    ...soc,
    components: ['non-free-firmware'],
    partitionTable: 'dos',
    partitions: PARTITIONS,
    bootloader: 'u-boot-extlinux',
    initramfsModules: [...COMMON_MODULES, ...soc.initramfsModules],
  });
}

/**
 * Amlogic S905X3 / S922X boards (C4, HC4, N2, N2+): the boot ROM reads a signed u-boot image
 * (u-boot with Amlogic's firmware, `u-boot.bin.sd.bin`) from the SD card or eMMC at byte 512
 * on, and its first bytes from the MBR's boot code area: bytes 0–439 (Armbian's writer takes
 * 442, over the first two bytes of the disk signature, which stay ours here).
 */
export function amlogicBoard(board: OdroidOptions & { uboot: BlobSource }): BoardDef {
  const { uboot, ...common } = board;
  return odroidBoard(common, {
    arch: 'arm64',
    // firmware-realtek: the usual USB wifi dongles of these boards (they have no wifi of their own)
    packages: ['linux-image-arm64', 'u-boot-menu', 'firmware-realtek'],
    consoles: ['ttyAML0,115200', 'tty0'],
    rawRegions: [
      { name: 'u-boot-head', source: uboot, offset: 0, count: 440 },
      { name: 'u-boot', source: uboot, offset: SECTOR, skip: SECTOR },
    ],
    initramfsModules: [
      // SD card and eMMC, with the SD card's signal-voltage and power regulators
      'meson-gx-mmc', 'gpio-regulator', 'fixed', 'pwm-regulator', 'pwm-meson',
      // USB 3 (dwc3 glue; its PHYs are built in) and the HC4's SATA, on PCIe
      'dwc3-meson-g12a', 'dwc3', 'pci-meson', 'ahci',
    ],
    qemu: { machine: 'aarch64-virt', console: 'ttyAMA0', memoryMiB: 1024 },
  });
}

/** Hardkernel's Samsung Exynos 5422 boot chain on SD, as its sd_fusing.sh writes it. */
export interface ExynosBlobs {
  bl1: BlobSource;
  bl2: BlobSource;
  uboot: BlobSource;
  tzsw: BlobSource;
}

/** Samsung Exynos 5422 boards (XU4, HC1): bl1, bl2, u-boot and the TrustZone firmware at
 *  sectors 1, 31, 63 and 1503 of the SD card. */
export function exynosBoard(board: OdroidOptions & { blobs: ExynosBlobs }): BoardDef {
  const { blobs: { bl1, bl2, uboot, tzsw }, ...common } = board;
  return odroidBoard(common, {
    arch: 'armhf',
    packages: ['linux-image-armmp', 'u-boot-menu', 'firmware-realtek'],
    consoles: ['ttySAC2,115200', 'tty0'],
    rawRegions: [
      // Hardkernel's bl1 file is 30.5 sectors: sd_fusing.sh writes bl2 at sector 31 over its
      // last 256 bytes, so what the card holds (and the boot ROM reads) is its first 30 sectors
      { name: 'bl1', source: bl1, offset: 1 * SECTOR, count: 30 * SECTOR },
      { name: 'bl2', source: bl2, offset: 31 * SECTOR },
      { name: 'u-boot', source: uboot, offset: 63 * SECTOR },
      { name: 'tzsw', source: tzsw, offset: 1503 * SECTOR },
    ],
    initramfsModules: [
      // SD card and eMMC (DesignWare), their regulators on the S2MPS11 PMIC over HS-I2C
      'dw_mmc-exynos', 'dw_mmc-pltfm', 'dw_mmc', 's2mps11', 'clk-s2mps11', 'i2c-exynos5', 'gpio-regulator',
      // USB 3 (dwc3 on the Exynos glue and PHY)
      'dwc3-exynos', 'dwc3', 'phy-exynos5-usbdrd',
    ],
    qemu: { machine: 'arm-virt', console: 'ttyAMA0', memoryMiB: 1024 },
  });
}
