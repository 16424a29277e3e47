/**
 * The three builders the benchmark (test/bench/compare.ts) runs on the same minimal Raspberry Pi
 * image, each as a cold build and as a rebuild after one overlay file of the top layer changed:
 *
 *   clic-image  its CLI: `clic-image build clic-rpi4 --out DIR --cache-dir DIR --json`; the rebuild
 *               runs the same command again with the same cache folder (its step cache).
 *   debos       test/bench/debos/rootfs.yaml (debootstrap + packages → tarball) then image.yaml
 *               (tarball + overlays → disk image); the rebuild runs image.yaml alone. Runs with
 *               --disable-fakemachine: fakemachine cannot run on this host (see compare.ts).
 *   vmdb2       test/bench/vmdb2/clic-rpi4.vmdb with --rootfs-tarball: the cold build saves the
 *               root file system before the overlays, the rebuild unpacks it.
 *
 * Each peer says which host commands it needs (installed with apt-get when missing), prepares its
 * work folder, gives the argv of its cold build and of its rebuild, where its image ends up, and
 * how to change the chosen overlay file for the rebuild.
 *
 *   const peer = PEERS.debos;
 *   await peer.prepare(ctx); const argv = peer.cold(ctx); … peer.image(ctx)
 */
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const PROJECT_ROOT = join(BENCH_DIR, '../..');
export const CLI = join(PROJECT_ROOT, 'bin/clic-image.js');

/** The part of `clic-image plan --json` the benchmark reads. */
export interface BenchPlan {
  image: string;
  board: { name: string; arch: string; consoles: string[]; partitionTable: string };
  suite: string;
  components: string[];
  packages: string[];
  partitions: { label: string; fs: string; mountpoint: string; sizeMiB?: number; type: string; bootable?: boolean; content?: boolean }[];
  layers: { name: string; overlay: string | null; vars: Record<string, unknown>; env: Record<string, string> }[];
}

export interface PeerContext {
  plan: BenchPlan;
  /** the image's host name (base layer) */
  hostname: string;
  mirror: string | null;
  /** this peer's work folder (removed at the end unless --keep) */
  dir: string;
  /** folder of the run's logs (kept) */
  logDir: string;
  /** disk size of the peers' images: debos and vmdb2 need one, clic-image sizes to content */
  sizeMiB: number;
  /** the overlay file changed for the rebuild, relative to its layer's overlay folder */
  changedFile: { layer: string; rel: string };
}

export interface Peer {
  name: 'clic-image' | 'debos' | 'vmdb2';
  /** host commands and the Debian package that provides each */
  tools: [command: string, pkg: string][];
  /** how it was run: backend, caching, flags (printed with the results) */
  notes(ctx: PeerContext): string[];
  prepare(ctx: PeerContext): void;
  cold(ctx: PeerContext): string[];
  rebuild(ctx: PeerContext): string[];
  /** environment added to the builder's (e.g. PATH with a shim folder first) */
  env?(ctx: PeerContext): Record<string, string>;
  /** removes the previous image before a rebuild, when the builder would reuse it */
  beforeRebuild?(ctx: PeerContext): string[];
  image(ctx: PeerContext): string;
  /** the file to change for the rebuild: the real overlay (clic-image reads overlays/ itself) or the peer's copy */
  changeTarget(ctx: PeerContext): string;
}

const rootPartition = (plan: BenchPlan) => plan.partitions.find((p) => p.mountpoint === '/')!;
const bootPartition = (plan: BenchPlan) => plan.partitions.find((p) => p.mountpoint !== '/')!;

/** /etc/fstab as clic-image writes it (by label). */
function fstab(plan: BenchPlan): string {
  const lines = plan.partitions.map((p) => {
    const opts = p.fs === 'vfat' ? 'rw,umask=0077' : 'rw,errors=remount-ro';
    return `LABEL=${p.label}\t${p.mountpoint}\t${p.fs}\t${opts}\t0\t${p.mountpoint === '/' ? 1 : 2}`;
  });
  return `# written by the clic-image benchmark from board ${plan.board.name}\n${lines.join('\n')}\n`;
}

/** Files the peers put in the root before installing packages, as clic-image's bootstrap does. */
function writePreinstall(ctx: PeerContext, dir: string): void {
  const files: Record<string, string> = {
    'etc/fstab': fstab(ctx.plan),
    'etc/default/raspi-firmware':
      `# written by the clic-image benchmark for board ${ctx.plan.board.name}\n` +
      `ROOTPART=LABEL=${rootPartition(ctx.plan).label}\n` +
      `CONSOLES="${ctx.plan.board.consoles.join(' ')}"\n`,
  };
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, dirname(path)), { recursive: true });
    writeFileSync(join(dir, path), content, { mode: 0o644 });
  }
}

/** The layers' overlay folders copied, in layer order, into one folder. */
function writeMergedOverlay(ctx: PeerContext, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const layer of ctx.plan.layers) {
    if (layer.overlay) cpSync(layer.overlay, dir, { recursive: true, verbatimSymlinks: true, force: true });
  }
}

const bootEnd = (ctx: PeerContext) => `${4 + (bootPartition(ctx.plan).sizeMiB ?? 256)}MiB`;

const clicImage: Peer = {
  name: 'clic-image',
  tools: [],
  notes: (ctx) => [
    `CLI: clic-image build ${ctx.plan.image} --out DIR --cache-dir DIR --json --install-host-tools${ctx.mirror ? ' --mirror URL' : ''}`,
    'rebuild: the same command again, same --cache-dir (its step cache); overlays/ file changed in place, restored after',
    'image sized to its content (root: content + 30 % + 256 MiB)',
  ],
  prepare(ctx) {
    mkdirSync(join(ctx.dir, 'out'), { recursive: true });
    mkdirSync(join(ctx.dir, 'cache'), { recursive: true });
  },
  cold: (ctx) => [
    process.execPath, CLI, 'build', ctx.plan.image, '--out', join(ctx.dir, 'out'), '--cache-dir', join(ctx.dir, 'cache'),
    '--json', '--install-host-tools', ...(ctx.mirror ? ['--mirror', ctx.mirror] : []),
  ],
  rebuild: (ctx) => clicImage.cold(ctx),
  image: (ctx) => join(ctx.dir, 'out', `${ctx.plan.image}.img`),
  changeTarget: (ctx) => join(ctx.plan.layers.find((l) => l.name === ctx.changedFile.layer)!.overlay!, ctx.changedFile.rel),
};

function debosArgs(ctx: PeerContext, vars: Record<string, string | null>, recipe: string): string[] {
  const t = Object.entries(vars).flatMap(([k, v]) => (v === null ? [] : ['-t', `${k}:${v}`]));
  return ['debos', '--disable-fakemachine', '--artifactdir', join(ctx.dir, 'out'), ...t, join(ctx.dir, recipe)];
}

const debosRootfs = (ctx: PeerContext) =>
  debosArgs(ctx, {
    suite: ctx.plan.suite,
    arch: ctx.plan.board.arch,
    components: ctx.plan.components.join(', '),
    packages: ctx.plan.packages.join(', '),
    mirror: ctx.mirror,
    tarball: 'rootfs.tar.gz',
  }, 'rootfs.yaml');

const debosImage = (ctx: PeerContext) =>
  debosArgs(ctx, {
    arch: ctx.plan.board.arch,
    tarball: 'rootfs.tar.gz',
    image: `${ctx.plan.image}-debos.img`,
    imagesize: String(ctx.sizeMiB * 1024 * 1024),
    bootlabel: bootPartition(ctx.plan).label,
    rootlabel: rootPartition(ctx.plan).label,
    bootend: bootEnd(ctx),
    hostname: ctx.hostname,
  }, 'image.yaml');

/** `a && b` for sh -c, every argument single-quoted. */
export function shellJoin(commands: string[][]): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return commands.map((argv) => argv.map(q).join(' ')).join(' && ');
}

/**
 * debos runs `udevadm trigger --settle <loop device>` after partitioning; with no udev daemon on
 * the host (none runs on this one, as in most containers) that waits forever. This stand-in,
 * first in debos' PATH, passes the call on when udevd runs and otherwise does nothing, which is
 * what the call amounts to without a daemon to handle the events.
 */
const UDEVADM_SHIM = `#!/bin/sh
# udevadm stand-in of the clic-image benchmark (see test/bench/peers.ts)
if [ -S /run/udev/control ]; then
  for real in /usr/bin/udevadm /bin/udevadm; do [ -x "$real" ] && exec "$real" "$@"; done
fi
exit 0
`;

const debos: Peer = {
  name: 'debos',
  tools: [['debos', 'debos'], ['debootstrap', 'debootstrap'], ['parted', 'parted'], ['mkfs.vfat', 'dosfstools'], ['mkfs.ext4', 'e2fsprogs'], ['systemd-nspawn', 'systemd-container'], ['mcopy', 'mtools']],
  notes: (ctx) => [
    'recipes: test/bench/debos/rootfs.yaml (debootstrap, packages, pack) + image.yaml (unpack, overlays, partitions, deploy)',
    'backend: --disable-fakemachine (on the host, as root): fakemachine cannot run here (see compare.ts header)',
    'host without udevd: a udevadm stand-in first in PATH keeps `udevadm trigger --settle` from waiting forever',
    'host kernel without VFAT: the FAT partition is filled with mcopy after deployment instead of being mounted',
    'cold = rootfs.yaml then image.yaml; rebuild = image.yaml alone on the packed rootfs.tar.gz (debos has no automatic cache)',
    `image size fixed by the recipe: ${ctx.sizeMiB} MiB`,
  ],
  prepare(ctx) {
    for (const f of ['rootfs.yaml', 'image.yaml']) copyFileSync(join(BENCH_DIR, 'debos', f), join(ctx.dir, f));
    writePreinstall(ctx, join(ctx.dir, 'files/preinstall'));
    writeMergedOverlay(ctx, join(ctx.dir, 'files/overlay'));
    mkdirSync(join(ctx.dir, 'out'), { recursive: true });
    mkdirSync(join(ctx.dir, 'shim'), { recursive: true });
    writeFileSync(join(ctx.dir, 'shim/udevadm'), UDEVADM_SHIM, { mode: 0o755 });
  },
  env: (ctx) => ({ PATH: `${join(ctx.dir, 'shim')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` }),
  cold: (ctx) => ['sh', '-c', shellJoin([debosRootfs(ctx), debosImage(ctx)])],
  rebuild: (ctx) => debosImage(ctx),
  beforeRebuild: (ctx) => [debos.image(ctx)],
  image: (ctx) => join(ctx.dir, 'out', `${ctx.plan.image}-debos.img`),
  changeTarget: (ctx) => join(ctx.dir, 'files/overlay', ctx.changedFile.rel),
};

const VMDB2_SPEC = 'clic-rpi4.vmdb';

/**
 * vmdb2 maps the image's partitions with kpartx, which needs device-mapper; this host's kernel
 * has none. This stand-in, first in vmdb2's PATH, passes the call on when device-mapper works;
 * otherwise it attaches a loop device, adds its partitions (partx) and names them the way kpartx
 * would (/dev/mapper/loopNpK, symbolic links), and undoes it all on -d. vmdb2 then runs in a
 * private mount namespace with a tmpfs on /dev/mapper, so those links never reach the host.
 */
const KPARTX_SHIM = `#!/bin/sh
# kpartx stand-in of the clic-image benchmark (see test/bench/peers.ts)
if dmsetup version >/dev/null 2>&1; then
  for real in /usr/sbin/kpartx /sbin/kpartx; do [ -x "$real" ] && exec "$real" "$@"; done
fi
set -e
mode=$1
for img; do :; done
case $mode in
-a*)
  loop=$(losetup --find --show "$img")
  partx --add "$loop"
  for n in $(partx --show --noheadings --output NR "$img"); do
    i=0
    while [ ! -b "\${loop}p$n" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    ln -sf "\${loop}p$n" "/dev/mapper/\${loop#/dev/}p$n"
    echo "add map \${loop#/dev/}p$n (partition $n of $loop)"
  done ;;
-d*)
  for loop in $(losetup --associated "$img" --noheadings --output NAME); do
    rm -f "/dev/mapper/\${loop#/dev/}p"*
    partx --delete "$loop" || true
    losetup --detach "$loop"
  done ;;
*)
  echo "kpartx stand-in: unsupported arguments: $*" >&2
  exit 1 ;;
esac
`;

/** Runs argv in a private mount namespace, with /dev/mapper a private tmpfs when device-mapper is missing. */
const inPrivateMounts = (argv: string[]) => [
  'unshare', '--mount', '--propagation', 'private', '--',
  'sh', '-c', 'dmsetup version >/dev/null 2>&1 || mount -t tmpfs -o mode=0755 bench-mapper /dev/mapper; exec "$@"', 'sh', ...argv,
];

/** The spec with its `- PLAN_…` list lines replaced by the plan's lists (vmdb2 variables are strings only). */
export function renderVmdb2Spec(text: string, lists: Record<string, string[]>): string {
  return text.replace(/^(\s*)- PLAN_([A-Z]+)\s*$/gm, (line, indent: string, name: string) => {
    const list = lists[name];
    if (!list) throw new Error(`vmdb2 spec: no list for PLAN_${name}`);
    return list.map((item) => `${indent}- ${item}`).join('\n');
  });
}

const vmdb2Args = (ctx: PeerContext, log: string) => {
  const vars: Record<string, string> = {
    mirror: ctx.mirror ?? '',
    suite: ctx.plan.suite,
    debian_arch: ctx.plan.board.arch,
    image_size: `${ctx.sizeMiB}M`,
    boot_end: bootEnd(ctx),
    boot_label: bootPartition(ctx.plan).label,
    root_label: rootPartition(ctx.plan).label,
    hostname: ctx.hostname,
    preinstall: join(ctx.dir, 'files/preinstall'),
    overlay: join(ctx.dir, 'files/overlay'),
  };
  return inPrivateMounts([
    'vmdb2', '--verbose', '--output', vmdb2.image(ctx), '--rootfs-tarball', join(ctx.dir, 'cache/rootfs.tar.gz'), '--log', join(ctx.logDir, log),
    ...Object.entries(vars).flatMap(([k, v]) => ['--variable', `${k}=${v}`]),
    join(ctx.dir, VMDB2_SPEC),
  ]);
};

const vmdb2: Peer = {
  name: 'vmdb2',
  tools: [
    ['vmdb2', 'vmdb2'], ['qemu-debootstrap', 'qemu-user-static'], ['debootstrap', 'debootstrap'], ['kpartx', 'kpartx'], ['parted', 'parted'],
    ['mkfs.vfat', 'dosfstools'], ['zerofree', 'zerofree'], ['qemu-img', 'qemu-utils'], ['mcopy', 'mtools'], ['findmnt', 'util-linux'], ['partx', 'util-linux'], ['unshare', 'util-linux'],
  ],
  notes: (ctx) => [
    `spec: test/bench/vmdb2/${VMDB2_SPEC} (qemu-debootstrap, packages with eatmydata, then eatmydata purged)`,
    'runs on the host as root, in a private mount namespace: loop device, partitions mounted while packages install',
    'host kernel without device-mapper: a kpartx stand-in first in PATH maps the partitions with losetup + partx instead',
    'cold = no tarball: full build, root saved by cache-rootfs (rootfs.tar.gz); rebuild = same command, tarball unpacked, bootstrap and apt skipped',
    `image size fixed by the spec: ${ctx.sizeMiB} MiB; vmdb2 runs zerofree on the ext4 root at the end`,
    'host kernel without VFAT: the FAT partition is filled with mcopy at the end instead of being mounted during apt',
  ],
  prepare(ctx) {
    if (!ctx.mirror) throw new Error('vmdb2 needs a Debian mirror (no default): pass --mirror URL');
    const spec = renderVmdb2Spec(readFileSync(join(BENCH_DIR, 'vmdb2', VMDB2_SPEC), 'utf8'), {
      PACKAGES: ctx.plan.packages,
      COMPONENTS: ctx.plan.components,
    });
    writeFileSync(join(ctx.dir, VMDB2_SPEC), spec);
    writePreinstall(ctx, join(ctx.dir, 'files/preinstall'));
    writeMergedOverlay(ctx, join(ctx.dir, 'files/overlay'));
    mkdirSync(join(ctx.dir, 'cache'), { recursive: true });
    mkdirSync(join(ctx.dir, 'shim'), { recursive: true });
    writeFileSync(join(ctx.dir, 'shim/kpartx'), KPARTX_SHIM, { mode: 0o755 });
  },
  env: (ctx) => ({ PATH: `${join(ctx.dir, 'shim')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` }),
  cold: (ctx) => vmdb2Args(ctx, 'vmdb2-cold.log'),
  rebuild: (ctx) => vmdb2Args(ctx, 'vmdb2-rebuild.log'),
  beforeRebuild: (ctx) => [vmdb2.image(ctx)],
  image: (ctx) => join(ctx.dir, `${ctx.plan.image}-vmdb2.img`),
  changeTarget: (ctx) => join(ctx.dir, 'files/overlay', ctx.changedFile.rel),
};

export const PEERS: Record<Peer['name'], Peer> = { 'clic-image': clicImage, debos, vmdb2 };
