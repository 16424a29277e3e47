/**
 * bootstrap — builds the Debian root file system with mmdebstrap, every package of the plan in
 * one dependency resolution.
 *
 * Runs in mmdebstrap's `unshare` mode: as root it keeps real ownership but does its mounts in a
 * private mount namespace, so nothing stays mounted if it is killed. Right after the essential
 * packages, the board's files are written (fstab, bootloader settings that package hooks read),
 * and `update-initramfs` is diverted to `true`: under qemu-user each kernel and firmware trigger
 * would rebuild the initramfs, so the finalize step builds it once, at the end. Downloaded .debs
 * are kept in a shared apt cache between builds. Cached by the exact package set (see packages).
 *
 * Options (from the plan): suite, architecture, components, packages, mirror (mmdebstrap's
 * default mirror when none is given), SOURCE_DATE_EPOCH.
 * Example: mmdebstrap --mode=unshare --variant=minbase --architectures=arm64
 *   --components=main,non-free-firmware --include=linux-image-arm64,raspi-firmware,… bookworm ROOTFS
 */
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sourceDate, type Step, type StepContext } from '../step.ts';
import { runCommand } from '../exec.ts';
import { isForeign, qemuUserBinary } from './host-tools.ts';
import { bootloaders, fstab } from '../bootloaders/index.ts';
import type { Plan } from '../recipe/plan.ts';

export function aptCacheDir(cacheDir: string, plan: Plan): string {
  return join(cacheDir, 'apt-archives', `${plan.suite}-${plan.board.arch}`);
}

export function preinstallFiles(plan: Plan): Record<string, { content: string; mode?: number }> {
  return {
    'etc/fstab': { content: fstab(plan) },
    ...bootloaders[plan.board.bootloader].preinstallFiles(plan),
  };
}

export function mmdebstrapArgv(plan: Plan, rootfs: string, preinstallDir: string, aptCache: string): string[] {
  const mountpoints = plan.partitions.filter((p) => p.mountpoint !== '/').map((p) => `"$1${p.mountpoint}"`);
  return [
    'mmdebstrap',
    '--mode=unshare',
    '--variant=minbase',
    `--architectures=${plan.board.arch}`,
    `--components=${plan.components.join(',')}`,
    `--include=${plan.packages.join(',')}`,
    '--dpkgopt=force-confdef',
    '--dpkgopt=force-confold',
    '--aptopt=Acquire::Languages "none"',
    '--skip=download/empty',
    '--skip=essential/unlink',
    `--setup-hook=mkdir -p "$1/var/cache/apt/archives/"`,
    `--setup-hook=sync-in ${aptCache} /var/cache/apt/archives/`,
    `--essential-hook=sync-in ${preinstallDir} /`,
    ...(mountpoints.length ? [`--essential-hook=mkdir -p ${mountpoints.join(' ')}`] : []),
    '--essential-hook=chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs && ln -s /bin/true "$1/usr/sbin/update-initramfs"',
    `--customize-hook=sync-out /var/cache/apt/archives ${aptCache}`,
    plan.suite,
    rootfs,
    ...(plan.mirror ? [plan.mirror] : []),
  ];
}

async function toolVersion(argv: string[]): Promise<string> {
  return (await runCommand(argv)).stdout.split('\n', 1)[0].trim();
}

/** What the root file system depends on: the exact package set, the files written before the
 *  packages are installed, how mmdebstrap is called, its version and that of qemu-user. */
async function bootstrapInputs(ctx: StepContext): Promise<unknown> {
  if (!ctx.resolved) throw new Error('the package set is not resolved: the packages step must run first');
  const argv = mmdebstrapArgv(ctx.plan, '<rootfs>', '<preinstall>', '<apt-cache>');
  return {
    argv,
    preinstall: preinstallFiles(ctx.plan),
    packages: ctx.resolved.packages,
    sourceDateEpoch: sourceDate(ctx),
    mmdebstrap: await toolVersion(['mmdebstrap', '--version']),
    qemu: isForeign(ctx.plan) ? await toolVersion([qemuUserBinary(ctx.plan), '--version']) : null,
  };
}

export function bootstrapStep(cacheDir: string): Step {
  return {
    name: 'bootstrap',
    cacheInputs: bootstrapInputs,
    async run(ctx) {
      const preinstallDir = join(ctx.workDir, 'preinstall');
      for (const [path, { content, mode }] of Object.entries(preinstallFiles(ctx.plan))) {
        const file = join(preinstallDir, path);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, content);
        await chmod(file, mode ?? 0o644);
      }
      const aptCache = aptCacheDir(cacheDir, ctx.plan);
      await mkdir(aptCache, { recursive: true });
      await rm(join(aptCache, 'partial'), { recursive: true, force: true });
      await ctx.run(mmdebstrapArgv(ctx.plan, ctx.rootfs, preinstallDir, aptCache), {
        env: { SOURCE_DATE_EPOCH: String(sourceDate(ctx)), TMPDIR: ctx.workDir },
      });
    },
  };
}
