/**
 * The CLI's folder checks on real file systems, in a private mount namespace: an output folder
 * on a read-only file system, an existing read-only output folder, and a cache folder on a file
 * system too small for the image; each stops the build before any step, in one sentence naming
 * the path and the cause, and leaves nothing in the output folder.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../support/images.ts';

/** Mounts a tmpfs (options given) on a new folder in a private namespace, then runs the CLI there. */
function buildIn(mountOptions: string, args: (mnt: string) => string[]): Promise<{ code: number; stdout: string; stderr: string; mnt: string }> {
  return mkdtemp(join(tmpdir(), 'clic-folders-')).then((mnt) => new Promise((resolve) => {
    const script = `mount -t tmpfs -o ${mountOptions} clic-test "$1" && shift && "$@"; code=$?; ls -A "${mnt}" >&2; exit $code`;
    execFile('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', mnt, process.execPath, CLI, ...args(mnt)], { timeout: 60_000 }, (err, stdout, stderr) => {
      void rm(mnt, { recursive: true, force: true });
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr, mnt });
    });
  }));
}

describe('the build folders, checked before any work', () => {
  it('an output folder that cannot be made on a read-only file system', async () => {
    const r = await buildIn('ro,size=1m', (mnt) => ['build', 'clic-pc-x86_64', '--out', join(mnt, 'out'), '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: output folder ${r.mnt}/out: cannot be made in ${r.mnt}, it is on a read-only file system`);
    expect(r.stdout).not.toContain('step:start');
  });

  it('an existing output folder on a read-only file system', async () => {
    const r = await buildIn('ro,size=1m', (mnt) => ['build', 'clic-pc-x86_64', '--out', mnt, '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: output folder ${r.mnt}: cannot be written, it is on a read-only file system`);
  });

  it('a cache folder on a file system too small: needed and free, in words', async () => {
    const r = await buildIn('size=64m', (mnt) => ['build', 'clic-pc-x86_64', '--out', join(tmpdir(), 'clic-never-written'), '--cache-dir', join(mnt, 'cache'), '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`error: cache folder ${r.mnt}/cache: not enough free space, the root tree and the partition files need at least [0-9.]+ GiB and 64 MiB is free`));
    // nothing made there: not even the cache folder
    expect(r.stderr.trim().split('\n').at(-1)).not.toBe('cache');
    expect(r.stdout).not.toContain('step:start');
  });
});
