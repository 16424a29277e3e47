/**
 * Recipe vocabulary: boards, layers and images, typed.
 *
 * A board says what hardware needs (architecture, kernel and firmware packages, partitions,
 * bootloader, how QEMU boots it); a layer says what a feature adds (packages, overlay files,
 * commands, typed variables); an image picks one board, an ordered list of layers and variable
 * values. Every variable is declared once here, with its description and default: the lab YAML
 * schema, `clic-image list` and the plan are generated from these declarations.
 *
 *   export default defineLayer({
 *     name: 'base', description: 'Debian base system',
 *     packages: ['systemd-sysv'],
 *     vars: { hostname: { type: 'string', default: 'clic', description: 'host name' } },
 *   });
 */

import type { Plan, PlannedLayer } from './plan.ts';
import type { ZimRequest } from '../content/types.ts';
import type { AppRequest } from '../apps/types.ts';

export type Arch = 'amd64' | 'arm64' | 'armhf';

interface VarCommon {
  description: string;
}
export type VarSpec =
  | (VarCommon & { type: 'string'; default: string; pattern?: string; minLength?: number; maxLength?: number })
  | (VarCommon & { type: 'bool'; default: boolean })
  | (VarCommon & { type: 'int'; default: number; min?: number; max?: number })
  | (VarCommon & { type: 'enum'; default: string; values: readonly string[] })
  | (VarCommon & { type: 'list'; default: readonly string[]; itemPattern?: string })
  /** ZIM files: catalog names (`wikipedia_fr_all_mini`, pinned: `…_2024-05`) or `{ url, sha256 }`. */
  | (VarCommon & { type: 'zims'; default: readonly ZimRequest[] })
  /** An extra apt repository the layer installs packages from (see AptSource). */
  | (VarCommon & { type: 'apt-source'; default: AptSource })
  /** YunoHost apps: catalog ids (`yeswiki`) or `{ id, args }` (install questions' answers). */
  | (VarCommon & { type: 'apps'; default: readonly AppRequest[] });

export type VarValue = string | number | boolean | readonly string[] | readonly ZimRequest[] | AptSource | readonly AppRequest[];

/**
 * An apt repository beside Debian's (YunoHost's, a lab's own). The build fetches its key, refuses
 * it unless its fingerprint is the pinned one, installs packages from it in the same dependency
 * resolution as Debian's, and leaves it in the image as `/etc/apt/sources.list.d/<name>.sources`
 * (deb822, `Signed-By: /etc/apt/keyrings/<name>.asc`) for later updates. `<name>` is the layer's
 * name for its variable `repository`, `<layer>-<variable>` for any other.
 */
export interface AptSource {
  /** Root URL of the repository (http, https or file). */
  url: string;
  suite: string;
  components: readonly string[];
  /** Its public key (ASCII-armored or binary): an http(s) URL, or a file path, relative to the recipe's folder. */
  key: string;
  /** Fingerprint of that key (40 hex digits; spaces allowed), its primary key's or one of its subkeys'. */
  fingerprint: string;
}
export type VarValues = Record<string, VarValue>;

/** A service a layer offers to the kit's users, listed on the portal. */
export interface ServiceDef {
  id: string;
  name: { en: string; fr: string };
  description: { en: string; fr: string };
  /** Where the service is reached from the portal: a path on the kit (`/kiwix/`) or a URL. */
  path: string;
  /** Icon file inside the layer's overlay (SVG or PNG), served by the portal; optional. */
  icon?: string;
  /** How the portal knows the service can be opened, for a service that may be down or empty:
   *  the portal page fetches `url` (a path on the kit) and shows the card only once the answer
   *  is a success (2xx) whose body contains `contains` (when given); until then, and if it never
   *  does, the card stays hidden, so that no visitor is led to an error or an empty service.
   *  Without it the card is always shown. E.g. kiwix's OPDS catalog lists one `<entry>` per
   *  book, none for an empty library:
   *  `{ url: '/kiwix/catalog/v2/entries?count=1', contains: '<entry' }`. */
  availability?: { url: string; contains?: string };
}

export interface LayerDef {
  /** Unique name; the overlay folder is `overlays/<name>/` when it exists. */
  name: string;
  description: string;
  /** Layers that must come earlier in the image's list. */
  requires?: readonly string[];
  /** Debian packages installed during bootstrap (one dependency resolution for the whole image).
   *  The packages of a layer with its own apt repository (a variable of type apt-source) are
   *  installed in a second apt run, once the Debian system is configured: their maintainer
   *  scripts may call systemctl without depending on systemd (YunoHost's do). */
  packages?: readonly string[];
  /** Packages of the board or of earlier layers that this layer's packages conflict with, left
   *  out of the image: e.g. YunoHost declares `Conflicts: systemd-resolved` and depends on
   *  sudo-ldap, which conflicts with sudo. */
  replacesPackages?: readonly string[];
  /** Debian suites besides the image's own that this layer's packages need, by their suffix:
   *  `backports` adds `<suite>-backports` from the same mirror. apt takes from backports only
   *  what the suite itself lacks (backports are NotAutomatic). */
  debianSuites?: readonly ('backports' | 'updates')[];
  /** Shell commands run inside the image (chroot), after the overlay is copied. Variables are
   *  exported as CLIC_<VAR> (upper snake case) environment variables, beside the image-wide
   *  CLIC_IMAGE, CLIC_BOARD, CLIC_ARCH, CLIC_BOOT_DIR (mount point of the FAT partition, where
   *  the deployer's settings file lives), CLIC_ROOT_LABEL and CLIC_SERVICES (JSON of every
   *  service declared by the image's layers), and SOURCE_DATE_EPOCH. */
  commands?: readonly string[];
  vars?: Record<string, VarSpec>;
  /** Offline content this layer puts on the image's content partition (made when a layer has
   *  content, mounted at /srv/clic-data, grown to the card at first boot): the ZIM files listed
   *  by its variable `zimsVar` (type `zims`; names looked up in the OPDS catalog given by its
   *  variable `catalogVar`), in `<mountpoint>/<dir>/` with a kiwix library.xml. */
  content?: { zimsVar: string; catalogVar: string; dir: string };
  /** YunoHost apps this layer stages for first boot: the ids (and install answers) in its
   *  variable `appsVar` (type `apps`), looked up in the app catalog given by `catalogVar`. */
  apps?: { appsVar: string; catalogVar: string };
  /** debconf answers given before any package is installed (`debconf-set-selections` lines:
   *  `package question type value`), for packages whose installation would otherwise ask. */
  debconf?: readonly string[];
  /** Secrets its packages make when installed that each device must make for itself (keys,
   *  certificates: paths inside the image, globs allowed): removed when the image is finalized,
   *  as the SSH host keys are; the layer makes them again at first boot. */
  deviceSecrets?: readonly string[];
  /** Free space this layer needs on the root file system beyond the build's 256 MiB, e.g. for
   *  what it installs at first boot (the root does not grow when a content partition follows it). */
  rootFreeMiB?: number;
  /** Services this layer offers; the portal layer lists them. */
  services?: readonly ServiceDef[];
  /** Files made on the build host from the plan (pages listing the image's services, configs
   *  derived from variables), written into the image after the overlay is copied and before the
   *  commands run. Keys are absolute paths inside the image. Must be pure: same plan, same bytes. */
  generate?: (plan: Plan, layer: PlannedLayer) => GeneratedFiles | Promise<GeneratedFiles>;
}

/** Absolute path inside the image → content (text is written as UTF-8), with an optional mode. */
export type GeneratedFiles = Record<string, string | Uint8Array | { content: string | Uint8Array; mode: number }>;

export type FsType = 'vfat' | 'ext4';

export interface PartitionDef {
  /** Filesystem label; the root partition is found by it (LABEL=…). */
  label: string;
  fs: FsType;
  /** Where the partition is mounted on the running system; its content is that rootfs folder. */
  mountpoint: string;
  /** Size in MiB; omitted for the root partition, which is sized from its content. */
  sizeMiB?: number;
  /** Partition type: an MBR type byte (`c`, `83`) or a GPT type (`U` for ESP, `L` for Linux). */
  type: string;
  bootable?: boolean;
}

export interface QemuBoot {
  /** `x86_64-uefi`: x86_64 with OVMF; `raspi3b`: kernel, DTB and initrd read from the image's FAT
   *  partition; `aarch64-virt` / `arm-virt`: QEMU's generic arm64 / 32-bit arm machine, for
   *  boards QEMU cannot emulate, booting the kernel and initrd the board's bootloader would
   *  (named by the Pi's config.txt, or by u-boot's extlinux.conf) with its own device tree. */
  machine: 'x86_64-uefi' | 'raspi3b' | 'aarch64-virt' | 'arm-virt';
  /** Path of the DTB inside the boot partition, for machines that need one. */
  dtb?: string;
  /** Console device on that machine's serial port. */
  console: string;
  memoryMiB: number;
}

export type BootloaderKind = 'raspi-firmware' | 'systemd-boot-efi' | 'u-boot-extlinux';

/** A file fetched by URL and pinned by its sha256, for what Debian does not ship (e.g. a
 *  board's prebuilt u-boot). Downloaded through the project's downloader, cached by sha256. */
export interface BlobSource {
  /** http or https URL of the file. */
  url: string;
  /** Its sha256 (64 hex digits); any other file is refused. */
  sha256: string;
  /** Its licence (e.g. `GPL-2.0+`), for the README and the release manifest. */
  licence?: string;
  /** When the URL is a Debian package (.deb) holding the file: its path in the package, e.g.
   *  `usr/lib/u-boot/odroid-c4/u-boot.bin`; the sha256 is then the package's. */
  member?: string;
  /** Set when no file could be pinned yet (url and sha256 then empty): why, and what to pin.
   *  Any build of the board stops at plan time with this text. */
  unpinned?: string;
}

/**
 * Bytes of a file written at a fixed place on the disk, outside any partition, after the
 * partition table: what a board's boot ROM reads from raw sectors (Amlogic's u-boot from offset
 * 0 and sector 1; Samsung's bl1, bl2, u-boot and tzsw at sectors 1, 31, 63 and 1503). The build
 * refuses a region over the partition table (dos: bytes 440–511; gpt: bytes 440 to the end of
 * sector 33, and its backup at the end of the disk), over a partition (the first starts at
 * 4 MiB) or over another region; bytes 0–439 (boot code) are free.
 *
 *   { name: 'u-boot-head', source: uboot, offset: 0, count: 440 },
 *   { name: 'u-boot', source: uboot, offset: 512, skip: 512 },
 */
export interface RawRegion {
  /** Names the region in the plan, in errors and in the manifest (`bootloader/<name>`); unique
   *  per board: letters, digits, dots, dashes, underscores. */
  name: string;
  source: BlobSource;
  /** Byte offset on the disk where the bytes go. */
  offset: number;
  /** Bytes of the file skipped first; 0 by default. */
  skip?: number;
  /** Bytes written; by default the rest of the file after `skip`. */
  count?: number;
}

export interface BoardDef {
  name: string;
  description: string;
  arch: Arch;
  /** Debian archive components the board needs (e.g. non-free-firmware for the Pi firmware). */
  components: readonly string[];
  /** Kernel, firmware and bootloader packages. */
  packages: readonly string[];
  /** Kernel console arguments for the serial console. */
  consoles: readonly string[];
  partitionTable: 'dos' | 'gpt';
  /** Partitions in disk order; exactly one has mountpoint `/`. */
  partitions: readonly PartitionDef[];
  bootloader: BootloaderKind;
  /** Device tree the bootloader hands to the kernel, as a path under the kernel's DTB folder
   *  (`/usr/lib/linux-image-<version>/`), e.g. `amlogic/meson-sm1-odroid-c4.dtb`; used by
   *  u-boot-extlinux (without it, u-boot picks one by its own `fdtfile` setting). */
  deviceTree?: string;
  /** Files the board's u-boot reads besides extlinux.conf (absolute path inside the image →
   *  text), e.g. the XU4's /boot/boot.ini that hands over to distro boot; written with the
   *  bootloader's settings, by the initramfs step. */
  bootFiles?: Readonly<Record<string, string>>;
  /** Bootloader bytes written at fixed offsets of the disk, outside the partitions (see
   *  RawRegion), in this order after the partition table; fetched by the bootloader-blobs step. */
  rawRegions?: readonly RawRegion[];
  /** initramfs-tools MODULES= policy; `list` uses initramfsModules only (fast, board-specific). */
  initramfsModules?: readonly string[];
  qemu: QemuBoot;
  /** Raspberry Pi Imager device tags (`pi4-64bit`…) the board's images are offered for in the
   *  release's Imager repository; boards without any are left out of it (they are not Pis). */
  imagerDevices?: readonly string[];
}

/** Compressed copies of the image: xz (what most flashing tools and Raspberry Pi Imager take)
 *  and zstd (much faster to make and to unpack). */
export type Compression = 'xz' | 'zst';
export const COMPRESSIONS: readonly Compression[] = ['xz', 'zst'];

export interface ImageDef {
  name: string;
  description: string;
  board: string;
  /** Layer names, in the order they are applied. */
  layers: readonly string[];
  /** Variable values, keyed by layer then variable name. */
  vars?: Record<string, VarValues>;
  /** Debian suite; bookworm by default. */
  suite?: string;
  /** Compressed copies written beside the .img; both by default (the release set). */
  compress?: readonly Compression[];
  /** Part of the release set (`clic-image build --all`, the nightly CI); true by default. */
  release?: boolean;
}

export const defineBoard = (board: BoardDef): BoardDef => board;
export const defineLayer = (layer: LayerDef): LayerDef => layer;
export const defineImage = (image: ImageDef): ImageDef => image;
