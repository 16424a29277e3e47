/**
 * Build leases, on real processes: a build killed with SIGKILL has its commands ended at once
 * (by its lease's watcher, not by the next build), and what it left in the cache folder (scratch
 * folder, temporary entry, lease) is a leftover that the next sweep removes; a live build's
 * folders never are, whether it holds its lease or is a build from before leases whose pid lives.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findLeftovers, leaseHeld, leaseIdOf, removeLeftovers, takeLease } from '../../builder/cache/lease.ts';
import { runCommand, withCommandEnv } from '../../builder/exec.ts';
import { alive, until } from './helpers/processes.ts';

let cacheDir: string;
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'clic-lease-'));
});
afterEach(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

/** A build in another process: takes a lease, makes its folders, starts a long command, says so. */
const BUILD = `
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { takeLease } from '${join(process.cwd(), 'builder/cache/lease.ts')}';
import { runCommand, withCommandEnv } from '${join(process.cwd(), 'builder/exec.ts')}';
const cacheDir = process.argv[2];
const lease = await takeLease(cacheDir);
await mkdir(join(cacheDir, 'work', 'clic-test.' + lease.id, 'rootfs'), { recursive: true });
await mkdir(join(cacheDir, 'steps', '.tmp-0123456789abcdef-00000000.' + lease.id), { recursive: true });
const command = withCommandEnv(lease.env, () => runCommand(['sh', '-c', 'sleep 300 & wait']));
setTimeout(() => process.stdout.write(JSON.stringify({ id: lease.id }) + '\\n'), 300);
await command;
`;

describe('build leases', () => {
  it('a live lease is held, its folders are no leftovers; released, it is gone', async () => {
    const lease = await takeLease(cacheDir);
    expect(lease.id).toMatch(/^\d+-[0-9a-f]{8}$/);
    expect(await leaseHeld(cacheDir, lease.id)).toBe(true);
    await mkdir(join(cacheDir, 'work', `clic-pc.${lease.id}`), { recursive: true });
    expect(await findLeftovers(cacheDir)).toEqual([]);
    const { stdout } = await withCommandEnv(lease.env, () => runCommand(['sh', '-c', 'echo "$CLIC_IMAGE_BUILD"']));
    expect(stdout.trim()).toBe(lease.id);
    await rm(join(cacheDir, 'work', `clic-pc.${lease.id}`), { recursive: true });
    await lease.release();
    expect(await leaseHeld(cacheDir, lease.id)).toBe(false);
    expect(await readdir(join(cacheDir, 'leases'))).toEqual([]);
  });

  it('a process with nothing else to do still waits for its release to finish', async () => {
    const script = join(cacheDir, 'release.mts');
    await writeFile(script, `import { takeLease } from '${join(process.cwd(), 'builder/cache/lease.ts')}';
const lease = await takeLease(process.argv[2]);
await lease.release();
process.stdout.write('released\\n');
`);
    const child = spawn(process.execPath, ['--import', 'tsx', script, cacheDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    await new Promise((r) => child.on('close', r));
    expect(out).toBe('released\n');
    expect(await readdir(join(cacheDir, 'leases'))).toEqual([]);
  });

  it('a build killed with SIGKILL: its command ends with it, and its folders and lease are swept', async () => {
    const script = join(cacheDir, 'build.mts');
    await writeFile(script, BUILD);
    const child = spawn(process.execPath, ['--import', 'tsx', script, cacheDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const said = await new Promise<{ id: string }>((resolve) => child.stdout.setEncoding('utf8').once('data', (l: string) => resolve(JSON.parse(l))));
    // the sh child of runCommand, and its sleep
    const sh = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sh\0-c\0sleep')));
    const sleep = Number(readFileSync(`/proc/${sh}/task/${sh}/children`, 'utf8').trim());
    expect(alive(sleep)).toBe(true);
    child.kill('SIGKILL');
    expect(await until(() => !alive(sleep) && !alive(sh), 5000)).toBe(true);
    // the watcher checks once more that nothing is left, then frees the lease
    for (let i = 0; i < 50 && (await leaseHeld(cacheDir, said.id)); i++) await new Promise((r) => setTimeout(r, 100));

    const leftovers = await findLeftovers(cacheDir);
    expect(leftovers.map((l) => [l.what, l.id]).sort()).toEqual([
      ['lease', said.id], ['scratch folder of a build', said.id], ['temporary cache entry', said.id],
    ]);
    expect(await removeLeftovers(leftovers)).toEqual([]);
    expect(await readdir(join(cacheDir, 'work'))).toEqual([]);
    expect(await readdir(join(cacheDir, 'steps'))).toEqual([]);
    expect(await readdir(join(cacheDir, 'leases'))).toEqual([]);
  });

  it('folders of builds from before leases: swept when their pid is gone or unknown, kept while it lives', async () => {
    const work = join(cacheDir, 'work');
    const sleeper = spawn('sleep', ['60']);
    await mkdir(join(work, 'clic-pc-alive'), { recursive: true });
    await writeFile(join(work, 'clic-pc-alive', 'pid'), String(sleeper.pid));
    await mkdir(join(work, 'clic-pc-nopid'), { recursive: true });
    await mkdir(join(cacheDir, 'steps', `.tmp-0123456789abcdef-${sleeper.pid}-0000`), { recursive: true });
    try {
      const found = await findLeftovers(cacheDir);
      expect(found.map((l) => l.path)).toEqual([join(work, 'clic-pc-nopid')]);
      await removeLeftovers(found);
      expect(existsSync(join(work, 'clic-pc-alive'))).toBe(true);
    } finally {
      sleeper.kill('SIGKILL');
    }
    await new Promise((r) => sleeper.on('exit', r));
    expect((await findLeftovers(cacheDir)).map((l) => l.what).sort()).toEqual(['scratch folder of a build', 'temporary cache entry']);
  });

  it('reads the lease id off a folder name', () => {
    expect(leaseIdOf('clic-pc-x86_64.4242-9f3a0c1e')).toBe('4242-9f3a0c1e');
    expect(leaseIdOf('.tmp-0123456789abcdef-00ff00ff.17-0000abcd')).toBe('17-0000abcd');
    expect(leaseIdOf('clic-pc-x86_64-Ab12Cd')).toBeNull();
  });
});
