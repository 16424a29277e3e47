/**
 * systemd-boot-efi — UEFI PCs: systemd-boot as the removable-media loader
 * (EFI/BOOT/BOOTX64.EFI on the EFI system partition), one loader entry, kernel and initrd
 * copied to the ESP. No NVRAM variable is needed, so the image boots on any UEFI machine.
 * A kernel and an initramfs hook (`clic-update-esp`) refresh the ESP at build time and on every
 * kernel update on the device (when the ESP is mounted at /boot/efi).
 *
 * Example entry: `linux /vmlinuz` `initrd /initrd.img` `options root=LABEL=CLICROOT … console=ttyS0,115200`
 */
import type { Bootloader } from './index.ts';
import { kernelCmdline } from './index.ts';

const UPDATE_ESP = (esp: string, options: string) => `#!/bin/sh
# Copies the newest kernel and initrd to the EFI system partition with systemd-boot as the
# removable-media loader. Written by clic-image; run by kernel and initramfs hooks.
set -e
esp=${esp}
[ -d "$esp" ] || exit 0
# on the device, only a mounted ESP is updated; in the image build (a chroot) the folder is the ESP
ischroot || mountpoint -q "$esp" || exit 0
kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel" ] || exit 0
initrd=/boot/initrd.img-\${kernel#/boot/vmlinuz-}
[ -e "$initrd" ] || exit 0
mkdir -p "$esp/EFI/BOOT" "$esp/loader/entries"
cp /usr/lib/systemd/boot/efi/systemd-bootx64.efi "$esp/EFI/BOOT/BOOTX64.EFI"
cp "$kernel" "$esp/vmlinuz"
cp "$initrd" "$esp/initrd.img"
printf 'timeout 0\\ndefault clic.conf\\n' > "$esp/loader/loader.conf"
printf 'title Debian (CLIC)\\nlinux /vmlinuz\\ninitrd /initrd.img\\noptions %s\\n' "${options}" > "$esp/loader/entries/clic.conf"
`;

const HOOK = '#!/bin/sh\nexec /usr/local/sbin/clic-update-esp\n';

export const systemdBootEfi: Bootloader = {
  preinstallFiles(plan) {
    const esp = plan.partitions.find((p) => p.type === 'U')?.mountpoint ?? '/boot/efi';
    const options = `${kernelCmdline(plan)} rw ${plan.board.consoles.map((c) => `console=${c}`).join(' ')}`;
    return {
      'usr/local/sbin/clic-update-esp': { content: UPDATE_ESP(esp, options), mode: 0o755 },
      'etc/kernel/postinst.d/zz-clic-update-esp': { content: HOOK, mode: 0o755 },
      'etc/initramfs/post-update.d/zz-clic-update-esp': { content: HOOK, mode: 0o755 },
    };
  },
};
