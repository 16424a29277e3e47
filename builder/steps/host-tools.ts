/**
 * host-tools — checks, before anything runs, that every host program the plan needs is installed
 * (naming the Debian package that provides each missing one), that the build runs as root, and,
 * for a foreign architecture, registers qemu-user through binfmt_misc so the image's programs can
 * run during the build.
 *
 * Options: none; what is needed follows from the plan (board architecture, filesystems).
 * Example: an arm64 image on an x86_64 host needs qemu-user-static and binfmt-support, and
 * `/proc/sys/fs/binfmt_misc` mounted; this step mounts it and enables `qemu-aarch64` if needed.
 */
import { access, constants, readFile } from 'node:fs/promises';
import { arch as hostArch } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Plan } from '../recipe/plan.ts';
import type { Step } from '../step.ts';
import { HostToolError } from '../errors.ts';

export interface HostTool {
  tool: string;
  debianPackage: string;
  why: string;
}

const QEMU_NAMES: Record<string, string> = { arm64: 'aarch64', armhf: 'arm', amd64: 'x86_64' };
const NODE_TO_DEBIAN: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'armhf' };

export const isForeign = (plan: Plan) => NODE_TO_DEBIAN[hostArch()] !== plan.board.arch;
export const qemuUserBinary = (plan: Plan) => `qemu-${QEMU_NAMES[plan.board.arch]}-static`;

export function hostToolsFor(plan: Plan): HostTool[] {
  const tools: HostTool[] = [
    { tool: 'mmdebstrap', debianPackage: 'mmdebstrap', why: 'bootstraps the Debian root file system' },
    { tool: 'unshare', debianPackage: 'util-linux', why: 'runs layer commands in a private mount namespace' },
    { tool: 'sfdisk', debianPackage: 'fdisk', why: 'writes the partition table into the image file' },
    { tool: 'mkfs.ext4', debianPackage: 'e2fsprogs', why: 'makes the root file system from a folder (-d)' },
    { tool: 'dd', debianPackage: 'coreutils', why: 'places partitions at their offsets' },
    { tool: 'debugfs', debianPackage: 'e2fsprogs', why: 'dates every inode of the root file system (reproducible images)' },
    { tool: 'tar', debianPackage: 'tar', why: 'stores and replays cached steps, stages partition content in a fixed order' },
    { tool: 'zstd', debianPackage: 'zstd', why: 'compresses the step cache (and the image, for .img.zst)' },
    { tool: 'bmaptool', debianPackage: 'bmap-tools', why: "writes the image's block map (.bmap): flashing writes only the blocks with data" },
  ];
  if (plan.output.compressed.some((c) => c.format === 'xz')) {
    tools.push({ tool: 'xz', debianPackage: 'xz-utils', why: 'writes the .img.xz copy that flashing tools take' });
  }
  if (plan.partitions.some((p) => p.fs === 'vfat')) {
    tools.push({ tool: 'mkfs.vfat', debianPackage: 'dosfstools', why: 'makes the FAT boot partition' });
    tools.push({ tool: 'mcopy', debianPackage: 'mtools', why: 'fills the FAT partition without mounting it' });
  }
  if (plan.rawRegions.some((r) => r.source.member !== undefined)) {
    tools.push({ tool: 'dpkg-deb', debianPackage: 'dpkg', why: "takes a bootloader file out of the Debian package it is pinned in" });
  }
  if (plan.content?.sets.some((s) => s.requests.length)) {
    tools.push({ tool: 'kiwix-manage', debianPackage: 'kiwix-tools', why: 'writes the kiwix library.xml of the content partition' });
  }
  if (plan.aptSources.length) {
    tools.push({ tool: 'gpg', debianPackage: 'gpg', why: 'checks the fingerprint of each extra apt repository key' });
  }
  if (plan.apps?.requests.length) {
    tools.push({ tool: 'git', debianPackage: 'git', why: 'fetches each YunoHost app package at its pinned revision' });
    tools.push({ tool: 'dpkg-scanpackages', debianPackage: 'dpkg-dev', why: "indexes the image's local repository of the apps' Debian packages" });
  }
  if (isForeign(plan)) {
    tools.push({ tool: qemuUserBinary(plan), debianPackage: 'qemu-user-static', why: 'runs foreign-architecture programs during the build' });
    tools.push({ tool: 'update-binfmts', debianPackage: 'binfmt-support', why: 'registers qemu-user with binfmt_misc' });
    tools.push({ tool: 'arch-test', debianPackage: 'arch-test', why: 'checks that the foreign architecture can run' });
  }
  return tools;
}

export async function findInPath(tool: string): Promise<string | null> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    const candidate = join(dir, tool);
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return null;
}

export async function missingHostTools(plan: Plan): Promise<HostTool[]> {
  const tools = hostToolsFor(plan);
  const found = await Promise.all(tools.map((t) => findInPath(t.tool)));
  return tools.filter((_, i) => !found[i]);
}

export const hostToolsStep: Step = {
  name: 'host-tools',
  async verify(ctx) {
    if (process.getuid?.() !== 0) throw new Error('clic-image build must run as root (mmdebstrap, chroot and mkfs need it)');
    const missing = await missingHostTools(ctx.plan);
    if (missing.length) throw new HostToolError(missing.map((m) => ({ tool: m.tool, debianPackage: m.debianPackage })));
  },
  async run(ctx) {
    if (!isForeign(ctx.plan)) return;
    const qemu = QEMU_NAMES[ctx.plan.board.arch];
    const status = await readFile('/proc/sys/fs/binfmt_misc/status', 'utf8').catch(() => null);
    if (status === null) await ctx.run(['mount', '-t', 'binfmt_misc', 'binfmt_misc', '/proc/sys/fs/binfmt_misc']);
    const entry = await readFile(`/proc/sys/fs/binfmt_misc/qemu-${qemu}`, 'utf8').catch(() => '');
    if (!entry.startsWith('enabled')) await ctx.run(['update-binfmts', '--enable', `qemu-${qemu}`]);
    await ctx.run(['arch-test', ctx.plan.board.arch]);
  },
};

/** Installs the Debian packages that provide the missing host tools (apt-get, as root). */
export async function installHostTools(plan: Plan, onLine?: (line: string) => void): Promise<string[]> {
  const missing = await missingHostTools(plan);
  const packages = [...new Set(missing.map((m) => m.debianPackage))];
  if (!packages.length) return [];
  const { runCommand } = await import('../exec.ts');
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await runCommand(['apt-get', 'update'], { env, onLine });
  await runCommand(['apt-get', 'install', '-y', '--no-install-recommends', ...packages], { env, onLine });
  return packages;
}
