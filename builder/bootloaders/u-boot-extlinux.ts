/**
 * u-boot-extlinux — boards whose u-boot (written as raw regions before the first partition)
 * follows the distro-boot convention: it scans the bootable partition for
 * /boot/extlinux/extlinux.conf and boots the kernel, initrd and device tree it names. Debian's
 * u-boot-menu writes that file (u-boot-update) from /etc/default/u-boot on every kernel install;
 * an initramfs hook runs it again whenever an initrd is made, so the build (which makes the
 * initrd after the kernel is installed) and the device both get a complete entry.
 *
 * The hook is the same for every board, so boards that differ only by their device tree share
 * the bootstrap; /etc/default/u-boot (device tree, root, consoles) is written by the initramfs
 * step, just before the initrd and extlinux.conf are made.
 *
 * Boards whose u-boot looks for its own script first (the XU4's reads boot.ini) carry it as
 * bootFiles, written beside /etc/default/u-boot.
 *
 * Example (odroid-c4): `linux /boot/vmlinuz-6.1.0-…-arm64`, `initrd /boot/initrd.img-6.1.0-…`,
 *   `fdt /usr/lib/linux-image-6.1.0-…-arm64/amlogic/meson-sm1-odroid-c4.dtb`,
 *   `append root=LABEL=CLICROOT rootfstype=ext4 rootwait rw console=ttyAML0,115200 console=tty0`
 */
import type { Plan } from '../recipe/plan.ts';
import type { Bootloader } from './index.ts';
import { kernelCmdline, rootArgument } from './index.ts';

const UPDATE_HOOK = `#!/bin/sh
# Written by clic-image: extlinux.conf names the initrd only once it exists, so write it again
# after every new initrd (u-boot-menu itself runs only after a kernel is installed).
[ -x /usr/sbin/u-boot-update ] || exit 0
exec /usr/sbin/u-boot-update
`;

/** /etc/default/u-boot for the board: what u-boot-update(8) writes into extlinux.conf. */
export function ubootDefaults(plan: Plan): string {
  const root = rootArgument(plan);
  // u-boot-update writes U_BOOT_ROOT and U_BOOT_PARAMETERS side by side on the append line
  const rest = kernelCmdline(plan).replace(root, '').trim();
  const parameters = [rest, 'rw', ...plan.board.consoles.map((c) => `console=${c}`)].join(' ');
  return [
    `# Written by clic-image for board ${plan.board.name}: u-boot-update(8) makes`,
    '# /boot/extlinux/extlinux.conf from these settings after each kernel or initrd update.',
    // one entry, no menu: nobody is at the console of a kit in the field
    'U_BOOT_ALTERNATIVES="default"',
    'U_BOOT_PROMPT="0"',
    'U_BOOT_TIMEOUT="10"',
    'U_BOOT_MENU_LABEL="CLIC (Debian)"',
    `U_BOOT_ROOT="${root}"`,
    `U_BOOT_PARAMETERS="${parameters}"`,
    `U_BOOT_FDT="${plan.board.deviceTree ?? ''}"`,
    '',
  ].join('\n');
}

export const ubootExtlinux: Bootloader = {
  preinstallFiles() {
    return { 'etc/initramfs/post-update.d/zz-clic-u-boot-update': { content: UPDATE_HOOK, mode: 0o755 } };
  },
  configureFiles(plan) {
    const extra = Object.entries(plan.board.bootFiles ?? {}).map(([path, content]) => [path.replace(/^\/+/, ''), { content }]);
    return { 'etc/default/u-boot': { content: ubootDefaults(plan) }, ...Object.fromEntries(extra) };
  },
};
