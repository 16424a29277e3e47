/**
 * The fingerprint of what an initramfs is made from: the same for the same entries whatever
 * their folders went through (a folder unpacked from the step cache is smaller than the one
 * dpkg filled and emptied) and whenever they were written, different when an entry is added,
 * changed (even to bytes of the same size) or gets another mode.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FINGERPRINT_SCRIPT } from '../../builder/steps/initramfs.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clic-fingerprint-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fingerprint = (root: string) => execFileSync('sh', ['-c', FINGERPRINT_SCRIPT, 'fp', root, 'etc/initramfs-tools', 'usr/sbin', 'etc/absent']).toString();

async function tree(root: string, churn: number): Promise<void> {
  await mkdir(join(root, 'etc/initramfs-tools'), { recursive: true });
  await mkdir(join(root, 'usr/sbin'), { recursive: true });
  for (let i = 0; i < churn; i++) await writeFile(join(root, 'usr/sbin', `tmp${i}`), '');
  for (let i = 0; i < churn; i++) await rm(join(root, 'usr/sbin', `tmp${i}`));
  await writeFile(join(root, 'etc/initramfs-tools/modules'), 'ext4\n');
  await writeFile(join(root, 'usr/sbin/tool'), 'x');
  for (const p of ['etc/initramfs-tools/modules', 'usr/sbin/tool', 'etc/initramfs-tools', 'usr/sbin']) await utimes(join(root, p), 1_700_000_000, 1_700_000_000);
}

describe('initramfs fingerprint', () => {
  it('ignores the history and the times of entries, and sees an entry added, changed or given another mode', async () => {
    await tree(join(dir, 'a'), 400);
    await tree(join(dir, 'b'), 0);
    const a = fingerprint(join(dir, 'a'));
    expect(fingerprint(join(dir, 'b'))).toBe(a);
    // times tell when a build ran (another build, a cache entry stored by another machine)
    await utimes(join(dir, 'b/usr/sbin'), 1_800_000_000, 1_800_000_000);
    await utimes(join(dir, 'b/usr/sbin/tool'), 1_800_000_000, 1_800_000_000);
    expect(fingerprint(join(dir, 'b'))).toBe(a);
    await writeFile(join(dir, 'b/usr/sbin/tool'), 'y');
    expect(fingerprint(join(dir, 'b'))).not.toBe(a); // same size, other bytes
    await tree(join(dir, 'c'), 0);
    await chmod(join(dir, 'c/usr/sbin/tool'), 0o755);
    expect(fingerprint(join(dir, 'c'))).not.toBe(a); // mode
    await tree(join(dir, 'd'), 0);
    await writeFile(join(dir, 'd/etc/initramfs-tools/hook'), '');
    expect(fingerprint(join(dir, 'd'))).not.toBe(a); // new entry
  });
});
