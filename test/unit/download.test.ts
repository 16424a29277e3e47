/**
 * The downloader against a loopback server that misbehaves on purpose (test/support/fault-server.ts),
 * serving real ZIM files: cuts, stalls, HTTP errors, wrong bytes, slow links, mirrors and
 * published checksums. Every download must end verified in the cache, or fail saying why.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { download, DownloadError, type DownloadEvent, type DownloadOptions } from '../../builder/download/index.ts';
import { startFaultServer, type FaultServer } from '../support/fault-server.ts';
import { makeZim, type MadeZim } from '../support/zim.ts';

let zimDir: string;
let big: MadeZim; // ~1.5 MB
let small: MadeZim; // ~340 kB
beforeAll(async () => {
  zimDir = await mkdtemp(join(tmpdir(), 'clic-download-zims-'));
  big = await makeZim(zimDir, { name: 'test_big', padBytes: 1_500_000 });
  small = await makeZim(zimDir, { name: 'test_small', padBytes: 300_000 });
}, 20_000);
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
const ls = (dir: string) => readdir(dir).catch(() => [] as string[]);
const ofType = <T extends DownloadEvent['type']>(type: T) => events.filter((e): e is Extract<DownloadEvent, { type: T }> => e.type === type);
const rangeStart = (range?: string) => Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1] ?? NaN);

describe('download', { timeout: 10_000 }, () => {
  it('puts a verified file in the cache, with start → progress… → end events', async () => {
    await server.serve('/zim/test_small.zim', small.file);
    const r = await download({ name: 'test_small.zim', urls: [server.url('/zim/test_small.zim')], sha256: small.sha256, size: small.size }, opts);
    expect(r).toEqual({ name: 'test_small.zim', sha256: small.sha256, path: join(cacheDir, 'sha256', small.sha256), size: small.size, cached: false });
    expect(await sha256Of(r.path)).toBe(small.sha256);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('download:start');
    expect(types.at(-1)).toBe('download:end');
    expect(types.slice(1, -1).length).toBeGreaterThan(0);
    expect(new Set(types.slice(1, -1))).toEqual(new Set(['download:progress']));
    expect(ofType('download:progress').at(-1)).toMatchObject({ bytes: small.size, size: small.size, totalBytes: small.size, totalSize: small.size });
    expect(ofType('download:end')[0]).toMatchObject({ sha256: small.sha256, bytes: small.size, cached: false, url: server.url('/zim/test_small.zim') });
    expect(await ls(join(cacheDir, 'partial'))).toEqual([]);
  });

  it('resumes with Range after the connection is cut, without downloading twice', async () => {
    await server.serve('/test_big.zim', big.file, { cutAfter: 500_000 });
    const r = await download({ name: 'test_big.zim', urls: [server.url('/test_big.zim')], sha256: big.sha256 }, opts);
    expect(await sha256Of(r.path)).toBe(big.sha256);
    expect(server.requests).toHaveLength(2);
    const n = rangeStart(server.requests[1].range);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(500_000);
    expect(server.requests[1].ifRange).toBeTruthy();
    expect(server.requests[1].status).toBe(206);
    const sent = server.requests.reduce((a, q) => a + q.bytes, 0);
    expect(sent).toBeLessThanOrEqual(big.size + (500_000 - n));
    expect(ofType('download:retry')).toHaveLength(1);
    expect(ofType('download:start').map((e) => e.resumeFrom)).toEqual([0, n]);
  });

  it('rejects a file whose checksum differs, and leaves nothing behind', async () => {
    await server.serve('/test_small.zim', small.file, { wrongContent: true });
    const url = server.url('/test_small.zim');
    const err = await download({ name: 'test_small.zim', urls: [url], sha256: small.sha256 }, opts).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.kind).toBe('checksum');
    expect(err.expected).toBe(small.sha256);
    expect(err.got).toMatch(/^[0-9a-f]{64}$/);
    expect(err.got).not.toBe(small.sha256);
    expect(err.message).toContain(`test_small.zim: checksum mismatch from ${url}: expected ${small.sha256}, got ${err.got}`);
    expect(await ls(join(cacheDir, 'sha256'))).toEqual([]);
    expect(await ls(join(cacheDir, 'partial'))).toEqual([]);
  });

  it('retries after HTTP 500, with backoff events', async () => {
    await server.serve('/test_small.zim', small.file, { fail: { times: 2 } });
    const r = await download({ name: 'test_small.zim', urls: [server.url('/test_small.zim')], sha256: small.sha256 }, opts);
    expect(r.sha256).toBe(small.sha256);
    expect(server.requests.map((q) => q.status)).toEqual([500, 500, 200]);
    const retries = ofType('download:retry');
    expect(retries.map((e) => [e.attempt, e.error])).toEqual([[1, 'answered HTTP 500'], [2, 'answered HTTP 500']]);
    expect(retries[1].delayMs).toBeGreaterThan(retries[0].delayMs);
  });

  it('honours a short Retry-After', async () => {
    await server.serve('/test_small.zim', small.file, { fail: { status: 503, times: 1, retryAfter: '1' } });
    await download({ name: 'test_small.zim', urls: [server.url('/test_small.zim')], sha256: small.sha256 }, opts);
    expect(ofType('download:retry')[0].delayMs).toBe(1000);
  });

  it('aborts a stalled attempt and resumes it with Range', async () => {
    await server.serve('/test_big.zim', big.file, { stallAfter: 400_000 });
    const t0 = Date.now();
    const r = await download({ name: 'test_big.zim', urls: [server.url('/test_big.zim')], sha256: big.sha256 }, { ...opts, stallTimeoutMs: 300 });
    expect(r.sha256).toBe(big.sha256);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(server.requests).toHaveLength(2);
    expect(rangeStart(server.requests[1].range)).toBeGreaterThan(0);
    expect(ofType('download:retry')[0].error).toMatch(/stalled/);
  });

  it('reports progress more than once, growing, on a slow link', async () => {
    await server.serve('/test_big.zim', big.file, { bytesPerSecond: 2_500_000 });
    await download({ name: 'test_big.zim', urls: [server.url('/test_big.zim')], sha256: big.sha256, size: big.size }, opts);
    const bytes = ofType('download:progress').map((e) => e.bytes);
    expect(bytes.length).toBeGreaterThan(1);
    for (let i = 1; i < bytes.length; i++) expect(bytes[i]).toBeGreaterThan(bytes[i - 1]);
    expect(bytes.at(-1)).toBe(big.size);
  });

  it('reads the sha256 published beside the file, and tries mirrors in order', async () => {
    await server.serve('/b/test_small.zim', small.file);
    await server.serve('/b/test_small.zim.sha256', Buffer.from(`${small.sha256}  test_small.zim\n`));
    const urls = [server.url('/a/test_small.zim'), server.url('/b/test_small.zim')];
    const r = await download({ name: 'test_small.zim', urls }, opts);
    expect(r.sha256).toBe(small.sha256);
    expect(server.requests.map((q) => [q.path, q.status])).toEqual([
      ['/a/test_small.zim.sha256', 404], ['/b/test_small.zim.sha256', 200], ['/a/test_small.zim', 404], ['/b/test_small.zim', 200],
    ]);
    expect(ofType('download:retry')).toEqual([]); // a 404 goes to the next mirror at once
  });

  it('accepts a bare hex .sha256, and says so when no URL publishes one', async () => {
    await server.serve('/test_small.zim', small.file);
    await server.serve('/test_small.zim.sha256', Buffer.from(small.sha256.toUpperCase()));
    expect((await download({ name: 'test_small.zim', urls: [server.url('/test_small.zim')] }, opts)).sha256).toBe(small.sha256);
    const err = await download({ name: 'other.zim', urls: [server.url('/other.zim')] }, opts).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.kind).toBe('no-checksum');
    expect(err.message).toBe(`other.zim: no sha256 given, and none of its URLs publishes one: ${server.url('/other.zim.sha256')} answered HTTP 404`);
  });

  it('names every URL and why when all fail, after the configured retries', async () => {
    await server.serve('/a/test_small.zim', small.file, { fail: { times: 100 } });
    await server.serve('/b/test_small.zim', small.file, { fail: { status: 502, times: 100 } });
    const urls = [server.url('/a/test_small.zim'), server.url('/b/test_small.zim')];
    const err = await download({ name: 'test_small.zim', urls, sha256: small.sha256 }, { ...opts, retries: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.kind).toBe('http');
    expect(err.message).toBe(`test_small.zim: all 2 URLs failed: ${urls[0]} answered HTTP 500 after 3 attempts; ${urls[1]} answered HTTP 502 after 3 attempts`);
    expect(err.failures.map((f: { url: string }) => f.url)).toEqual(urls);
    expect(server.requests.map((q) => q.path)).toEqual([...Array(3).fill('/a/test_small.zim'), ...Array(3).fill('/b/test_small.zim')]);
    expect(ofType('download:retry').map((e) => e.attempt)).toEqual([1, 2, 1, 2]);
  });

  it('starts over when the server ignores a Range whose If-Range no longer matches', async () => {
    await server.serve('/test_big.zim', big.file, { cutAfter: 300_000 });
    const url = server.url('/test_big.zim');
    await download({ name: 'test_big.zim', urls: [url], sha256: big.sha256 }, { ...opts, retries: 0 }).catch(() => undefined);
    expect((await stat(join(cacheDir, 'partial', `${big.sha256}.part`))).size).toBeGreaterThan(0);
    // the server's file changed version since (new ETag): it answers the whole file, 200
    await server.serve('/test_big.zim', big.file);
    const before = server.requests.length;
    const changed = JSON.parse(await readFile(join(cacheDir, 'partial', `${big.sha256}.json`), 'utf8'));
    await writeFile(join(cacheDir, 'partial', `${big.sha256}.json`), JSON.stringify({ ...changed, etag: '"older"' }));
    const r = await download({ name: 'test_big.zim', urls: [url], sha256: big.sha256 }, opts);
    expect(await sha256Of(r.path)).toBe(big.sha256);
    expect(server.requests.slice(before).map((q) => [q.ifRange, q.status])).toEqual([['"older"', 200]]);
  });

  it('starts over when the server answers 416 to a partial file longer than its file', async () => {
    await server.serve('/test_small.zim', small.file);
    await mkdir(join(cacheDir, 'partial'), { recursive: true });
    await writeFile(join(cacheDir, 'partial', `${small.sha256}.part`), Buffer.alloc(small.size + 10, 1));
    const r = await download({ name: 'test_small.zim', urls: [server.url('/test_small.zim')], sha256: small.sha256 }, opts);
    expect(await sha256Of(r.path)).toBe(small.sha256);
    expect(server.requests.map((q) => [q.range, q.status])).toEqual([[`bytes=${small.size + 10}-`, 416], [undefined, 200]]);
  });
});
