/**
 * raspi-firmware — the Raspberry Pi boots its GPU firmware from the FAT partition, which then
 * loads the kernel, DTB and initrd named in config.txt with cmdline.txt as kernel arguments.
 * Debian's raspi-firmware package writes all of these into /boot/firmware from its kernel and
 * initramfs hooks; it only needs /etc/default/raspi-firmware to name our root partition (in a
 * chroot it would otherwise guess from the build host) and the consoles.
 *
 * Example: ROOTPART=LABEL=RASPIROOT, CONSOLES="ttyS1,115200 tty0" → cmdline.txt
 *   `console=tty0 console=ttyS1,115200 root=LABEL=RASPIROOT rw fsck.repair=yes net.ifnames=0 …`
 */
import type { Bootloader } from './index.ts';

export const raspiFirmware: Bootloader = {
  preinstallFiles(plan) {
    const root = plan.partitions.find((p) => p.mountpoint === '/')!;
    return {
      'etc/default/raspi-firmware': {
        content:
          `# written by clic-image for board ${plan.board.name}\n` +
          `ROOTPART=LABEL=${root.label}\n` +
          `CONSOLES="${plan.board.consoles.join(' ')}"\n`,
      },
    };
  },
};
