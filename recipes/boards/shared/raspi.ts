/**
 * What every arm64 Raspberry Pi board shares, the Debian way: Debian's arm64 kernel and the
 * raspi-firmware package, whose hooks fill the FAT partition (GPU firmware, DTBs for Pi 3 and
 * 4, kernel, initrd, config.txt, cmdline.txt naming the root by label), wifi firmware, serial
 * console on the GPIO mini-UART (ttyS1), MBR with the FAT partition first.
 *
 *   export default raspiBoard({ name: 'rpi4', description: '…', qemu: { … } });
 */
import { defineBoard, type BoardDef } from '../../../builder/recipe/define.ts';

export function raspiBoard(board: Pick<BoardDef, 'name' | 'description' | 'qemu' | 'imagerDevices'>): BoardDef {
  return defineBoard({
    ...board,
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
    // What it takes to mount the root file system on a Pi 3, 4 or 400, from SD card or USB disk
    // (the rest of the drivers these boards need are built into Debian's arm64 kernel, or
    // loaded from the root file system once mounted). MODULES=most would also take every
    // network, SCSI, ATA and HID driver: ~11 min under qemu-user instead of ~30 s.
    initramfsModules: [
      // the root file system
      'ext4', 'crc32c',
      // SD card: Pi 4's emmc2 and Pi 3's sdhci (sdhci-iproc), Pi 3's sdhost (bcm2835), and the
      // Pi 4's SD card power and signal-voltage regulators, which emmc2 waits for
      'sdhci-iproc', 'bcm2835', 'fixed', 'gpio-regulator',
      // USB disk: Pi 3's dwc2 and its PHY; Pi 4's VL805 xHCI on PCIe, whose firmware is loaded
      // through reset-raspberrypi; USB mass storage (BOT and UAS) and SCSI disks
      'dwc2', 'phy-generic', 'xhci-pci', 'reset-raspberrypi', 'usb-storage', 'uas', 'sd_mod',
      // a USB keyboard in the initramfs emergency shell
      'usbhid', 'hid-generic',
      // QEMU's generic arm64 machine, where the tests boot the same kernel
      'virtio_pci', 'virtio_mmio', 'virtio_blk',
    ],
  });
}
