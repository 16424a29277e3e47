/**
 * Power cuts, as kits meet them in the field (unplugged, a flat battery): one device from the
 * x86_64 image, on a disk 1 GiB larger than the image, is powered on and cut off (QEMU ended,
 * no shutdown) at a random moment, CLIC_TEST_POWER_CUTS times (3 by default; the random moments
 * come from CLIC_TEST_POWER_SEED, printed with the results, so that a failing run can be
 * replayed). The first cuts fall in the first boot (partition growth, SSH host keys, settings),
 * later ones in its next boots or in normal running. Then a last boot must bring the kit back
 * whole: the system running with no failed unit, the first boot done (machine id, three SSH
 * host keys, the content partition grown to the end of the disk), the kit's services active and
 * the portal answering; and once it has powered off, a forced check of every file system on the
 * disk (e2fsck -fn on the root and content partitions, fsck.vfat -n on the ESP) finds nothing.
 *
 * What a cut is here: QEMU ends, so everything the guest had not yet handed to its disk is
 * lost; what it had, the virtual disk keeps (a real SD card may lose a little more).
 * Results (each cut's moment and the last console line before it) go next to the image:
 * clic-pc-x86_64.power-cuts.json and the consoles.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRegistry, type BoardDef } from '../../builder/index.ts';
import { runCommand } from '../../builder/exec.ts';
import { startVm } from '../../builder/qemu.ts';
import { imagesDir } from '../support/images.ts';
import { openDisk } from '../support/inspect.ts';
import { EMIT, makeReportDrive, parseReport } from '../support/guest-report.ts';

const IMAGE = 'clic-pc-x86_64';
const GROWTH = 1024 * 1024 * 1024;
const CUTS = Number(process.env.CLIC_TEST_POWER_CUTS ?? 3);
const SEED = Number(process.env.CLIC_TEST_POWER_SEED ?? Date.now() % 2 ** 31);
/** Moments of the cuts, in seconds after power-on: the firmware and kernel take the first ~10 s
 *  under TCG; the first boot's work ends ~40-60 s in. */
const WINDOW = { from: 8, to: 70 };

/** A small seeded generator (mulberry32): the same seed gives the same cuts. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Runs in the guest (bash) once the system is up, from the test drive; powers the kit off. */
const GUEST_SCRIPT = `#!/bin/bash
# clic-image boot test (test/boot/power-cut.test.ts): the kit after its power cuts.
${EMIT}
emit system-state "$(systemctl is-system-running --wait)"
emit failed-units "$(systemctl list-units --failed --no-legend --plain | awk '{print $1}')"
emit firstboot-done "$(cat /var/lib/clic/firstboot.done 2>&1)"
emit machine-id "$(cat /etc/machine-id)"
emit ssh-keys "$(for k in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -l -f "$k"; done 2>&1)"
emit disk-bytes "$(blockdev --getsize64 /dev/vda)"
emit data-partition "$(cat /sys/class/block/vda3/start) $(cat /sys/class/block/vda3/size)"
emit data-fs-bytes "$(df -B1 --output=size /srv/clic-data | tail -n 1 | tr -d ' ')"
emit active "$(for u in ssh nginx dnsmasq clic-settings; do echo "$u $(systemctl is-active "$u")"; done)"
emit portal "$(exec 3<>/dev/tcp/127.0.0.1/80 && printf 'GET / HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 && head -n 1 <&3 | tr -d '\\r')"
emit fsck-journal "$(journalctl -b -o cat -u 'systemd-fsck*' 2>&1)"
echo CLIC-TEST-END >/dev/ttyS0
systemctl poweroff
`;

/** The report script runs after multi-user.target (systemd.run= alone would stop short of it). */
const REPORT_ARGS = [
  'systemd.wants=multi-user.target',
  `systemd.run="/bin/sh -c 'mkdir -p /run/clic-test && mount -o ro /dev/vdb /run/clic-test && systemd-run --no-block --unit=clic-power-test --property=After=multi-user.target /bin/bash /run/clic-test/report.sh'"`,
  'systemd.run_success_action=none',
  'systemd.run_failure_action=none',
];

let work: string;
let board: BoardDef;
let image: string;
let report: Record<string, string> = {};
const cuts: { atSeconds: number; lastLine: string }[] = [];
const fsck: Record<string, { code: number; output: string }> = {};

/** The last systemd or kernel line the console showed: where the boot was when the power went. */
const lastLine = (console: string) =>
  console
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('qemu-system-'))
    .at(-1) ?? '';

/** A checker's exit code and output (fsck's codes say what it found: 0 is clean). */
const check = (argv: string[]) =>
  new Promise<{ code: number; output: string }>((res) =>
    execFile(argv[0], argv.slice(1), (err, stdout, stderr) => res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, output: stdout + stderr })),
  );

/** Forced, read-only checks of each file system of the disk the guest left (qcow2 → raw). */
async function checkFileSystems(overlay: string): Promise<void> {
  const raw = join(work, 'after.raw');
  await runCommand(['qemu-img', 'convert', '-O', 'raw', overlay, raw]);
  const { table } = await openDisk(raw);
  const fatIndex = board.partitions.findIndex((p) => p.fs === 'vfat');
  for (const [i, p] of table.partitions.entries()) {
    const offset = p.start * 512;
    if (i === fatIndex) {
      const fat = join(work, 'esp.raw');
      await runCommand(['dd', `if=${raw}`, `of=${fat}`, 'bs=1M', `skip=${offset}`, `count=${p.size * 512}`, 'iflag=skip_bytes,count_bytes', 'status=none']);
      fsck[`partition ${i + 1} (vfat)`] = await check(['fsck.vfat', '-n', fat]);
    } else {
      fsck[`partition ${i + 1} (ext4)`] = await check(['e2fsck', '-f', '-n', `${raw}?offset=${offset}`]);
    }
  }
  await rm(raw, { force: true });
}

beforeAll(async () => {
  board = (await loadRegistry()).boards.get('pc-x86_64')!;
  image = join(await imagesDir(), `${IMAGE}.img`);
  work = await mkdtemp(join(tmpdir(), 'clic-power-cut-'));
  const scratchDir = join(work, 'vm');
  const diskSize = (await stat(image)).size + GROWTH;
  const next = random(SEED);
  const consoles: string[] = [];
  try {
    for (let n = 0; n < CUTS; n++) {
      const atSeconds = Math.round(WINDOW.from + next() * (WINDOW.to - WINDOW.from));
      const vm = await startVm({ image, board, scratchDir, diskSize, reuseDisk: n > 0, network: 'none' });
      await new Promise((res) => setTimeout(res, atSeconds * 1000));
      await vm.stop();
      consoles.push(vm.console);
      cuts.push({ atSeconds, lastLine: lastLine(vm.console) });
    }
    const drive = await makeReportDrive(work, GUEST_SCRIPT);
    const vm = await startVm({ image, board, scratchDir, diskSize, reuseDisk: true, network: 'none', extraDrives: [drive], kernelArgs: REPORT_ARGS });
    try {
      await vm.waitFor(/^CLIC-TEST-END/, 900_000);
      // the kit powers itself off: its file systems are unmounted cleanly before the checks
      await vm.waitFor(/reboot: Power down/, 120_000).catch(() => undefined);
    } finally {
      await vm.stop();
      consoles.push(vm.console);
    }
    report = parseReport(vm.console);
    await checkFileSystems(join(scratchDir, 'disk.qcow2'));
  } finally {
    const dir = await imagesDir();
    consoles.forEach((c, i) => writeFileSync(join(dir, `${IMAGE}.power-cut-${i + 1}.console.log`), c));
    writeFileSync(join(dir, `${IMAGE}.power-cuts.json`), JSON.stringify({ seed: SEED, cuts, fsck }, null, 2));
  }
}, 3_600_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe(`${IMAGE}: ${CUTS} power cuts at random moments (seed ${SEED}), then a last boot`, () => {
  it('comes back running, with no failed unit, its services active and the portal answering', () => {
    expect(cuts).toHaveLength(CUTS);
    expect(report['system-state'], JSON.stringify(cuts)).toBe('running');
    expect(report['failed-units']).toBe('');
    // (clic-firstboot.service is done once: on these boots its condition skips it, the marker below says it finished)
    for (const u of ['ssh', 'nginx', 'dnsmasq', 'clic-settings']) expect(report.active).toMatch(new RegExp(`^${u} active$`, 'm'));
    expect(report.portal).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('has finished its first boot: machine id, three SSH host keys, the content partition grown to the disk end', async () => {
    expect(report['firstboot-done']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(report['machine-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(report['ssh-keys'].match(/SHA256:\S+/g)).toHaveLength(3);
    const [start, size] = report['data-partition'].split(' ').map(Number);
    expect((start + size) * 512).toBe(Number(report['disk-bytes']) - 33 * 512); // up to the backup GPT
    const data = (await openDisk(image)).table.partitions.at(-1)!;
    expect(Number(report['data-fs-bytes'])).toBeGreaterThan(data.size * 512 + GROWTH * 0.9);
  });

  it('leaves every file system clean: a forced check after the last boot finds nothing to fix', () => {
    expect(Object.keys(fsck)).toHaveLength(3);
    for (const [what, r] of Object.entries(fsck)) expect(r.code, `${what}\n${r.output}`).toBe(0);
  });
});
