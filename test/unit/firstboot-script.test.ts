/**
 * The first-boot script, run on the build host as the image runs it (bash, no root): the
 * image's overlays/firstboot/usr/lib/clic/clic-firstboot with CLIC_ROOT pointing at a temporary
 * root, and CLIC_ROOT_DISK at a disk image file (MBR or GPT, made with sfdisk, then enlarged as
 * a card larger than the image is) instead of the running root's disk. sfdisk and ssh-keygen
 * are the real ones; resize2fs, which needs a real device, is a stub recording its argument —
 * and failing once, to stand for a power cut before the script's end; systemd-machine-id-setup
 * is a stub too (build containers have no systemd; the boot test sees the real one).
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/paths.ts';

const SCRIPT = join(ROOT, 'overlays/firstboot/usr/lib/clic/clic-firstboot');
const MiB = 1024 * 1024;
const scratch = mkdtempSync(join(tmpdir(), 'clic-firstboot-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function exec(argv: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(argv[0], argv.slice(1), { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

interface Setup {
  root: string;
  disk: string;
  stubs: string;
  calls: string;
}

/** A root as the image ships it (no host key, empty machine-id) and a 64 MiB disk enlarged to 128 MiB. */
async function setup(name: string, label: 'dos' | 'gpt', withData = false): Promise<Setup> {
  const dir = join(scratch, name);
  const root = join(dir, 'root');
  mkdirSync(join(root, 'etc/ssh'), { recursive: true });
  writeFileSync(join(root, 'etc/machine-id'), '');
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, '');
  truncateSync(disk, 64 * MiB);
  const rootSize = withData ? 'size=24MiB, ' : '';
  const table = label === 'gpt'
    ? `label: gpt\nstart=2048, size=16MiB, type=U\nstart=34816, ${rootSize}type=L\n`
    : `label: dos\nstart=8192, size=16MiB, type=c\nstart=40960, ${rootSize}type=83\n`;
  const data = withData ? (label === 'gpt' ? 'start=86016, type=L\n' : 'start=90112, type=83\n') : '';
  const made = await exec(['sfdisk', '--quiet', disk], {}, table + data);
  expect(made.code, made.stderr).toBe(0);
  truncateSync(disk, 128 * MiB); // the card is larger than the image
  const stubs = join(dir, 'stubs');
  mkdirSync(stubs);
  const calls = join(dir, 'resize2fs.calls');
  // stands for resize2fs on the real partition; exits 1 while FAIL exists (a power cut)
  writeFileSync(join(stubs, 'resize2fs'), `#!/bin/sh\necho "$*" >> "${calls}"\n[ ! -e "${dir}/FAIL" ] || exit 1\n`);
  chmodSync(join(stubs, 'resize2fs'), 0o755);
  // systemd's tool, absent from build containers; the boot test shows the real one at work
  writeFileSync(join(stubs, 'systemd-machine-id-setup'), '#!/bin/sh\nfor a; do case $a in --root=*) r=${a#--root=} ;; esac; done\nod -An -N16 -tx1 /dev/urandom | tr -d \' \\n\' > "$r/etc/machine-id"\necho >> "$r/etc/machine-id"\n');
  chmodSync(join(stubs, 'systemd-machine-id-setup'), 0o755);
  return { root, disk, stubs, calls };
}

function run(s: Setup) {
  return exec(['bash', '--norc', SCRIPT], {
    PATH: `${s.stubs}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    CLIC_ROOT: s.root,
    CLIC_ROOT_DISK: s.disk,
    CLIC_ROOT_PARTNUM: '2',
    CLIC_ROOT_PART: '/dev/test-root-partition',
    CLIC_LAST_PART: '/dev/test-data-partition',
  });
}

async function partitions(disk: string) {
  const { stdout } = await exec(['sfdisk', '--json', disk]);
  return (JSON.parse(stdout) as { partitiontable: { lastlba?: number; partitions: { start: number; size: number }[] } }).partitiontable;
}

const fingerprints = async (root: string) => {
  const keys = readdirSync(join(root, 'etc/ssh')).filter((f) => f.endsWith('_key.pub')).sort();
  return Object.fromEntries(await Promise.all(keys.map(async (k) => [k, (await exec(['ssh-keygen', '-l', '-f', join(root, 'etc/ssh', k)])).stdout.split(' ')[1]])));
};

describe('clic-firstboot on the build host', () => {
  it.each(['gpt', 'dos'] as const)('%s disk: machine id, SSH host keys, root partition to the end of the disk, then the done-marker', async (label) => {
    const s = await setup(`complete-${label}`, label);
    const r = await run(s);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(join(s.root, 'etc/machine-id'), 'utf8')).toMatch(/^[0-9a-f]{32}\n$/);
    expect(Object.keys(await fingerprints(s.root))).toEqual(['ssh_host_ecdsa_key.pub', 'ssh_host_ed25519_key.pub', 'ssh_host_rsa_key.pub']);
    const table = await partitions(s.disk);
    const root = table.partitions[1];
    const diskSectors = (128 * MiB) / 512;
    // to the last usable sector: GPT keeps 33 sectors for its backup at the (new) end
    expect(root.start + root.size).toBe(label === 'gpt' ? diskSectors - 33 : diskSectors);
    if (label === 'gpt') expect(table.lastlba).toBe(diskSectors - 34);
    expect(table.partitions[0]).toEqual(expect.objectContaining({ start: label === 'gpt' ? 2048 : 8192, size: 32768 }));
    expect(readFileSync(s.calls, 'utf8')).toBe('/dev/test-root-partition\n');
    expect(r.stdout).toMatch(new RegExp(`^root partition: growing partition 2 of .*disk\\.img \\(${label}\\) from \\d+ MiB to \\d+ MiB$`, 'm'));
    expect(r.stdout).toMatch(/^SSH host key: 256 SHA256:\S+ .* \(ED25519\)$/m);
    expect(r.stdout).toMatch(/^first boot done$/m);
    expect(existsSync(join(s.root, 'var/lib/clic/firstboot.done'))).toBe(true);

    const again = await run(s);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^first boot already done: \d{4}-\d\d-\d\dT/);
  });

  it.each(['gpt', 'dos'] as const)('%s disk with a content partition after the root: the content partition gets the free space', async (label) => {
    const s = await setup(`data-${label}`, label, true);
    const before = await partitions(s.disk);
    const r = await run(s);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const table = await partitions(s.disk);
    const diskSectors = (128 * MiB) / 512;
    expect(table.partitions).toHaveLength(3);
    expect(table.partitions[1]).toEqual(before.partitions[1]);
    expect(table.partitions[2].start).toBe(before.partitions[2].start);
    expect(table.partitions[2].start + table.partitions[2].size).toBe(label === 'gpt' ? diskSectors - 33 : diskSectors);
    expect(readFileSync(s.calls, 'utf8')).toBe('/dev/test-data-partition\n');
    expect(r.stdout).toMatch(/^root partition: partition 2 keeps its size; partition 3, after it, gets the free space$/m);
    expect(r.stdout).toMatch(new RegExp(`^data partition: growing partition 3 of .*disk\\.img \\(${label}\\) from \\d+ MiB to \\d+ MiB$`, 'm'));
  });

  it('after a power cut in the middle, the next run completes without redoing what was done', async () => {
    const s = await setup('power-cut', 'gpt');
    writeFileSync(join(s.disk, '..', 'FAIL'), '');
    const cut = await run(s);
    expect(cut.code).not.toBe(0);
    expect(existsSync(join(s.root, 'var/lib/clic/firstboot.done'))).toBe(false);
    const grown = (await partitions(s.disk)).partitions[1];
    const before = await fingerprints(s.root);
    const id = readFileSync(join(s.root, 'etc/machine-id'), 'utf8');

    // the cut also left an empty private key and a temporary file of ssh-keygen behind
    writeFileSync(join(s.root, 'etc/ssh/ssh_host_ed25519_key'), '');
    writeFileSync(join(s.root, 'etc/ssh/ssh_host_rsa_key.Xq3v9TtWc1'), 'partial');
    rmSync(join(s.disk, '..', 'FAIL'));
    const r = await run(s);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(existsSync(join(s.root, 'var/lib/clic/firstboot.done'))).toBe(true);
    expect(readFileSync(join(s.root, 'etc/machine-id'), 'utf8')).toBe(id);
    const after = await fingerprints(s.root);
    expect(after['ssh_host_rsa_key.pub']).toBe(before['ssh_host_rsa_key.pub']);
    expect(after['ssh_host_ecdsa_key.pub']).toBe(before['ssh_host_ecdsa_key.pub']);
    expect(after['ssh_host_ed25519_key.pub']).not.toBe(before['ssh_host_ed25519_key.pub']);
    expect(readdirSync(join(s.root, 'etc/ssh')).filter((f) => f.startsWith('ssh_host_')).sort()).toEqual(
      ['ecdsa', 'ed25519', 'rsa'].flatMap((t) => [`ssh_host_${t}_key`, `ssh_host_${t}_key.pub`]),
    );
    expect(r.stdout).toMatch(/removing the incomplete pair ssh_host_ed25519_key/);
    expect(r.stdout).toMatch(/removing the leftover ssh_host_rsa_key\.Xq3v9TtWc1/);
    expect(r.stdout).toMatch(/^root partition: partition 2 of .* already ends at the end of the disk/m);
    expect((await partitions(s.disk)).partitions[1]).toEqual(grown);
    expect(readFileSync(s.calls, 'utf8')).toBe('/dev/test-root-partition\n/dev/test-root-partition\n');
  });
});
