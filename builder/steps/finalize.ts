/**
 * finalize — makes the root file system ready to ship: restores `update-initramfs` (diverted
 * during bootstrap), builds the initramfs once (the board's kernel and initramfs hooks then put
 * kernel, initrd, DTBs and boot configuration on the boot partition's folder), checks that every
 * boot partition got content, and removes what must not be shared by every device made from the
 * image or would change between two builds: machine-id, SSH host keys, logs, apt lists and
 * caches, random seeds; file times later than SOURCE_DATE_EPOCH are clamped to it.
 *
 * Options (from the board): initramfsModules — when given, MODULES=list with only these modules
 * (much faster under emulation); otherwise initramfs-tools' default MODULES=most.
 * Example: arm64 Pi → /boot/firmware gets vmlinuz, initrd.img, bcm*.dtb, config.txt, cmdline.txt.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sourceDate, type Step } from '../step.ts';
import { chrootArgv } from '../chroot.ts';

const RESTORE_INITRAMFS = `
rm -f /usr/sbin/update-initramfs
dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs
update-initramfs -c -k all
`;

/** Paths (inside the image) removed before the file systems are made; globs allowed. */
export const BUILD_LEFTOVERS = [
  '/etc/ssh/ssh_host_*',
  '/var/lib/dbus/machine-id',
  '/var/lib/systemd/random-seed',
  '/var/lib/apt/lists/*',
  '/var/cache/apt/*.bin',
  '/var/cache/apt/archives/*.deb',
  '/var/cache/debconf/*-old',
  '/var/lib/dpkg/*-old',
  '/var/log/*.log',
  '/var/log/apt/*',
  '/etc/resolv.conf',
  '/tmp/*',
  '/var/tmp/*',
];

export const finalizeStep: Step = {
  name: 'finalize',
  async cacheInputs(ctx) {
    const { board, partitions } = ctx.plan;
    return {
      initramfsModules: board.initramfsModules ?? null,
      restore: RESTORE_INITRAMFS,
      leftovers: BUILD_LEFTOVERS,
      bootFolders: partitions.filter((p) => p.mountpoint !== '/').map((p) => [p.label, p.mountpoint]),
      sourceDateEpoch: sourceDate(ctx),
    };
  },
  async run(ctx) {
    const { board } = ctx.plan;
    if (board.initramfsModules?.length) {
      await writeFile(join(ctx.rootfs, 'etc/initramfs-tools/conf.d/clic-modules'), 'MODULES=list\n');
      await writeFile(join(ctx.rootfs, 'etc/initramfs-tools/modules'), board.initramfsModules.join('\n') + '\n');
    }
    await ctx.run(chrootArgv(ctx.rootfs, RESTORE_INITRAMFS, { SOURCE_DATE_EPOCH: String(sourceDate(ctx)) }));
    for (const p of ctx.plan.partitions.filter((p) => p.mountpoint !== '/')) {
      const entries = await readdir(join(ctx.rootfs, p.mountpoint)).catch(() => []);
      if (!entries.length) throw new Error(`the ${p.label} partition (${p.mountpoint}) is empty after the boot hooks ran`);
    }
    // An empty machine-id makes systemd create one on the first boot, unique to each device.
    await writeFile(join(ctx.rootfs, 'etc/machine-id'), '');
    await ctx.run(['sh', '-c', `cd "$1" && rm -rf -- ${BUILD_LEFTOVERS.map((p) => `.${p}`).join(' ')}`, 'sh', ctx.rootfs]);
    // Files written during the build carry today's time: clamp them to SOURCE_DATE_EPOCH, so the
    // file systems (and the FAT copies of boot files) do not depend on when the build ran.
    const epoch = `@${sourceDate(ctx)}`;
    await ctx.run(['find', ctx.rootfs, '-newermt', epoch, '-exec', 'touch', '--no-dereference', '--date', epoch, '{}', '+']);
  },
};
