/**
 * initramfs — builds the initramfs once, right after the bootstrap, before any layer: it depends
 * on the kernel, the packages' hooks and the board's module list, not on what the layers add,
 * so a change in a layer does not rebuild it (under qemu-user that takes minutes). Restores
 * `update-initramfs` (diverted during the bootstrap so that no kernel or firmware trigger
 * builds it before), then runs it; the board's kernel and initramfs hooks put kernel, initrd,
 * DTBs and boot configuration into the boot partition's folder. It records a fingerprint of
 * everything an initramfs is made from; finalize builds it again only if a layer changed that.
 *
 * Board settings the boot hooks read then (the bootloader's configureFiles, e.g. u-boot-menu's
 * /etc/default/u-boot) are written first: they are not in the bootstrap, which boards that
 * differ only by them share.
 *
 * Options (from the board): initramfsModules — when given, MODULES=list with only these modules
 * (and their dependencies): seconds instead of minutes under emulation; otherwise
 * initramfs-tools' default MODULES=most.
 * Example: rpi4 → MODULES=list, ext4 sdhci-iproc bcm2835 … → /boot/firmware/initrd.img-6.1.0-…-arm64
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { chrootArgv } from '../chroot.ts';
import { sourceDate, type Step, type StepContext } from '../step.ts';
import { bootloaders } from '../bootloaders/index.ts';
import { writeFiles, type FileContent } from '../files.ts';
import type { Plan } from '../recipe/plan.ts';

const RESTORE_AND_BUILD = `
rm -f /usr/sbin/update-initramfs
dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs
update-initramfs -c -k all
`;

/** What an initramfs is made from (paths inside the image): configuration, hooks and scripts,
 *  kernel modules and firmware, udev, the programs hooks copy in, the boot hooks' settings. */
export const INITRAMFS_INPUTS = [
  'etc/initramfs-tools', 'usr/share/initramfs-tools', 'etc/initramfs', 'etc/kernel',
  'etc/modprobe.d', 'usr/lib/modprobe.d', 'usr/lib/modules', 'usr/lib/firmware',
  // initramfs-tools' udev hook takes udev.conf and rules of fixed names, mostly from usr/lib/udev
  'etc/udev/udev.conf', 'usr/lib/udev', 'usr/bin', 'usr/sbin',
  'etc/fstab', 'etc/crypttab', 'etc/default/raspi-firmware', 'etc/default/raspi-extra-cmdline',
  'etc/default/u-boot', 'etc/u-boot-menu',
];

/** Where the fingerprint waits, inside the image, until finalize reads and removes it. */
export const FINGERPRINT_FILE = 'var/lib/clic-image/initramfs-inputs.sha256';

/** sha256 over the names, types, modes, owners and link targets of every entry under
 *  INITRAMFS_INPUTS, and the sha256 of every file's bytes: content only, no times (they tell
 *  when a build ran, not what it made) and no folder sizes (they tell a folder's history: the
 *  same folder unpacked from the step cache is smaller). */
export const FINGERPRINT_SCRIPT = `cd "$1" && shift && for p; do
  [ -e "$p" ] || [ -L "$p" ] || continue
  find "$p" -printf '%p %y %m %U %G %l\\n'
  find "$p" -type f -exec sha256sum -- {} +
done | LC_ALL=C sort | sha256sum`;

export async function initramfsFingerprint(ctx: StepContext): Promise<string> {
  const { stdout } = await ctx.run(['sh', '-c', FINGERPRINT_SCRIPT, 'fingerprint', ctx.rootfs, ...INITRAMFS_INPUTS]);
  return stdout.split(' ', 1)[0];
}

export async function recordedFingerprint(ctx: StepContext): Promise<string | null> {
  return readFile(join(ctx.rootfs, FINGERPRINT_FILE), 'utf8').then((s) => s.trim(), () => null);
}

/** Files the step writes before building: the board's module list, the bootloader's settings. */
export function boardFiles(plan: Plan): Record<string, FileContent> {
  const modules = plan.board.initramfsModules;
  return {
    ...(modules?.length
      ? {
          'etc/initramfs-tools/conf.d/clic-modules': { content: '# written by clic-image: only the modules of /etc/initramfs-tools/modules\nMODULES=list\n' },
          'etc/initramfs-tools/modules': { content: `# written by clic-image for board ${plan.board.name}\n${modules.join('\n')}\n` },
        }
      : {}),
    ...(bootloaders[plan.board.bootloader].configureFiles?.(plan) ?? {}),
  };
}

export const initramfsStep: Step = {
  name: 'initramfs',
  async cacheInputs(ctx) {
    return {
      boardFiles: boardFiles(ctx.plan),
      script: RESTORE_AND_BUILD,
      chroot: chrootArgv('<rootfs>', '<script>'),
      inputs: INITRAMFS_INPUTS,
      fingerprint: FINGERPRINT_SCRIPT,
      sourceDateEpoch: sourceDate(ctx),
    };
  },
  async run(ctx) {
    await writeFiles(ctx.rootfs, boardFiles(ctx.plan));
    await ctx.run(chrootArgv(ctx.rootfs, RESTORE_AND_BUILD, { SOURCE_DATE_EPOCH: String(sourceDate(ctx)) }));
    const file = join(ctx.rootfs, FINGERPRINT_FILE);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, (await initramfsFingerprint(ctx)) + '\n');
  },
};
