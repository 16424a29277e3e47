/**
 * initramfs — builds the initramfs once, right after the bootstrap, before any layer: it depends
 * on the kernel, the packages' hooks and the board's module list, not on what the layers add,
 * so a change in a layer does not rebuild it (under qemu-user that takes minutes). Restores
 * `update-initramfs` (diverted during the bootstrap so that no kernel or firmware trigger
 * builds it before), then runs it; the board's kernel and initramfs hooks put kernel, initrd,
 * DTBs and boot configuration into the boot partition's folder. It records a fingerprint of
 * everything an initramfs is made from; finalize builds it again only if a layer changed that.
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
];

/** Where the fingerprint waits, inside the image, until finalize reads and removes it. */
export const FINGERPRINT_FILE = 'var/lib/clic-image/initramfs-inputs.sha256';

/** sha256 over the names, types, modes, owners, modification times, and for all but folders
 *  the sizes and link targets, of every entry under INITRAMFS_INPUTS. (A folder's size tells
 *  its history, not its content: the same folder unpacked from the step cache is smaller.) */
export const FINGERPRINT_SCRIPT = `cd "$1" && shift && for p; do
  [ -e "$p" ] || [ -L "$p" ] || continue
  find "$p" -type d -printf '%p %y %m %U %G %T@\\n' -o -printf '%p %y %m %U %G %T@ %s %l\\n'
done | LC_ALL=C sort | sha256sum`;

export async function initramfsFingerprint(ctx: StepContext): Promise<string> {
  const { stdout } = await ctx.run(['sh', '-c', FINGERPRINT_SCRIPT, 'fingerprint', ctx.rootfs, ...INITRAMFS_INPUTS]);
  return stdout.split(' ', 1)[0];
}

export async function recordedFingerprint(ctx: StepContext): Promise<string | null> {
  return readFile(join(ctx.rootfs, FINGERPRINT_FILE), 'utf8').then((s) => s.trim(), () => null);
}

export async function writeModuleList(ctx: StepContext): Promise<void> {
  const modules = ctx.plan.board.initramfsModules;
  if (!modules?.length) return;
  await writeFile(join(ctx.rootfs, 'etc/initramfs-tools/conf.d/clic-modules'), '# written by clic-image: only the modules of /etc/initramfs-tools/modules\nMODULES=list\n');
  await writeFile(join(ctx.rootfs, 'etc/initramfs-tools/modules'), `# written by clic-image for board ${ctx.plan.board.name}\n${modules.join('\n')}\n`);
}

export const initramfsStep: Step = {
  name: 'initramfs',
  async cacheInputs(ctx) {
    return {
      modules: ctx.plan.board.initramfsModules ?? null,
      script: RESTORE_AND_BUILD,
      chroot: chrootArgv('<rootfs>', '<script>'),
      inputs: INITRAMFS_INPUTS,
      fingerprint: FINGERPRINT_SCRIPT,
      sourceDateEpoch: sourceDate(ctx),
    };
  },
  async run(ctx) {
    await writeModuleList(ctx);
    await ctx.run(chrootArgv(ctx.rootfs, RESTORE_AND_BUILD, { SOURCE_DATE_EPOCH: String(sourceDate(ctx)) }));
    const file = join(ctx.rootfs, FINGERPRINT_FILE);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, (await initramfsFingerprint(ctx)) + '\n');
  },
};
