/**
 * finalize — makes the root file system ready to ship: builds the initramfs again if a layer
 * changed what it is made from (see initramfs), checks that every boot partition got content,
 * and removes what must not be shared by every device made from the image or would change
 * between two builds: machine-id, SSH host keys and the layers' other device secrets
 * (LayerDef.deviceSecrets: YunoHost's certificates), logs, apt lists and caches, random seeds,
 * the build host's resolv.conf (a package's link there stays). (File times later than
 * SOURCE_DATE_EPOCH are clamped to it after every root file system step, by the pipeline.)
 *
 * Options: none (the boot partitions come from the board).
 * Example: arm64 Pi → /boot/firmware holds vmlinuz, initrd.img, bcm*.dtb, config.txt, cmdline.txt.
 */
import { lstat, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sourceDate, type Step } from '../step.ts';
import { chrootArgv } from '../chroot.ts';
import { FINGERPRINT_FILE, FINGERPRINT_SCRIPT, INITRAMFS_INPUTS, initramfsFingerprint, recordedFingerprint } from './initramfs.ts';

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
    return {
      initramfsInputs: INITRAMFS_INPUTS,
      fingerprint: FINGERPRINT_SCRIPT,
      chroot: chrootArgv('<rootfs>', '<script>'),
      leftovers: BUILD_LEFTOVERS,
      resolvConf: 'kept when a link',
      deviceSecrets: ctx.plan.deviceSecrets,
      bootFolders: ctx.plan.partitions.filter((p) => p.mountpoint !== '/' && !p.content).map((p) => [p.label, p.mountpoint]),
      sourceDateEpoch: sourceDate(ctx),
    };
  },
  async run(ctx) {
    const recorded = await recordedFingerprint(ctx);
    if (recorded === null || recorded !== (await initramfsFingerprint(ctx))) {
      ctx.events.emit({ type: 'output', step: 'finalize', line: 'a layer changed what the initramfs is made from: building it again' });
      await ctx.run(chrootArgv(ctx.rootfs, 'update-initramfs -u -k all', { SOURCE_DATE_EPOCH: String(sourceDate(ctx)) }));
    }
    await rm(join(ctx.rootfs, dirname(FINGERPRINT_FILE)), { recursive: true, force: true });
    for (const p of ctx.plan.partitions.filter((p) => p.mountpoint !== '/')) {
      const entries = await readdir(join(ctx.rootfs, p.mountpoint)).catch(() => []);
      if (p.content) {
        // the content partition is made from the downloads: files here would be hidden under it
        if (entries.length) throw new Error(`${p.mountpoint} holds ${entries.slice(0, 3).join(', ')}, which the ${p.label} partition mounted there would hide: layers must not write there`);
        continue;
      }
      if (!entries.length) throw new Error(`the ${p.label} partition (${p.mountpoint}) is empty after the boot hooks ran`);
    }
    // An empty machine-id makes systemd create one on the first boot, unique to each device.
    await writeFile(join(ctx.rootfs, 'etc/machine-id'), '');
    // /etc/resolv.conf as a file is the build host's copy; as a link it is a package's own
    // (systemd-resolved's, resolvconf's, whose postinst makes it and nothing at boot would again)
    const resolvLink = (await lstat(join(ctx.rootfs, 'etc/resolv.conf')).catch(() => null))?.isSymbolicLink() ?? false;
    const removed = [...BUILD_LEFTOVERS.filter((p) => !(p === '/etc/resolv.conf' && resolvLink)), ...ctx.plan.deviceSecrets];
    await ctx.run(['sh', '-c', `cd "$1" && rm -rf -- ${removed.map((p) => `.${p}`).join(' ')}`, 'sh', ctx.rootfs]);
  },
};
