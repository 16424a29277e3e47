/**
 * bootImage — boots a built image under QEMU the way its board says (board.qemu), watching the
 * serial console until a line matches (by default the login prompt), then stops QEMU.
 * The image itself is never written: QEMU runs on a qcow2 overlay in a scratch folder.
 *
 * Machines:
 *  - x86_64-uefi: OVMF firmware, the image as a virtio disk; KVM when /dev/kvm works, otherwise
 *    (or when KVM fails to run the firmware, as in some nested setups) TCG.
 *  - raspi3b: kernel, initrd and DTB read from the image's own FAT partition (config.txt names
 *    them), kernel arguments from its cmdline.txt, the image as the SD card (size rounded up to
 *    a power of two, as QEMU requires); console on the mini-UART (second serial port).
 *  - aarch64-virt: the same files from the FAT partition on the generic `virt` machine, for
 *    boards QEMU cannot emulate (Pi 4 on QEMU < 9); console forced to the virt UART.
 *
 *   const r = await bootImage({ image: 'out/clic-pc-x86_64.img', board, scratchDir: '/tmp/x' });
 *   r.matched; // true when "login:" appeared
 */
import { access, copyFile, mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BoardDef } from './recipe/define.ts';
import { runCommand } from './exec.ts';
import { AbortedError } from './errors.ts';

export interface BootOptions {
  image: string;
  board: BoardDef;
  /** Scratch folder for the overlay, firmware variables and extracted boot files. */
  scratchDir: string;
  /** Stop when a console line matches; default: a login prompt. */
  until?: RegExp;
  timeoutMs?: number;
  accel?: 'auto' | 'kvm' | 'tcg';
  onLine?: (line: string) => void;
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

/** Reads config.txt/cmdline.txt from the image's FAT partition and extracts the files they name. */
export async function extractPiBootFiles(image: string, board: BoardDef, dir: string): Promise<BootFiles> {
  const { stdout } = await runCommand(['sfdisk', '--json', image]);
  const table = JSON.parse(stdout) as { partitiontable: { sectorsize?: number; partitions: { start: number }[] } };
  const index = board.partitions.findIndex((p) => p.fs === 'vfat');
  const offset = table.partitiontable.partitions[index].start * (table.partitiontable.sectorsize ?? 512);
  const fat = `${image}@@${offset}`;
  const read = async (name: string) => (await runCommand(['mtype', '-i', fat, `::/${name}`])).stdout;
  const config = await read('config.txt');
  const setting = (re: RegExp, what: string) => {
    const m = config.match(re);
    if (!m) throw new Error(`config.txt in ${image} names no ${what}`);
    return m[1].trim();
  };
  const files: BootFiles = {
    kernel: join(dir, 'kernel'),
    initrd: join(dir, 'initrd'),
    cmdline: (await read('cmdline.txt')).trim(),
  };
  await runCommand(['mcopy', '-o', '-n', '-i', fat, `::/${setting(/^kernel=(.+)$/m, 'kernel')}`, files.kernel]);
  await runCommand(['mcopy', '-o', '-n', '-i', fat, `::/${setting(/^initramfs\s+(\S+)/m, 'initramfs')}`, files.initrd]);
  if (board.qemu.dtb) {
    files.dtb = join(dir, 'board.dtb');
    await runCommand(['mcopy', '-o', '-n', '-i', fat, `::/${board.qemu.dtb}`, files.dtb]);
  }
  return files;
}

const nextPowerOfTwo = (n: number) => 2 ** Math.ceil(Math.log2(n));

async function qemuArgv(opts: BootOptions, accel: 'kvm' | 'tcg'): Promise<string[]> {
  const { board, scratchDir } = opts;
  const image = resolve(opts.image);
  const overlay = join(scratchDir, 'disk.qcow2');
  const size = (await stat(image)).size;
  const overlaySize = board.qemu.machine === 'raspi3b' ? nextPowerOfTwo(size) : size;
  await runCommand(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', image, '-F', 'raw', overlay, String(overlaySize)]);
  const mem = String(board.qemu.memoryMiB);
  const common = ['-display', 'none', '-monitor', 'none', '-no-reboot'];
  switch (board.qemu.machine) {
    case 'x86_64-uefi': {
      const vars = join(scratchDir, 'OVMF_VARS.fd');
      await copyFile(OVMF_VARS, vars);
      return [
        'qemu-system-x86_64', ...common,
        ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg']),
        '-m', mem, '-smp', '2', '-serial', 'stdio',
        '-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
        '-drive', `if=pflash,format=raw,file=${vars}`,
        '-drive', `file=${overlay},if=virtio,format=qcow2`,
        '-nic', 'user,model=virtio-net-pci,restrict=on',
      ];
    }
    case 'raspi3b': {
      const f = await extractPiBootFiles(image, board, scratchDir);
      return [
        'qemu-system-aarch64', ...common, '-M', 'raspi3b', '-m', mem,
        '-kernel', f.kernel, '-initrd', f.initrd, ...(f.dtb ? ['-dtb', f.dtb] : []), '-append', f.cmdline,
        '-drive', `file=${overlay},if=sd,format=qcow2`,
        // the mini-UART (ttyS1 in the guest) is QEMU's second serial port
        '-serial', 'null', '-serial', 'stdio',
      ];
    }
    case 'aarch64-virt': {
      const f = await extractPiBootFiles(image, board, scratchDir);
      const cmdline = f.cmdline.split(/\s+/).filter((a) => !a.startsWith('console=')).concat(`console=${board.qemu.console}`).join(' ');
      return [
        'qemu-system-aarch64', ...common, '-M', 'virt', '-cpu', 'cortex-a72', '-smp', '2', '-m', mem,
        '-kernel', f.kernel, '-initrd', f.initrd, '-append', cmdline,
        '-drive', `file=${overlay},if=virtio,format=qcow2`, '-serial', 'stdio',
        '-nic', 'user,model=virtio-net-pci,restrict=on',
      ];
    }
  }
}

async function bootOnce(opts: BootOptions, accel: 'kvm' | 'tcg'): Promise<BootResult> {
  const until = opts.until ?? /\blogin: *$/;
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const argv = await qemuArgv(opts, accel);
  const controller = new AbortController();
  const started = Date.now();
  let text = '';
  let matched = false;
  let failure: string | undefined;
  const timer = setTimeout(() => {
    failure = `no match for ${until} within ${Math.round(timeoutMs / 1000)} s`;
    controller.abort('timeout');
  }, timeoutMs);
  const check = (line: string) => {
    text += line + '\n';
    opts.onLine?.(line);
    if (controller.signal.aborted) return;
    // strip terminal escapes before matching
    const clean = line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    if (until.test(clean)) {
      matched = true;
      controller.abort('matched');
    } else if (FATAL.some((re) => re.test(clean)) || (accel === 'kvm' && KVM_BROKEN.test(clean))) {
      failure = clean.trim();
      controller.abort('failed');
    }
  };
  try {
    // the login prompt has no newline after it: QEMU's output is split on "login: " too
    await runCommand(argv, { signal: controller.signal, onLine: check, tailLines: 50, flushPartial: /login: $/ });
    failure ??= 'QEMU exited before the console showed what was expected';
  } catch (err) {
    if (!(err instanceof AbortedError)) failure ??= (err as Error).message;
  } finally {
    clearTimeout(timer);
  }
  return { matched, accel, ms: Date.now() - started, console: text, failure: matched ? undefined : failure };
}

export async function bootImage(opts: BootOptions): Promise<BootResult> {
  await mkdir(opts.scratchDir, { recursive: true });
  const wantKvm = opts.board.qemu.machine === 'x86_64-uefi' && opts.accel !== 'tcg' && (opts.accel === 'kvm' || (await kvmAvailable()));
  if (!wantKvm) return bootOnce(opts, 'tcg');
  const first = await bootOnce(opts, 'kvm');
  if (first.matched || opts.accel === 'kvm' || !KVM_BROKEN.test(first.failure ?? first.console)) return first;
  return bootOnce(opts, 'tcg');
}
