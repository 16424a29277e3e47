/**
 * The downloader's cache and concurrency: many files at a bounded concurrency, a second run that
 * makes no request, the disk-space check, an abort that keeps the partial file for a resume, and
 * two downloaders of the same file (in one process, and against another process's lock file).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cachedPath, checkDiskSpace, download, downloadAll, DownloadError, type DownloadEvent, type DownloadOptions, type DownloadRequest,
} from '../../builder/download/index.ts';
import { startFaultServer, type FaultServer } from '../support/fault-server.ts';
import { makeZim, type MadeZim } from '../support/zim.ts';

let zimDir: string;
let big: MadeZim; // ~1.5 MB
let many: MadeZim[]; // 20 × ~130 kB
beforeAll(async () => {
  zimDir = await mkdtemp(join(tmpdir(), 'clic-download-zims-'));
  big = await makeZim(zimDir, { name: 'test_big', padBytes: 1_500_000 });
  many = [];
  for (let i = 0; i < 20; i++) many.push(await makeZim(zimDir, { name: `test_${i}`, padBytes: 100_000 }));
}, 30_000);
afterAll(async () => {
  await rm(zimDir, { recursive: true, force: true });
});

let server: FaultServer;
let cacheDir: string;
let events: DownloadEvent[];
let opts: DownloadOptions;
beforeEach(async () => {
  server = await startFaultServer();
  cacheDir = await mkdtemp(join(tmpdir(), 'clic-download-cache-'));
  events = [];
  opts = { cacheDir, backoffMs: 10, onEvent: (e) => events.push(e) };
});
afterEach(async () => {
  await server.close();
  await rm(cacheDir, { recursive: true, force: true });
});

const sha256Of = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');
const fileName = (z: MadeZim) => z.file.split('/').at(-1)!;
const rangeStart = (range?: string) => Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1] ?? NaN);

async function serveAll(zims: MadeZim[], bytesPerSecond?: number): Promise<DownloadRequest[]> {
  for (const z of zims) await server.serve(`/${fileName(z)}`, z.file, { bytesPerSecond });
  return zims.map((z) => ({ name: fileName(z), urls: [server.url(`/${fileName(z)}`)], sha256: z.sha256, size: z.size }));
}

describe('downloadAll', { timeout: 10_000 }, () => {
  it('downloads 20 files with exactly 4 in flight at once, in order, totals covering all', async () => {
    const reqs = await serveAll(many, 1_000_000);
    const results = await downloadAll(reqs, { ...opts, concurrency: 4 });
    expect(results.map((r) => r.sha256)).toEqual(many.map((z) => z.sha256));
    for (const r of results) expect(await sha256Of(r.path)).toBe(r.sha256);
    expect(server.maxInFlight).toBe(4);
    expect(server.requests).toHaveLength(20);
    const total = many.reduce((a, z) => a + z.size, 0);
    const progress = events.filter((e) => e.type === 'download:progress');
    expect(progress.every((e) => e.totalSize === total)).toBe(true);
    expect(progress.at(-1)!.totalBytes).toBe(total);
  });

  it('makes no request at all the second time: every file comes from the cache', async () => {
    const reqs = await serveAll(many.slice(0, 3));
    const first = await downloadAll(reqs, opts);
    server.reset();
    events.length = 0;
    const again = await downloadAll(reqs, opts);
    expect(server.requests).toEqual([]);
    expect(again.map((r) => r.path)).toEqual(first.map((r) => r.path));
    expect(again.every((r) => r.cached)).toBe(true);
    expect(events.map((e) => e.type === 'download:end' && e.cached)).toEqual([true, true, true]);
  });

  it('rejects with the first failure once the others have stopped', async () => {
    const reqs = await serveAll(many.slice(0, 3), 100_000);
    reqs[1] = { ...reqs[1], urls: [server.url('/missing.zim')] };
    const t0 = Date.now();
    const err = await downloadAll(reqs, opts).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toBe(`${reqs[1].name}: ${server.url('/missing.zim')} answered HTTP 404`);
    expect(Date.now() - t0).toBeLessThan(600); // the others (~1.3 s each) were aborted, not waited for
    await vi.waitFor(() => expect(server.inFlight).toBe(0), { timeout: 1000 });
  });
});

describe('checkDiskSpace', () => {
  it('names needed and available bytes, and does not count files already in the cache', async () => {
    const { bavail, bsize } = await statfs(tmpdir());
    const huge = bavail * bsize * 2;
    const err = await checkDiskSpace([{ name: 'huge.zim', urls: [], size: huge }], cacheDir).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.kind).toBe('space');
    expect(err.needed).toBeGreaterThan(huge);
    expect(err.available).toBeGreaterThan(0);
    expect(err.message).toMatch(/^not enough disk space in .* for huge\.zim: needed [\d.]+ [GT]?i?B .*, available [\d.]+ \w+$/);
    const [req] = await serveAll(many.slice(0, 1));
    await download(req, opts);
    await checkDiskSpace([{ ...req, size: huge }], cacheDir);
    await expect(checkDiskSpace([{ ...req, size: huge }, { name: 'huge.zim', urls: [], size: huge }], join(cacheDir, 'not', 'yet'))).rejects.toThrow(/huge\.zim/);
  });
});

describe('abort and concurrent downloaders', { timeout: 10_000 }, () => {
  it('rejects promptly on abort, keeps the partial file, and resumes from it later', async () => {
    const [req] = await serveAll([big], 1_000_000);
    const ac = new AbortController();
    const reason = new Error('stop');
    let abortedAt = 0;
    const running = download(req, { ...opts, signal: ac.signal, onEvent: (e) => {
      if (e.type === 'download:progress' && e.bytes > 200_000 && !abortedAt) {
        abortedAt = Date.now();
        ac.abort(reason);
      }
    } });
    await expect(running).rejects.toBe(reason);
    expect(Date.now() - abortedAt).toBeLessThan(300);
    await vi.waitFor(() => expect(server.inFlight).toBe(0), { timeout: 1000 });
    const kept = (await stat(join(cacheDir, 'partial', `${big.sha256}.part`))).size;
    expect(kept).toBeGreaterThan(200_000);
    expect(await readdir(join(cacheDir, 'partial'))).not.toContain(`${big.sha256}.lock`);
    expect(await cachedPath(cacheDir, big.sha256)).toBeNull();
    await server.serve(`/${fileName(big)}`, big.file);
    const r = await download(req, opts);
    expect(await sha256Of(r.path)).toBe(big.sha256);
    expect(rangeStart(server.requests.at(-1)!.range)).toBe(kept);
    expect(events.find((e) => e.type === 'download:start')).toMatchObject({ resumeFrom: kept });
  });

  it('gives two concurrent downloads of the same files one download each, and the same paths', async () => {
    const reqs = await serveAll(many.slice(0, 4), 2_000_000);
    const [a, b] = await Promise.all([downloadAll(reqs, opts), downloadAll(reqs, opts)]);
    expect(a.map((r) => r.path)).toEqual(b.map((r) => r.path));
    for (const r of a) expect(await sha256Of(r.path)).toBe(r.sha256);
    expect(server.requests).toHaveLength(4);
    expect(a.map((r, i) => r.cached !== b[i].cached)).toEqual([true, true, true, true]);
  });

  it('waits for another live process that holds the lock, and takes over a dead one\'s', async () => {
    const [req] = await serveAll(many.slice(0, 1));
    const lock = join(cacheDir, 'partial', `${req.sha256}.lock`);
    await mkdir(join(cacheDir, 'partial'), { recursive: true });
    await writeFile(lock, JSON.stringify({ pid: process.ppid, host: hostname() }));
    const running = download(req, opts);
    await new Promise((r) => setTimeout(r, 500));
    expect(server.requests).toEqual([]);
    await rm(lock);
    expect((await running).cached).toBe(false);
    expect(server.requests).toHaveLength(1);

    const [other] = await serveAll(many.slice(1, 2));
    await writeFile(join(cacheDir, 'partial', `${other.sha256}.lock`), JSON.stringify({ pid: 2 ** 22 + 1, host: hostname() }));
    expect((await download(other, opts)).sha256).toBe(other.sha256);
  });

  it('lets another process download a file while this one waits for it, then takes it from the cache', async () => {
    const [req] = await serveAll([big], 3_000_000);
    const script = join(cacheDir, 'child.mts');
    await writeFile(script, `
      import { download } from ${JSON.stringify(join(process.cwd(), 'builder/download/index.ts'))};
      const r = await download(${JSON.stringify(req)}, { cacheDir: ${JSON.stringify(cacheDir)} });
      process.stdout.write(JSON.stringify(r));
    `);
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = once(child, 'exit');
    try {
      await vi.waitFor(() => expect(server.requests).toHaveLength(1), { timeout: 5000, interval: 20 });
      const mine = await download(req, opts);
      const [code] = await exited;
      expect(code).toBe(0);
      expect(mine.cached).toBe(true);
      expect(JSON.parse(out)).toMatchObject({ path: mine.path, cached: false });
      expect(server.requests).toHaveLength(1);
      expect(await sha256Of(mine.path)).toBe(big.sha256);
    } finally {
      child.kill();
    }
  });
});
