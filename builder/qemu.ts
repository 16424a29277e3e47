/**
 * Boots a built image under QEMU the way its board says (board.qemu), for boot tests and for
 * trying an image. The image itself is never written: QEMU runs on a qcow2 overlay in a scratch
 * folder. `bootImage` waits for a console line (the login prompt by default) and stops QEMU;
 * `startVm` returns a running VM to talk to (forwarded ports on 127.0.0.1, console matching,
 * disks plugged in while it runs).
 *
 * Machines:
 *  - x86_64-uefi: OVMF firmware, the image as a virtio disk; KVM when /dev/kvm works, otherwise
 *    (or when KVM cannot run the firmware, as in some nested setups) TCG. With `kernelArgs`, the
 *    kernel and initrd are read from the ESP and booted directly with those extra arguments.
 *  - raspi3b: kernel, initrd and DTB read from the image's own FAT partition (config.txt names
 *    them), kernel arguments from its cmdline.txt, the image as the SD card (size rounded up to
 *    a power of two, as QEMU requires); console on the mini-UART (second serial port).
 *  - aarch64-virt / arm-virt: the generic `virt` machine, for boards QEMU cannot emulate (Pi 4
 *    on QEMU < 9, Odroids), booting the kernel and initrd the board's own bootloader would: the
 *    Pi's config.txt and cmdline.txt, or u-boot's /boot/extlinux/extlinux.conf in the root
 *    partition; QEMU's device tree instead of the board's; console forced to the virt UART.
 *
 *   const r = await bootImage({ image: 'out/clic-pc-x86_64.img', board, scratchDir: '/tmp/x' });
 *   r.matched; // true when "login:" appeared
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import type { BoardDef } from './recipe/define.ts';
import { runCommand } from './exec.ts';

export interface VmOptions {
  image: string;
  board: BoardDef;
  /** Scratch folder for the overlay, firmware variables and extracted boot files. */
  scratchDir: string;
  accel?: 'auto' | 'kvm' | 'tcg';
  /** Extra kernel arguments; boots kernel and initrd from the boot partition directly. */
  kernelArgs?: string[];
  /** Extra raw disk images, attached read-only after the image (virtio where the machine has it). */
  extraDrives?: string[];
  /** Guest TCP ports reachable on 127.0.0.1:<hostPort> (user-mode network, no route out). */
  forwards?: { hostPort: number; guestPort: number }[];
  /** Size of the overlay the guest sees, in bytes (to test growing the root partition). */
  diskSize?: number;
  /** `none`: no network card at all (the kit with its cable and wifi gone); default: user-mode
   *  network restricted to the host (port forwards only, no route out). */
  network?: 'restricted' | 'none';
  /** Boot again on the overlay an earlier VM with the same scratchDir left (the guest's writes
   *  kept: e.g. after a power cut); default: a fresh overlay over the image. */
  reuseDisk?: boolean;
  /** Lets `Vm.plugDrive` plug disks in while the guest runs (x86_64: PCI hot-plug, through QMP). */
  hotplug?: boolean;
  onLine?: (line: string) => void;
}

export interface BootOptions extends VmOptions {
  /** Stop when a console line matches; default: a login prompt. */
  until?: RegExp;
  timeoutMs?: number;
}

export interface BootResult {
  matched: boolean;
  accel: 'kvm' | 'tcg';
  ms: number;
  /** Everything the serial console printed. */
  console: string;
  /** Why the boot was judged failed, when it was. */
  failure?: string;
}

export interface Vm {
  accel: 'kvm' | 'tcg';
  /** Console output so far. */
  readonly console: string;
  /** Resolves with the matching line, rejects on a fatal console line, QEMU's exit or the timeout. */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
  /** Plugs a raw image in as a new virtio disk, read-write (needs `hotplug`): a card or USB disk
   *  that shows up late. */
  plugDrive(file: string): Promise<void>;
  /** Ends QEMU (SIGTERM, then SIGKILL) and resolves when it is gone. */
  stop(): Promise<void>;
}

export const LOGIN_PROMPT = /\blogin: *$/;
const FATAL = [/Kernel panic/, /You are in emergency mode/, /Give root password for maintenance/, /ALERT! .* does not exist/, /Dropping to a shell!/];
const KVM_BROKEN = /KVM internal error|kvm run failed|failed to initialize kvm/i;
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

export async function kvmAvailable(): Promise<boolean> {
  return access('/dev/kvm').then(() => true, () => false);
}

interface BootFiles {
  kernel: string;
  initrd: string;
  dtb?: string;
  cmdline: string;
}

/** Byte offset of the image's partition number `index` (from 0), as sfdisk reads the table. */
async function partitionOffset(image: string, index: number): Promise<number> {
  const { stdout } = await runCommand(['sfdisk', '--json', image]);
  const table = JSON.parse(stdout) as { partitiontable: { sectorsize?: number; partitions: { start: number }[] } };
  return table.partitiontable.partitions[index].start * (table.partitiontable.sectorsize ?? 512);
}

/** The board's FAT partition, as mtools names it. */
async function fatOf(image: string, board: BoardDef): Promise<string> {
  return `${image}@@${await partitionOffset(image, board.partitions.findIndex((p) => p.fs === 'vfat'))}`;
}

/** Reads config.txt/cmdline.txt from a Pi image's FAT partition and extracts the files they name. */
export async function extractPiBootFiles(image: string, board: BoardDef, dir: string): Promise<BootFiles> {
  const fat = await fatOf(image, board);
  const read = async (name: string) => (await runCommand(['mtype', '-i', fat, `::/${name}`])).stdout;
  const config = await read('config.txt');
  const setting = (re: RegExp, what: string) => {
    const m = config.match(re);
    if (!m) throw new Error(`config.txt in ${image} names no ${what}`);
    return m[1].trim();
  };
  const files: BootFiles = { kernel: join(dir, 'kernel'), initrd: join(dir, 'initrd'), cmdline: (await read('cmdline.txt')).trim() };
  await runCommand(['mcopy', '-o', '-n', '-i', fat, `::/${setting(/^kernel=(.+)$/m, 'kernel')}`, files.kernel]);
  await runCommand(['mcopy', '-o', '-n', '-i', fat, `::/${setting(/^initramfs\s+(\S+)/m, 'initramfs')}`, files.initrd]);
  if (board.qemu.dtb) {
    files.dtb = join(dir, 'board.dtb');
    await runCommand(['mcopy', '-o', '-n', '-i', fat, `::/${board.qemu.dtb}`, files.dtb]);
  }
  return files;
}

/** Reads the systemd-boot entry of a PC image's ESP and extracts its kernel and initrd. */
async function extractEfiBootFiles(image: string, board: BoardDef, dir: string): Promise<BootFiles> {
  const fat = await fatOf(image, board);
  const entry = (await runCommand(['mtype', '-i', fat, '::/loader/entries/clic.conf'])).stdout;
  const field = (name: string) => entry.match(new RegExp(`^${name}\\s+(.+)$`, 'm'))?.[1].trim() ?? '';
  const files: BootFiles = { kernel: join(dir, 'kernel'), initrd: join(dir, 'initrd'), cmdline: field('options') };
  await runCommand(['mcopy', '-o', '-n', '-i', fat, `::${field('linux')}`, files.kernel]);
  await runCommand(['mcopy', '-o', '-n', '-i', fat, `::${field('initrd')}`, files.initrd]);
  return files;
}

/** The first entry of u-boot's extlinux.conf, as distro boot reads it. */
export interface ExtlinuxEntry {
  linux: string;
  initrd: string;
  /** `fdt` file, or `fdtdir` folder (u-boot then adds its own fdtfile name). */
  fdt?: string;
  fdtdir?: string;
  append: string;
}

export function parseExtlinux(text: string): ExtlinuxEntry {
  const entry = text.split(/^\s*label\s+/m)[1];
  if (!entry) throw new Error('extlinux.conf has no "label" entry');
  const field = (name: string) => entry.match(new RegExp(`^\\s*${name}\\s+(.+?)\\s*$`, 'm'))?.[1];
  const linux = field('linux') ?? field('kernel');
  if (!linux) throw new Error('the first entry of extlinux.conf names no kernel ("linux")');
  const initrd = field('initrd');
  if (!initrd) throw new Error('the first entry of extlinux.conf names no initrd');
  return { linux, initrd, fdt: field('fdt'), fdtdir: field('fdtdir'), append: field('append') ?? '' };
}

/** The partition u-boot's distro boot scans: the bootable one (or, with none, the root). */
async function extlinuxPartition(image: string, board: BoardDef): Promise<string> {
  const bootable = board.partitions.findIndex((p) => p.bootable);
  const index = bootable >= 0 ? bootable : board.partitions.findIndex((p) => p.mountpoint === '/');
  // as e2fsprogs names a file system inside an image
  return `${image}?offset=${await partitionOffset(image, index)}`;
}

/** Reads extlinux.conf from the image (no mount: debugfs) and extracts the files its first entry
 *  names; paths are from the root of that partition, as u-boot sees them. */
export async function extractExtlinuxBootFiles(image: string, board: BoardDef, dir: string): Promise<BootFiles & { entry: ExtlinuxEntry }> {
  const part = await extlinuxPartition(image, board);
  const dump = async (path: string, to: string) => {
    await runCommand(['debugfs', '-R', `dump ${path} ${to}`, part]);
    // debugfs reports a missing file on stderr and still exits 0
    if (!(await stat(to).then((s) => s.size > 0, () => false))) throw new Error(`${image}: ${path} is missing or empty in the boot partition`);
  };
  await dump('/boot/extlinux/extlinux.conf', join(dir, 'extlinux.conf'));
  const entry = parseExtlinux(await readFile(join(dir, 'extlinux.conf'), 'utf8'));
  const files = { kernel: join(dir, 'kernel'), initrd: join(dir, 'initrd'), cmdline: entry.append, entry };
  await dump(entry.linux, files.kernel);
  await dump(entry.initrd, files.initrd);
  if (entry.fdt) await dump(entry.fdt, join(dir, 'board.dtb'));
  return { ...files, ...(entry.fdt ? { dtb: join(dir, 'board.dtb') } : {}) };
}

/** Kernel, initrd and arguments of a board booted on QEMU's virt machine. */
async function virtBootFiles(image: string, board: BoardDef, dir: string): Promise<BootFiles> {
  return board.bootloader === 'u-boot-extlinux' ? extractExtlinuxBootFiles(image, board, dir) : extractPiBootFiles(image, board, dir);
}

const nextPowerOfTwo = (n: number) => 2 ** Math.ceil(Math.log2(n));

async function qemuArgv(opts: VmOptions, accel: 'kvm' | 'tcg'): Promise<string[]> {
  const { board, scratchDir } = opts;
  const image = resolve(opts.image);
  const overlay = join(scratchDir, 'disk.qcow2');
  const size = Math.max((await stat(image)).size, opts.diskSize ?? 0);
  const overlaySize = board.qemu.machine === 'raspi3b' ? nextPowerOfTwo(size) : size;
  const reuse = opts.reuseDisk && (await stat(overlay).then(() => true, () => false));
  if (!reuse) await runCommand(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', image, '-F', 'raw', overlay, String(overlaySize)]);
  const mem = String(board.qemu.memoryMiB);
  const extraArgs = opts.kernelArgs ?? [];
  const fwd = (opts.forwards ?? []).map((f) => `,hostfwd=tcp:127.0.0.1:${f.hostPort}-:${f.guestPort}`).join('');
  const nic = (model: string) => (opts.network === 'none' ? ['-nic', 'none'] : ['-nic', `user,model=${model},restrict=on${fwd}`]);
  const drives = (iface: string) => (opts.extraDrives ?? []).flatMap((d) => ['-drive', `file=${resolve(d)},if=${iface},format=raw,readonly=on`]);
  const common = ['-display', 'none', '-monitor', 'none', '-no-reboot'];
  if (opts.hotplug) {
    if (board.qemu.machine !== 'x86_64-uefi') throw new Error(`disks are plugged in on x86_64 only, not on QEMU's ${board.qemu.machine}`);
    common.push('-qmp', `unix:${qmpSocket(opts)},server=on,wait=off`);
  }
  switch (board.qemu.machine) {
    case 'x86_64-uefi': {
      const vars = join(scratchDir, 'OVMF_VARS.fd');
      await copyFile(OVMF_VARS, vars);
      const direct = opts.kernelArgs ? await extractEfiBootFiles(image, board, scratchDir) : null;
      return [
        'qemu-system-x86_64', ...common,
        ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg']),
        '-m', mem, '-smp', '2', '-serial', 'stdio',
        '-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
        '-drive', `if=pflash,format=raw,file=${vars}`,
        ...(direct ? ['-kernel', direct.kernel, '-initrd', direct.initrd, '-append', [direct.cmdline, ...extraArgs].join(' ')] : []),
        '-drive', `file=${overlay},if=virtio,format=qcow2`, ...drives('virtio'),
        ...nic('virtio-net-pci'),
      ];
    }
    case 'raspi3b': {
      const f = await extractPiBootFiles(image, board, scratchDir);
      return [
        'qemu-system-aarch64', ...common, '-M', 'raspi3b', '-m', mem,
        '-kernel', f.kernel, '-initrd', f.initrd, ...(f.dtb ? ['-dtb', f.dtb] : []), '-append', [f.cmdline, ...extraArgs].join(' '),
        '-drive', `file=${overlay},if=sd,format=qcow2`,
        // the mini-UART (ttyS1 in the guest) is QEMU's second serial port
        '-serial', 'null', '-serial', 'stdio',
      ];
    }
    case 'aarch64-virt':
    case 'arm-virt': {
      const f = await virtBootFiles(image, board, scratchDir);
      const cmdline = f.cmdline.split(/\s+/).filter((a) => !a.startsWith('console=')).concat(`console=${board.qemu.console}`, ...extraArgs).join(' ');
      // 32-bit: a Cortex-A15 as the XU4's, no memory above 4 GiB for a kernel without LPAE
      const machine = board.qemu.machine === 'arm-virt' ? ['qemu-system-arm', ...common, '-M', 'virt,highmem=off', '-cpu', 'cortex-a15'] : ['qemu-system-aarch64', ...common, '-M', 'virt', '-cpu', 'cortex-a72'];
      return [
        ...machine, '-smp', '2', '-m', mem,
        '-kernel', f.kernel, '-initrd', f.initrd, '-append', cmdline,
        '-drive', `file=${overlay},if=virtio,format=qcow2`, ...drives('virtio'), '-serial', 'stdio',
        ...nic('virtio-net-pci'),
      ];
    }
  }
}

const qmpSocket = (opts: VmOptions) => join(opts.scratchDir, 'qmp.sock');

/** Sends QMP commands one after the other, each waiting for its answer; rejects on an error answer. */
async function qmp(socket: string, commands: object[]): Promise<void> {
  const conn = createConnection(socket);
  conn.setEncoding('utf8');
  const answers: ((line: Record<string, unknown>) => void)[] = [];
  let pending = '';
  conn.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines.filter((l) => l.trim())) {
      const msg = JSON.parse(line) as Record<string, unknown>;
      if ('return' in msg || 'error' in msg) answers.shift()?.(msg);
    }
  });
  const send = (cmd: object) =>
    new Promise<void>((res, rej) => {
      answers.push((msg) => ('error' in msg ? rej(new Error(`QMP ${JSON.stringify(cmd)}: ${JSON.stringify(msg.error)}`)) : res()));
      conn.write(`${JSON.stringify(cmd)}\n`);
    });
  try {
    await new Promise<void>((res, rej) => conn.once('connect', res).once('error', rej));
    for (const cmd of [{ execute: 'qmp_capabilities' }, ...commands]) await send(cmd);
  } finally {
    conn.destroy();
  }
}

/** Plugs a raw image in as a new virtio disk of the running guest. */
async function plugDrive(opts: VmOptions, file: string, id: string): Promise<void> {
  await qmp(qmpSocket(opts), [
    { execute: 'blockdev-add', arguments: { driver: 'raw', 'node-name': id, file: { driver: 'file', filename: resolve(file) } } },
    { execute: 'device_add', arguments: { driver: 'virtio-blk-pci', drive: id, id } },
  ]);
}

const stripEscapes = (line: string) => line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

async function launch(opts: VmOptions, accel: 'kvm' | 'tcg'): Promise<Vm & { exited: Promise<void> }> {
  await mkdir(opts.scratchDir, { recursive: true });
  const argv = await qemuArgv(opts, accel);
  const child: ChildProcess = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  let pending = '';
  let exitedFlag = false;
  const watchers = new Set<(line: string | null) => void>();
  const onText = (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    // a prompt waiting for input ends without a newline
    if (LOGIN_PROMPT.test(stripEscapes(pending))) {
      lines.push(pending);
      pending = '';
    }
    for (const line of lines) {
      text += line + '\n';
      opts.onLine?.(line);
      for (const w of [...watchers]) w(stripEscapes(line));
    }
  };
  child.stdout!.setEncoding('utf8').on('data', onText);
  child.stderr!.setEncoding('utf8').on('data', onText);
  const exited = new Promise<void>((res) => child.on('close', () => {
    exitedFlag = true;
    for (const w of [...watchers]) w(null);
    res();
  }));
  let plugged = 0;
  const vm = {
    accel,
    exited,
    get console() {
      return text;
    },
    waitFor(re: RegExp, timeoutMs: number): Promise<string> {
      return new Promise((res, rej) => {
        const done = (fn: () => void) => {
          watchers.delete(watch);
          clearTimeout(timer);
          fn();
        };
        const watch = (line: string | null) => {
          if (line === null) return done(() => rej(new Error('QEMU exited before the console showed what was expected')));
          if (re.test(line)) return done(() => res(line));
          const fatal = FATAL.find((f) => f.test(line)) ?? (accel === 'kvm' && KVM_BROKEN.test(line) ? KVM_BROKEN : undefined);
          if (fatal) done(() => rej(new Error(line.trim())));
        };
        const timer = setTimeout(() => done(() => rej(new Error(`no console line matched ${re} within ${Math.round(timeoutMs / 1000)} s`))), timeoutMs);
        if (exitedFlag) return watch(null);
        const already = text.split('\n').map(stripEscapes).find((l) => re.test(l));
        if (already !== undefined) return done(() => res(already));
        watchers.add(watch);
      });
    },
    async plugDrive(file: string) {
      if (!opts.hotplug) throw new Error('this VM was started without hotplug');
      await plugDrive(opts, file, `plugged${plugged++}`);
    },
    async stop() {
      if (exitedFlag || !child.pid) return;
      const kill = (sig: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, sig);
        } catch {
          // gone
        }
      };
      kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return vm;
}

/** Starts the image; with accel auto on x86_64, falls back to TCG when KVM cannot run it. */
export async function startVm(opts: VmOptions): Promise<Vm> {
  const wantKvm = opts.board.qemu.machine === 'x86_64-uefi' && opts.accel !== 'tcg' && (opts.accel === 'kvm' || (await kvmAvailable()));
  if (!wantKvm) return launch(opts, 'tcg');
  const vm = await launch(opts, 'kvm');
  if (opts.accel === 'kvm') return vm;
  // KVM failures show within seconds (the firmware's first instructions); a working KVM guest
  // prints the kernel banner quickly too
  const verdict = await vm.waitFor(/Linux version|BdsDxe|KVM internal error/, 60_000).catch((e: Error) => e.message);
  if (!KVM_BROKEN.test(verdict) && !/no console line matched|QEMU exited/.test(verdict)) return vm;
  await vm.stop();
  return launch(opts, 'tcg');
}

export async function bootImage(opts: BootOptions): Promise<BootResult> {
  const started = Date.now();
  const vm = await startVm(opts);
  let failure: string | undefined;
  try {
    await vm.waitFor(opts.until ?? LOGIN_PROMPT, opts.timeoutMs ?? 600_000);
  } catch (err) {
    failure = (err as Error).message;
  } finally {
    await vm.stop();
  }
  return { matched: !failure, accel: vm.accel, ms: Date.now() - started, console: vm.console, failure };
}
