/**
 * How boot tests learn a guest's state with nothing test-only in the image: a shell script on a
 * small FAT test drive (attached read-only as the second virtio disk) is started by
 * `systemd.run=` on the kernel command line; it prints `CLIC-TEST <name> <base64 value>` lines
 * on the serial console, then `CLIC-TEST-END`, and the machine powers off.
 *
 *   const drive = await makeReportDrive(work, `#!/bin/sh\n${EMIT}\nemit hostname "$(hostname)"\n…`);
 *   const vm = await startVm({ …, extraDrives: [drive], kernelArgs: REPORT_KERNEL_ARGS });
 *   await vm.waitFor(/^CLIC-TEST-END/, 900_000);
 *   parseReport(vm.console).hostname;
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../builder/exec.ts';

/** Shell function of the report scripts (text of a JS template: its backslashes are escaped). */
export const EMIT = `emit() { printf 'CLIC-TEST %s %s\\n' "$1" "$(printf '%s' "$2" | base64 -w0)" >/dev/ttyS0; }`;

export const REPORT_KERNEL_ARGS = [
  `systemd.run="/bin/sh -c 'mount -o ro /dev/vdb /mnt && exec /bin/sh /mnt/report.sh'"`,
  'systemd.run_success_action=poweroff',
  'systemd.run_failure_action=poweroff',
];

/** A 1 MiB FAT image holding the script as report.sh. */
export async function makeReportDrive(dir: string, script: string): Promise<string> {
  const file = join(dir, 'report.sh');
  await writeFile(file, script);
  const drive = join(dir, 'test-drive.img');
  await runCommand(['mkfs.vfat', '-C', '-n', 'CLICTEST', drive, '1024']);
  await runCommand(['mcopy', '-i', drive, file, '::/report.sh']);
  return drive;
}

export function parseReport(console: string): Record<string, string> {
  const out: Record<string, string> = {};
  // systemd's status line ("A start job is running…") is erased with \r and spaces, possibly
  // just before a report line: a carriage return starts a line of its own
  for (const m of console.replace(/\r\n?/g, '\n').matchAll(/^[ \t]*CLIC-TEST (\S+) ?(\S*)$/gm)) out[m[1]] = Buffer.from(m[2], 'base64').toString('utf8');
  return out;
}
