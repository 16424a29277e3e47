/**
 * What every arm64 Raspberry Pi board shares, the Debian way: Debian's arm64 kernel and the
 * raspi-firmware package, whose hooks fill the FAT partition (GPU firmware, DTBs for Pi 3 and
 * 4, kernel, initrd, config.txt, cmdline.txt naming the root by label), wifi firmware, serial
 * console on the GPIO mini-UART (ttyS1), MBR with the FAT partition first.
 *
 *   export default raspiBoard({ name: 'rpi4', description: '…', qemu: { … } });
 */
import { defineBoard, type BoardDef } from '../../../builder/recipe/define.ts';

export function raspiBoard(board: Pick<BoardDef, 'name' | 'description' | 'qemu'>): BoardDef {
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
  });
}
