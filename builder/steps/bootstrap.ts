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
 * The layers' extra apt repositories (apt-sources step) are known to apt before its first
 * update, and left in the image with their keys; their debconf answers are given before any
 * package is installed. When the image stages YunoHost apps, their Debian dependencies (what
 * apt would add to this system, resolved now) are downloaded into a local repository in the
 * image, /var/lib/clic/offline-apt, for first boot to install with no network.
 *
 * Options (from the plan): suite, architecture, components, packages, mirror (mmdebstrap's
 * default mirror when none is given), extra apt repositories, debconf answers, apps' Debian
 * packages, SOURCE_DATE_EPOCH.
 * Example: mmdebstrap --mode=unshare --variant=minbase --architectures=arm64
 *   --components=main,non-free-firmware --include=linux-image-arm64,raspi-firmware,… bookworm ROOTFS
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sourceDate, type Step, type StepContext } from '../step.ts';
import { runCommand } from '../exec.ts';
import { isForeign, qemuUserBinary } from './host-tools.ts';
import { bootloaders, contentUdevRule, fstab, initramfsFsckConf } from '../bootloaders/index.ts';
import type { Plan } from '../recipe/plan.ts';
import { hashTree } from '../cache/keys.ts';
import { buildSourceParts, imageAptTree } from './apt-sources.ts';
import { writeFiles, type FileContent } from '../files.ts';
import { mirrorArgs } from './packages.ts';

export function aptCacheDir(cacheDir: string, plan: Plan): string {
  return join(cacheDir, 'apt-archives', `${plan.suite}-${plan.board.arch}`);
}

export function preinstallFiles(plan: Plan): Record<string, FileContent> {
  const udevRule = contentUdevRule(plan);
  return {
    'etc/fstab': { content: fstab(plan) },
    'etc/initramfs-tools/conf.d/clic-root-fsck': { content: initramfsFsckConf(plan) },
    ...(udevRule ? { 'etc/udev/rules.d/80-clic-content.rules': { content: udevRule } } : {}),
    ...bootloaders[plan.board.bootloader].preinstallFiles(plan),
  };
}

/** Folder of the image's local apt repository of the apps' Debian dependencies. */
export const OFFLINE_APT_DIR = '/var/lib/clic/offline-apt';

/** Debian packages the image's apps need, installed at first boot from the image's local repository. */
export function offlinePackages(plan: Plan): string[] {
  return [...new Set((plan.apps?.resolved ?? []).flatMap((a) => a.aptPackages))].sort();
}

// Run by a customize hook (root of the image, then packages): apt resolves the packages against
// the installed system, downloads them into the shared apt cache, and the ones it would install
// are copied to the local repository, indexed by dpkg-scanpackages (sorted, no dates). apt runs
// on the host (the chroot resolves no names) with the image as its root: its dpkg status, its
// lists (not cleaned yet), its architecture.
const OFFLINE_APT_SCRIPT = String.raw`set -e
root=$1; shift
repo="$root/var/lib/clic/offline-apt"
mkdir -p "$repo"
arch=$(chroot "$root" dpkg --print-architecture)
apt() { APT_CONFIG=/dev/null apt-get -o Dir="$root" -o APT::Architecture="$arch" \
  -o Acquire::Languages=none --yes --no-install-recommends install "$@"; }
apt --download-only "$@"
apt --simulate "$@" |
  sed -n 's/^Inst \([^ ]*\) \(\[[^]]*\] \)\{0,1\}(\([^ ]*\) .*\[\([^]]*\)\])$/\1 \3 \4/p' |
  while read -r name version arch; do
    cp "$root/var/cache/apt/archives/$name"_"$(printf %s "$version" | sed 's/:/%3a/')"_"$arch.deb" "$repo/"
  done
(cd "$repo" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null > Packages)
cat > "$root/etc/apt/sources.list.d/clic-offline.sources" <<EOF
# Debian packages of the image's apps, staged when the image was built (clic-image): first boot
# installs them from here with no network. Trusted: apt checked them against Debian's signed
# indices when it downloaded them for the build.
Types: deb
URIs: file:/var/lib/clic/offline-apt
Suites: ./
Trusted: yes
EOF
`;

/** Files the bootstrap's hooks read on the build host. */
export interface BootstrapFiles {
  preinstall: string;
  aptCache: string;
  /** The build's work folder: apt-sources trees, debconf answers, offline-apt script. */
  workDir: string;
}

// apt on the image's root from a hook, with mmdebstrap's configuration (its lists, status and
// cache are the image's)
const HOOK_APT = 'APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get';

// Run by a customize hook (root of the image, the resolved package list): installs, with their
// resolved versions, the packages of the one resolution that the first apt run left out — those
// of the layers' own repositories and what they pull in —, so that the image holds exactly the
// resolved set (apt alone could satisfy a dependency otherwise in a second run). Those that are
// not a layer's own packages are then marked as installed automatically, as in one run. Alone,
// apt would run the build HOST's dpkg: installs go through the image's dpkg, in the chroot, as
// mmdebstrap's own install phase does.
const D = '$'; // a shell ${…} in the raw template below
export const REPOSITORY_PACKAGES_SCRIPT = String.raw`set -e
root=$1 list=$2; shift 2
export LC_ALL=C
installed=$(dpkg-query --admindir="$root/var/lib/dpkg" --show --showformat='${D}{db:Status-Abbrev} ${D}{Package}=${D}{Version}:${D}{Architecture}\n' | sed -n 's/^ii  *//p' | sort)
# name=version:arch -> name:arch=version, as apt-get install takes an exact version
missing=$(printf '%s\n' "$installed" | comm -13 - "$list" | sed 's/^\([^=]*\)=\(.*\):\([^:]*\)$/\1:\3=\2/')
# shellcheck disable=SC2086 # one word per package
APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get -o Dir::Bin::dpkg=env -o DPkg::Options::=--unset=TMPDIR -o DPkg::Options::=dpkg \
  -o DPkg::Chroot-Directory="$root" --yes install $missing
dependencies=$(printf '%s\n' "$missing" | sed 's/[:=].*//' | grep -vxF -e "$(printf '%s\n' "$@")" || true)
# shellcheck disable=SC2086 # one word per package
[ -z "$dependencies" ] || APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-mark auto $dependencies >/dev/null
`;

export function mmdebstrapArgv(plan: Plan, rootfs: string, files: BootstrapFiles, debianSources: string[] | null = null): string[] {
  const { preinstall: preinstallDir, aptCache, workDir } = files;
  const offline = offlinePackages(plan);
  const mountpoints = plan.partitions.filter((p) => p.mountpoint !== '/').map((p) => `"$1${p.mountpoint}"`);
  const late = new Set(plan.repositoryPackages);
  const debian = plan.packages.filter((p) => !late.has(p));
  return [
    'mmdebstrap',
    '--mode=unshare',
    '--variant=minbase',
    `--architectures=${plan.board.arch}`,
    `--components=${plan.components.join(',')}`,
    `--include=${debian.join(',')}`,
    '--dpkgopt=force-confdef',
    '--dpkgopt=force-confold',
    '--aptopt=Acquire::Languages "none"',
    '--skip=download/empty',
    '--skip=essential/unlink',
    `--setup-hook=mkdir -p "$1/var/cache/apt/archives/"`,
    `--setup-hook=sync-in ${aptCache} /var/cache/apt/archives/`,
    `--essential-hook=sync-in ${preinstallDir} /`,
    ...(plan.debconf.length ? [`--essential-hook=chroot "$1" debconf-set-selections < ${join(workDir, 'debconf.preseed')}`] : []),
    ...(mountpoints.length ? [`--essential-hook=mkdir -p ${mountpoints.join(' ')}`] : []),
    '--essential-hook=chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs && ln -s /bin/true "$1/usr/sbin/update-initramfs"',
    // The extra repositories join after the essential phase: mmdebstrap takes every Essential
    // package of an archive named like the suite into it (YunoHost's is "bookworm", and its
    // yunohost package Essential: yes), and runs their scripts before systemd is there.
    ...(plan.aptSources.length
      ? [`--essential-hook=sync-in ${buildSourceParts(workDir)} /etc/apt/sources.list.d/`, `--essential-hook=${HOOK_APT} update --error-on=any`]
      : []),
    // their packages once the Debian system is configured (see LayerDef.packages)
    ...(late.size ? [`--customize-hook=sh ${join(workDir, 'repository-packages.sh')} "$1" ${join(workDir, 'resolved.packages')} ${[...late].join(' ')}`] : []),
    // the image's copy of the extra sources names its key inside the image
    ...(plan.aptSources.length ? [`--customize-hook=sync-in ${imageAptTree(workDir)} /`] : []),
    ...(offline.length ? [`--customize-hook=sh ${join(workDir, 'offline-apt.sh')} "$1" ${offline.join(' ')}`] : []),
    `--customize-hook=sync-out /var/cache/apt/archives ${aptCache}`,
    plan.suite,
    rootfs,
    ...mirrorArgs(plan, debianSources),
  ];
}

/** Packages installed in a root file system, as `name=version:arch`, sorted. */
export async function installedPackages(rootfs: string): Promise<string[]> {
  const { stdout } = await runCommand(['dpkg-query', `--admindir=${join(rootfs, 'var/lib/dpkg')}`, '--show', '--showformat=${db:Status-Abbrev} ${Package}=${Version}:${Architecture}\n']);
  return stdout.split('\n').filter((l) => l.startsWith('ii ')).map((l) => l.slice(3).trim()).sort();
}

async function toolVersion(argv: string[]): Promise<string> {
  return (await runCommand(argv)).stdout.split('\n', 1)[0].trim();
}

/** What the root file system depends on: the exact package set, the files written before the
 *  packages are installed, how mmdebstrap is called, its version and that of qemu-user. */
async function bootstrapInputs(ctx: StepContext): Promise<unknown> {
  if (!ctx.resolved) throw new Error('the package set is not resolved: the packages step must run first');
  const argv = mmdebstrapArgv(ctx.plan, '<rootfs>', { preinstall: '<preinstall>', aptCache: '<apt-cache>', workDir: '<work>' }, ctx.resolved.debianSources);
  return {
    argv,
    preinstall: preinstallFiles(ctx.plan),
    debconf: ctx.plan.debconf,
    aptSources: ctx.plan.aptSources.length ? await hashTree(imageAptTree(ctx.workDir)) : null,
    offlineApt: offlinePackages(ctx.plan).length ? OFFLINE_APT_SCRIPT : null,
    repositoryPackages: ctx.plan.repositoryPackages.length ? REPOSITORY_PACKAGES_SCRIPT : null,
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
      await writeFiles(preinstallDir, preinstallFiles(ctx.plan));
      const aptCache = aptCacheDir(cacheDir, ctx.plan);
      await mkdir(aptCache, { recursive: true });
      await rm(join(aptCache, 'partial'), { recursive: true, force: true });
      if (ctx.plan.debconf.length) await writeFile(join(ctx.workDir, 'debconf.preseed'), ctx.plan.debconf.join('\n') + '\n');
      if (offlinePackages(ctx.plan).length) await writeFile(join(ctx.workDir, 'offline-apt.sh'), OFFLINE_APT_SCRIPT);
      const resolved = ctx.resolved;
      if (!resolved) throw new Error('the package set is not resolved: the packages step must run first');
      if (ctx.plan.repositoryPackages.length) {
        await writeFile(join(ctx.workDir, 'repository-packages.sh'), REPOSITORY_PACKAGES_SCRIPT);
        await writeFile(join(ctx.workDir, 'resolved.packages'), [...resolved.packages].sort().join('\n') + '\n');
      }
      await ctx.run(mmdebstrapArgv(ctx.plan, ctx.rootfs, { preinstall: preinstallDir, aptCache, workDir: ctx.workDir }, resolved.debianSources), {
        env: { SOURCE_DATE_EPOCH: String(sourceDate(ctx)), TMPDIR: ctx.workDir },
      });
      // The manifest lists the resolved set: nothing may be installed that it does not list, in
      // another version or at all. (The simulation can list a package that the real run
      // satisfies otherwise: lsb-base, provided by sysvinit-utils once the essential phase has
      // installed it; that one is listed and not installed, as before.)
      const listed = new Set(resolved.packages);
      const unlisted = (await installedPackages(ctx.rootfs)).filter((p) => !listed.has(p));
      if (unlisted.length) {
        throw new Error(
          `the image holds ${unlisted.length} package version${unlisted.length === 1 ? '' : 's'} the resolution did not give:\n  ${unlisted.slice(0, 20).join('\n  ')}` +
            '\nhint: apt\'s runs (Debian\'s packages, then those of the layers\' own repositories) chose otherwise than the one resolution',
        );
      }
    },
  };
}
