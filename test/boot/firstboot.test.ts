/**
 * First boot and the settings file, proven on the x86_64 image under QEMU: two copies of the
 * same image, each with a deployer's settings file written onto its FAT partition with mtools
 * (never mounted), each booted once on a disk 1 GiB larger than the image.
 *
 *  - device A, test/fixtures/settings/valid.txt: its host name, values in settings.env, the
 *    admin key in root's authorized_keys, no error;
 *  - device B, test/fixtures/settings/invalid-many.txt: boots all the same, each problem in
 *    settings-errors.json, in the journal and in clic-status.txt on the FAT partition (secrets
 *    never shown), the recipe defaults in settings.env, the wifi off rather than open;
 *  - both: their own machine id (on disk) and SSH host keys, the content partition (last, after
 *    the root) and its file system grown to the end of the disk, the offline library running; the
 *    first-boot script run again (as after a power cut before its done-marker) changes nothing,
 *    and a bad host name on a later run keeps the last good one.
 *
 * Nothing test-only is in the image: the kernel command line gets `systemd.run=` which runs a
 * script from a small FAT disk attached read-only; it prints what the test checks on the serial
 * console (`CLIC-TEST <name> <base64>`) and powers off. The image file is also checked as
 * shipped: no SSH host key, no password hash, the example settings file all commented out.
 *
 * Images: the shared ones (test/support/images.ts), or those in $CLIC_TEST_IMAGES_DIR when set.
 * Console logs are kept next to the image (clic-pc-x86_64.firstboot-<device>.console.log).
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRegistry, type BoardDef } from '../../builder/index.ts';
import { runCommand } from '../../builder/exec.ts';
import { startVm } from '../../builder/qemu.ts';
import { imagesDir } from '../support/images.ts';
import { openDisk } from '../support/inspect.ts';
import { EMIT, makeReportDrive, parseReport, REPORT_KERNEL_ARGS } from '../support/guest-report.ts';
import { planOf } from '../support/plans.ts';
import { expectedProblems } from '../unit/helpers/expect-comments.ts';

const IMAGE = 'clic-pc-x86_64';
const FIXTURES = join(import.meta.dirname, '../fixtures/settings');
const GROWTH = 1024 * 1024 * 1024;
const ADMIN_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDlzPOmMmLXrxnsYKrGsGXITU+BPIr5gDOwRkqNtdxHb admin@atelier';

/** Runs in the guest (dash), from the test drive; `@BOOT_DIR@` is the board's FAT mount point. */
const GUEST_SCRIPT = `#!/bin/sh
# clic-image boot test (test/boot/firstboot.test.ts): reports the device's state, then powers off.
${EMIT}
fingerprints() { for k in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -l -f "$k"; done; }
emit hostname "$(cat /proc/sys/kernel/hostname)"
emit etc-hostname "$(cat /etc/hostname)"
emit machine-id "$(cat /etc/machine-id)"
emit machine-id-where "$(if mountpoint -q /etc/machine-id; then echo mount; else echo disk; fi)"
emit ssh-fingerprints "$(fingerprints)"
emit settings-env "$(cat /run/clic/settings.env)"
emit settings-errors "$(cat /run/clic/settings-errors.json)"
emit authorized-keys "$(cat /root/.ssh/authorized_keys 2>&1)"
emit journal-settings "$(journalctl -b -o cat -u clic-settings.service)"
emit status-file "$(cat @BOOT_DIR@/clic-status.txt)"
emit journal-firstboot "$(journalctl -b -o cat -u clic-firstboot.service)"
emit unit-firstboot "$(systemctl show -p ActiveState -p Result clic-firstboot.service)"
emit unit-settings "$(systemctl show -p ActiveState -p Result clic-settings.service)"
emit firstboot-done "$(cat /var/lib/clic/firstboot.done)"
emit disk-bytes "$(blockdev --getsize64 /dev/vda)"
emit root-partition "$(cat /sys/class/block/vda2/start) $(cat /sys/class/block/vda2/size)"
emit data-partition "$(cat /sys/class/block/vda3/start) $(cat /sys/class/block/vda3/size)"
emit data-fs "$(findmnt --noheadings --output SOURCE,FSTYPE /srv/clic-data) $(df -B1 --output=size /srv/clic-data | tail -n 1 | tr -d ' ')"
emit kiwix-enabled "$(systemctl is-enabled clic-kiwix.service)"
rm /var/lib/clic/firstboot.done
emit firstboot-rerun "$(/usr/lib/clic/clic-firstboot 2>&1; echo "exit status $?")"
emit ssh-fingerprints-rerun "$(fingerprints)"
sed -i 's/^hostname *=.*/hostname = -not-a-host-name-/' @BOOT_DIR@/clic-settings.txt
emit settings-rerun "$(CLIC_BOOT_DIR=@BOOT_DIR@ /usr/lib/clic/clic-settings 2>&1; echo "exit status $?")"
emit hostname-rerun "$(cat /proc/sys/kernel/hostname)"
echo CLIC-TEST-END >/dev/ttyS0
`;

type Report = Record<string, string>;

let work: string;
let image: string;
let board: BoardDef;
let bootDir: string;
let defaultHostname: string;
const reports: Record<'A' | 'B', Report> = { A: {}, B: {} };
const timings: Record<string, number> = {};

async function fatOffset(img: string, index: number): Promise<number> {
  const disk = await openDisk(img);
  return disk.table.partitions[index].start * 512;
}

/** A copy of the image with `fixture` as the deployer's clic-settings.txt (mtools, no mount). */
async function deviceCopy(name: string, fixture: string): Promise<string> {
  const copy = join(work, `${name}.img`);
  await runCommand(['cp', '--sparse=always', image, copy]);
  const fat = board.partitions.findIndex((p) => p.fs === 'vfat');
  await runCommand(['mcopy', '-o', '-i', `${copy}@@${await fatOffset(copy, fat)}`, join(FIXTURES, fixture), '::/clic-settings.txt']);
  return copy;
}


async function bootDevice(name: 'A' | 'B', fixture: string, drive: string, logDir: string): Promise<void> {
  const copy = await deviceCopy(name, fixture);
  const started = Date.now();
  const vm = await startVm({
    image: copy,
    board,
    scratchDir: join(work, `vm-${name}`),
    diskSize: (await stat(copy)).size + GROWTH,
    extraDrives: [drive],
    kernelArgs: REPORT_KERNEL_ARGS,
  });
  try {
    await vm.waitFor(/^CLIC-TEST-END/, 900_000);
  } finally {
    await vm.stop();
    await writeFile(join(logDir, `${IMAGE}.firstboot-${name}.console.log`), vm.console);
    await rm(copy, { force: true });
  }
  timings[`boot ${name} (${vm.accel})`] = Date.now() - started;
  reports[name] = parseReport(vm.console);
}

const fingerprintsOf = (text: string) => [...text.matchAll(/SHA256:\S+/g)].map((m) => m[0]).sort();
const envOf = (text: string) => Object.fromEntries([...text.matchAll(/^(CLIC_[A-Z_]+)='(.*)'$/gm)].map((m) => [m[1], m[2]]));

beforeAll(async () => {
  const dir = process.env.CLIC_TEST_IMAGES_DIR || (await imagesDir());
  image = join(dir, `${IMAGE}.img`);
  const registry = await loadRegistry();
  const plan = await planOf(IMAGE);
  board = registry.boards.get(plan.board.name)!;
  bootDir = board.partitions.find((p) => p.fs === 'vfat')!.mountpoint;
  defaultHostname = String(plan.layers.find((l) => l.name === 'base')!.vars.hostname);
  work = await mkdtemp(join(tmpdir(), 'clic-firstboot-boot-'));
  const drive = await makeReportDrive(work, GUEST_SCRIPT.replaceAll('@BOOT_DIR@', bootDir));
  // one at a time: the machine has 2 cores
  await bootDevice('A', 'valid.txt', drive, dir);
  await bootDevice('B', 'invalid-many.txt', drive, dir);
  await writeFile(join(dir, `${IMAGE}.firstboot.timings.json`), JSON.stringify(timings));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe(`${IMAGE} as shipped`, () => {
  it('has no SSH host key, no password hash (only locked or disabled accounts), an empty machine-id', async () => {
    const disk = await openDisk(image);
    const root = board.partitions.findIndex((p) => p.mountpoint === '/');
    expect((await disk.extList(root, '/etc/ssh')).filter((f) => f.startsWith('ssh_host_'))).toEqual([]);
    const shadow = (await disk.extRead(root, '/etc/shadow')).trim().split('\n');
    expect(shadow.length).toBeGreaterThan(5);
    for (const entry of shadow) expect(entry.split(':')[1], entry).toMatch(/^[!*]/);
    expect(await disk.extRead(root, '/etc/machine-id')).toBe('');
    expect(await disk.extList(root, '/var/lib/clic')).not.toContain('firstboot.done');
  });

  it('ships clic-settings.txt on its FAT partition, every setting commented out, CRLF line ends', async () => {
    const disk = await openDisk(image);
    const text = await disk.fatRead(board.partitions.findIndex((p) => p.fs === 'vfat'), 'clic-settings.txt');
    expect(text).toContain('\r\n');
    const lines = text.split('\r\n');
    expect(lines.filter((l) => l.trim() && !l.startsWith('#'))).toEqual([]);
    for (const key of ['hostname', 'wifi_ssid', 'wifi_passphrase', 'wifi_country', 'wifi_channel', 'admin_ssh_key', 'language']) {
      expect(lines.some((l) => l.startsWith(`#${key} = `)), key).toBe(true);
    }
  });
});

describe(`${IMAGE}: first boot of two devices from the same image`, () => {
  it('both ran the first-boot and settings units to success, with their journal lines', () => {
    for (const r of Object.values(reports)) {
      for (const unit of [r['unit-firstboot'], r['unit-settings']]) {
        expect(unit).toMatch(/^ActiveState=active$/m);
        expect(unit).toMatch(/^Result=success$/m);
      }
      expect(r['journal-firstboot']).toMatch(/^machine id: [0-9a-f]{32}$/m);
      expect(r['journal-firstboot']).toMatch(/^SSH host key: 256 SHA256:\S+ .*\(ED25519\)$/m);
      expect(r['journal-firstboot']).toMatch(/^root partition: partition 2 keeps its size; partition 3, after it, gets the free space$/m);
      expect(r['journal-firstboot']).toMatch(/^data partition: growing partition 3 of \/dev\/vda \(gpt\) from \d+ MiB to \d+ MiB$/m);
      expect(r['journal-firstboot']).toMatch(/^first boot done$/m);
      expect(r['firstboot-done']).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
  });

  it('gives each device its own machine id, written to disk', () => {
    const { A, B } = reports;
    expect(A['machine-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(B['machine-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(A['machine-id']).not.toBe(B['machine-id']);
    expect([A['machine-id-where'], B['machine-id-where']]).toEqual(['disk', 'disk']);
  });

  it('gives each device its own SSH host keys (RSA, ECDSA, Ed25519)', () => {
    const a = fingerprintsOf(reports.A['ssh-fingerprints']);
    const b = fingerprintsOf(reports.B['ssh-fingerprints']);
    expect(a).toHaveLength(3);
    expect(b).toHaveLength(3);
    expect(a.filter((f) => b.includes(f))).toEqual([]);
  });

  it('grows the content partition (last, after the root) and its mounted file system to the end of the larger disk', async () => {
    const [root, data] = (await openDisk(image)).table.partitions.slice(1);
    for (const r of Object.values(reports)) {
      const diskBytes = Number(r['disk-bytes']);
      expect(diskBytes).toBe((await stat(image)).size + GROWTH);
      expect(r['root-partition'].split(' ').map(Number)).toEqual([root.start, root.size]);
      const [start, size] = r['data-partition'].split(' ').map(Number);
      expect(start).toBe(data.start);
      expect((start + size) * 512).toBe(diskBytes - 33 * 512); // up to the backup GPT
      const [source, fstype, bytes] = r['data-fs'].split(/\s+/);
      expect([source, fstype]).toEqual(['/dev/vda3', 'ext4']);
      expect(Number(bytes)).toBeGreaterThan(data.size * 512 + GROWTH * 0.9);
      // the offline library starts with the system (this boot stops short of multi-user.target,
      // where it is wanted; test/boot/kiwix.test.ts shows it serving)
      expect(r['kiwix-enabled']).toBe('enabled');
    }
  });

  it('a re-run of the first-boot script (as after a power cut before its end) keeps everything', () => {
    for (const r of Object.values(reports)) {
      expect(r['firstboot-rerun']).toMatch(/already ends at the end of the disk/);
      expect(r['firstboot-rerun']).toMatch(/first boot done\nexit status 0$/);
      expect(fingerprintsOf(r['ssh-fingerprints-rerun'])).toEqual(fingerprintsOf(r['ssh-fingerprints']));
    }
  });
});

describe(`${IMAGE}: the settings file edited before the first boot`, () => {
  it('device A: its host name, its values in settings.env, its admin key, no error', () => {
    const r = reports.A;
    expect(r.hostname).toBe('atelier-grenoble');
    expect(r['etc-hostname']).toBe('atelier-grenoble');
    expect(envOf(r['settings-env'])).toEqual({
      CLIC_HOSTNAME: 'atelier-grenoble',
      CLIC_WIFI_SSID: 'Médiathèque Éducation CLIC-AB',
      CLIC_WIFI_PASSPHRASE: '  correct horse battery staple  ',
      CLIC_WIFI_COUNTRY: 'BE',
      CLIC_WIFI_CHANNEL: '11',
      CLIC_ADMIN_SSH_KEY: ADMIN_KEY,
      CLIC_LANGUAGE: 'en',
      // the kit-admin layer's key: no hash in this file, the admin page is off
      CLIC_ADMIN_PASSWORD_HASH: '',
      CLIC_WIFI_REFUSED: '',
    });
    expect(JSON.parse(r['settings-errors'])).toEqual([]);
    expect(r['authorized-keys'].split('\n')).toContain(ADMIN_KEY);
    expect(r['journal-settings']).toMatch(/^host name set to atelier-grenoble$/m);
    expect(r['journal-settings']).toMatch(/; 0 problem\(s\)$/m);
    // the status file written back on the FAT partition, for the deployer reading the card on a PC
    const status = r['status-file'];
    expect(status).toMatch(/^  hostname = atelier-grenoble\r$/m);
    expect(status).toMatch(/^  wifi_passphrase = \(set, hidden\)\r$/m);
    expect(status).toMatch(/^No problem in clic-settings\.txt\.\r$/m);
    expect(status).not.toContain('correct horse');
  });

  it('device B: boots with the defaults, each bad value in settings-errors.json and in the journal', () => {
    const r = reports.B;
    const expected = expectedProblems(join(FIXTURES, 'invalid-many.txt'));
    const errors = JSON.parse(r['settings-errors']) as { key: string; value: string; message: string }[];
    expect(errors.map((e) => e.key)).toEqual(expected.map((e) => e.path));
    for (const e of expected) {
      const error = errors.find((x) => x.key === e.path)!;
      expect(error.message).toContain(`clic-settings.txt line ${e.line}: `);
      expect(error.message).toContain(e.text);
      // a secret is named, never shown: not in the journal, nor in the errors file every hotspot client can read
      const shown = e.path === 'wifi_passphrase' ? '(hidden)' : '"';
      const line = r['journal-settings'].split('\n').find((l) => l.startsWith(`clic-settings.txt line ${e.line}: ${e.path} = ${shown}`));
      expect(line, r['journal-settings']).toBeDefined();
      expect(line).toContain(e.text);
      if (e.path === 'wifi_passphrase') {
        expect(error.value).toBe('');
        expect(r['journal-settings']).not.toContain('1234567');
        expect(r['settings-errors']).not.toContain('1234567');
      } else {
        expect(line).toContain(`${e.path} = "${error.value}"`);
      }
    }
    // the status file on the FAT partition names each problem with its line, and says the wifi is off
    const status = r['status-file'];
    for (const e of expected) expect(status).toContain(`clic-settings.txt line ${e.line}: ${e.path}: `);
    expect(status).toMatch(/^Wifi off: the wifi passphrase in clic-settings\.txt is invalid/m);
    expect(status).toMatch(/^  wifi_passphrase = \(invalid: wifi off\)\r$/m);
    expect(status).not.toContain('1234567');
    expect(r.hostname).toBe(defaultHostname);
    const env = envOf(r['settings-env']);
    expect(env.CLIC_HOSTNAME).toBe(defaultHostname);
    expect(env.CLIC_LANGUAGE).toBe('en'); // the one valid line
    expect(env.CLIC_WIFI_CHANNEL).not.toBe('14');
    expect(env.CLIC_WIFI_COUNTRY).not.toBe('XX');
    // fail closed: no earlier passphrase to keep, so the hotspot stays off rather than open
    expect(env.CLIC_WIFI_PASSPHRASE).toBe('');
    expect(env.CLIC_WIFI_REFUSED).not.toBe('');
    expect(env.CLIC_ADMIN_SSH_KEY).toBe('');
    expect(r['authorized-keys']).not.toMatch(/ssh-/);
  });

  it('a bad host name on a later run keeps the last good one (A: from its file; B: the default)', () => {
    for (const [name, expected] of [['A', 'atelier-grenoble'], ['B', defaultHostname]] as const) {
      const r = reports[name];
      expect(r['settings-rerun']).toMatch(/hostname = "-not-a-host-name-" is invalid: .*keeping the (previous|default) value/);
      expect(r['settings-rerun']).toMatch(/exit status 0$/);
      expect(r['hostname-rerun']).toBe(expected);
    }
  });
});
