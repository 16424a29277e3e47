/**
 * Boots a copy of the x86_64 image as a deployer would have prepared it (the settings file
 * written on its FAT partition with mtools, never mounted), with a test drive that carries the
 * guest-side script (test/boot/hotspot-guest/) and the client tools the image does not ship:
 * wpa_supplicant (with the libraries it needs), busybox (for udhcpc) and, for the port scan,
 * nmap with its data files, all the build host's Debian binaries. Nothing of the test enters the image; the kernel command line starts the
 * script (systemd.run=), which reports "CLIC-TEST <key> <value>" lines on the serial console.
 *
 *   const kit = await bootKit({ image, board, settings: 'wifi_ssid = Atelier\n', scratchDir });
 *   await kit.vm.waitFor(/CLIC-TEST done/, 300_000);
 *   kit.marks('probe');
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { startVm, type Vm } from '../../builder/qemu.ts';
import type { BoardDef } from '../../builder/recipe/define.ts';
import { PROBES } from '../../builder/portal/probes.ts';

const exec = promisify(execFile);
const run = async (argv: string[]) => (await exec(argv[0], argv.slice(1), { maxBuffer: 16 * 1024 * 1024 })).stdout;
const GUEST = join(import.meta.dirname, 'hotspot-guest');
const GUEST_SCRIPTS = ['run.sh', 'http.sh', 'udhcpc.sh', 'scan.sh'];
const NMAP_DATA = ['nmap-services', 'nmap-payloads', 'nmap-protocols'];
const GLIBC = /^(libc|libm|libresolv|libdl|libpthread|librt|ld-linux[^/]*)\.so/;

export interface KitOptions {
  image: string;
  board: BoardDef;
  scratchDir: string;
  /** Content of clic-settings.txt on the FAT partition. */
  settings: string;
  /** What the client should see and use. */
  expect: { ssid: string; passphrase: string };
  /** Scan every TCP and UDP port of the kit from the client (a few minutes under TCG). */
  scan?: boolean;
  /** Drive the kit admin page (the settings file sets the hash of this password): the client
   *  renames the network and moves it to another channel through it. */
  admin?: AdminChange;
  /** Radios present from the start (module loaded at boot), as built-in wifi; otherwise they
   *  appear once the system is up, as a USB adapter plugged in later. */
  wifiAtBoot?: boolean;
  onLine?: (line: string) => void;
}

export interface AdminChange {
  password: string;
  hash: string;
  newSsid: string;
  newChannel: string;
}

export interface Kit {
  vm: Vm;
  /** Host port forwarded to the kit's port 80. */
  httpPort: number;
  /** Values of the console's "CLIC-TEST <key> <value>" lines for a key, in order. */
  marks(key: string): string[];
}

/** A TCP port free on the loopback right now (for a QEMU port forward). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Libraries a host binary needs, glibc's own excepted (the guest has the same Debian release). */
async function libsOf(binary: string): Promise<string[]> {
  const out = await run(['ldd', binary]);
  return [...out.matchAll(/=> (\/\S+)/g)].map((m) => m[1]).filter((p) => !GLIBC.test(basename(p)));
}

/** A small FAT image with the guest script, its inputs and the client tools. */
export async function makeTestDrive(dir: string, expect: KitOptions['expect'], scan = false, admin?: AdminChange, settingsPath = ''): Promise<string> {
  const tree = join(dir, 'drive');
  mkdirSync(join(tree, 'bin'), { recursive: true });
  mkdirSync(join(tree, 'lib'), { recursive: true });
  for (const f of GUEST_SCRIPTS) cpSync(join(GUEST, f), join(tree, f));
  writeFileSync(
    join(tree, 'test.env'),
    [`EXPECT_SSID=${quote(expect.ssid)}`, `PASSPHRASE=${quote(expect.passphrase)}`, `PROBES=${quote(PROBES.map((p) => `${p.os} ${p.url}`).join('\n'))}`, `SCAN=${scan ? 1 : 0}`, ...adminEnv(admin, settingsPath), ''].join('\n'),
  );
  const tools = { wpa_supplicant: '/usr/sbin/wpa_supplicant', busybox: '/bin/busybox', ...(scan ? { nmap: '/usr/bin/nmap' } : {}) };
  for (const [name, path] of Object.entries(tools)) {
    cpSync(path, join(tree, 'bin', name), { dereference: true });
    for (const lib of await libsOf(path)) cpSync(lib, join(tree, 'lib', basename(lib)), { dereference: true });
  }
  // the data files nmap needs for a port scan (its scripts and OS database stay out)
  mkdirSync(join(tree, 'nmap'));
  if (scan) for (const f of NMAP_DATA) cpSync(join('/usr/share/nmap', f), join(tree, 'nmap', f));
  const img = join(dir, 'test-drive.img');
  await run(['mkfs.vfat', '-C', '-n', 'CLICTEST', img, String(64 * 1024)]);
  await run(['mcopy', '-s', '-i', img, ...[...GUEST_SCRIPTS, 'test.env', 'bin', 'lib', 'nmap'].map((f) => join(tree, f)), '::/']);
  return img;
}

/** A value for test.env, which the guest script sources. */
const quote = (s: string) => `'${s.replace(/'/g, `'"'"'`)}'`;

/** The admin page's inputs of the guest script: the form it posts names the new SSID and channel. */
function adminEnv(admin: AdminChange | undefined, settingsPath: string): string[] {
  if (!admin) return [];
  const form = new URLSearchParams({ wifi_ssid: admin.newSsid, wifi_channel: admin.newChannel }).toString();
  return [`ADMIN_PASSWORD=${quote(admin.password)}`, `ADMIN_HASH=${quote(admin.hash)}`, `NEW_SSID=${quote(admin.newSsid)}`, `NEW_SETTINGS_FORM=${quote(form)}`, `SETTINGS_FILE=${quote(settingsPath)}`];
}

/** A sparse copy of the image with clic-settings.txt replaced on its FAT partition (mtools). */
export async function imageWithSettings(image: string, board: BoardDef, settings: string, dir: string): Promise<string> {
  const copy = join(dir, 'kit.img');
  await run(['cp', '--sparse=always', image, copy]);
  const table = JSON.parse(await run(['sfdisk', '--json', copy])) as { partitiontable: { sectorsize?: number; partitions: { start: number }[] } };
  const index = board.partitions.findIndex((p) => p.fs === 'vfat');
  const fat = `${copy}@@${table.partitiontable.partitions[index].start * (table.partitiontable.sectorsize ?? 512)}`;
  const file = join(dir, 'clic-settings.txt');
  writeFileSync(file, settings.replace(/\r?\n/g, '\r\n'));
  await run(['mcopy', '-o', '-i', fat, file, '::/clic-settings.txt']);
  return copy;
}

export async function bootKit(opts: KitOptions): Promise<Kit> {
  mkdirSync(opts.scratchDir, { recursive: true });
  const fat = opts.board.partitions.find((p) => p.fs === 'vfat')!;
  const drive = await makeTestDrive(opts.scratchDir, opts.expect, opts.scan, opts.admin, `${fat.mountpoint}/clic-settings.txt`);
  const image = await imageWithSettings(opts.image, opts.board, opts.settings, opts.scratchDir);
  const httpPort = await freePort();
  const vm = await startVm({
    image,
    board: opts.board,
    scratchDir: join(opts.scratchDir, 'vm'),
    extraDrives: [drive],
    forwards: [{ hostPort: httpPort, guestPort: 80 }],
    kernelArgs: [
      // systemd.run= makes its unit the default target: systemd.wants= puts multi-user.target
      // back in the initial transaction, so the boot is the normal one; that unit only queues
      // the script, which runs after multi-user.target (a oneshot waiting for the end of the
      // boot would hold it forever)
      'systemd.wants=multi-user.target',
      `systemd.run="/bin/sh -c 'mkdir -p /run/clic-test-drive && mount -o ro /dev/disk/by-label/CLICTEST /run/clic-test-drive && systemd-run --no-block --unit=clic-hotspot-test --property=Wants=multi-user.target --property=After=multi-user.target /bin/bash /run/clic-test-drive/run.sh'"`,
      ...(opts.wifiAtBoot ? ['modules-load=mac80211_hwsim', 'mac80211_hwsim.radios=2'] : []),
      'systemd.run_success_action=none',
      'systemd.run_failure_action=none',
    ],
    onLine: opts.onLine,
  });
  return {
    vm,
    httpPort,
    marks: (key) =>
      vm.console
        .split('\n')
        .map((l) => l.replace(/\r$/, ''))
        .map((l) => /CLIC-TEST (\S+) ?(.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => !!m && m[1] === key)
        .map((m) => m[2]),
  };
}

/** The settings file's text as the deployer would write it. */
export const settingsFile = (values: Record<string, string>) =>
  ['# written by the hotspot boot test', ...Object.entries(values).map(([k, v]) => `${k} = ${v}`), ''].join('\n');

