/**
 * Runs a shell script inside the image's root file system.
 *
 * The chroot gets /proc, /sys and /dev mounted inside a private mount and PID namespace
 * (`unshare`): when the command ends or is killed, the kernel drops those mounts and every
 * process started inside, so an interrupted build can leave neither behind. systemd sees a
 * chroot and starts no service; policy-rc.d keeps sysvinit scripts from starting one either.
 *
 *   await ctx.run(chrootArgv(ctx.rootfs, 'update-initramfs -c -k all'));
 */

const SETUP = `
set -e
root=$1; shift
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
mount -t tmpfs tmpfs "$root/tmp"
# /usr/sbin gets its modification time back afterwards: the step cache sees only real changes
sbin_time=$(mktemp)
touch -r "$root/usr/sbin" "$sbin_time"
printf '#!/bin/sh\\nexit 101\\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
trap 'rm -f "$root/usr/sbin/policy-rc.d"; touch -r "$sbin_time" "$root/usr/sbin"; rm -f "$sbin_time"' EXIT
chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
  LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
`;

export function chrootArgv(rootfs: string, script: string, env: Record<string, string> = {}): string[] {
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return [
    'unshare', '--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private', '--',
    '/bin/sh', '-c', SETUP, 'clic-chroot', rootfs,
    ...envArgs.length ? ['/usr/bin/env', ...envArgs] : [],
    '/bin/sh', '-ec', script,
  ];
}
