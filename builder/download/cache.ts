/**
 * The download cache, shared by builds and by processes:
 *
 *   <cacheDir>/sha256/<hex>          verified files, named by their sha256 (read-only)
 *   <cacheDir>/partial/<hex>.part    bytes received so far, resumed with Range
 *   <cacheDir>/partial/<hex>.json    the URL and validators (ETag, Last-Modified) they came from
 *   <cacheDir>/partial/<hex>.lock    `{pid, host}` of the process downloading it
 *
 * A file gets its final name only by a rename after its sha256 was checked, so whatever is under
 * sha256/ is whole and right. One download per file at a time: in a process, later callers wait
 * for the first; across processes, the lock file (created with O_EXCL) does the same, and a lock
 * whose process is gone (same host, pid not alive) is taken over; another host's lock is waited
 * for. Two processes taking over the same dead lock at the same instant could both go on: the
 * size check before the final rename catches their mixed writes.
 *
 *   const hit = await cachedPath(cacheDir, sha);   // '<cacheDir>/sha256/<sha>' or null
 *   await checkDiskSpace(requests, cacheDir);      // throws DownloadError kind 'space'
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DownloadError, formatBytes, type DownloadRequest } from './types.ts';
import { processAlive } from '../exec.ts';

export const finalPath = (cacheDir: string, sha: string) => join(cacheDir, 'sha256', sha);
export const partPath = (cacheDir: string, sha: string) => join(cacheDir, 'partial', `${sha}.part`);
const metaPath = (cacheDir: string, sha: string) => join(cacheDir, 'partial', `${sha}.json`);
const lockPath = (cacheDir: string, sha: string) => join(cacheDir, 'partial', `${sha}.lock`);

/** Path of a verified cached file, or null. */
export async function cachedPath(cacheDir: string, sha256: string): Promise<string | null> {
  const path = finalPath(cacheDir, sha256.toLowerCase());
  return stat(path).then((s) => (s.isFile() ? path : null), () => null);
}

/** Where the partial bytes came from, to resume them with `If-Range`. */
export interface PartMeta {
  url: string;
  etag?: string;
  lastModified?: string;
}

export async function readMeta(cacheDir: string, sha: string): Promise<PartMeta | null> {
  return readFile(metaPath(cacheDir, sha), 'utf8').then((t) => JSON.parse(t) as PartMeta, () => null);
}

export async function writeMeta(cacheDir: string, sha: string, meta: PartMeta): Promise<void> {
  await writeFile(metaPath(cacheDir, sha), JSON.stringify(meta) + '\n');
}

/** The partial file's length and the sha256 state of its bytes, to continue hashing after them. */
export interface PartState {
  bytes: number;
  hash: Hash;
}

export async function readPart(cacheDir: string, sha: string, signal?: AbortSignal): Promise<PartState> {
  const hash = createHash('sha256');
  const file = partPath(cacheDir, sha);
  const size = await stat(file).then((s) => s.size, () => -1);
  if (size <= 0) return { bytes: 0, hash };
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, signal }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, hash };
}

export async function dropPart(cacheDir: string, sha: string): Promise<void> {
  await rm(partPath(cacheDir, sha), { force: true });
  await rm(metaPath(cacheDir, sha), { force: true });
}

/** Gives the verified partial file (`bytes` long when hashed) its final name. */
export async function placePart(cacheDir: string, sha: string, bytes: number): Promise<string> {
  const target = finalPath(cacheDir, sha);
  // what was hashed is what was written, unless another writer got in (see the lock's caveat)
  const onDisk = (await stat(partPath(cacheDir, sha))).size;
  if (onDisk !== bytes) {
    await dropPart(cacheDir, sha);
    throw new Error(`${partPath(cacheDir, sha)} had ${onDisk} bytes on disk for ${bytes} downloaded: something else wrote to it; it was deleted`);
  }
  await mkdir(dirname(target), { recursive: true });
  // read-only: the cache is shared, and a build that links a file into its tree must not change it
  await chmod(partPath(cacheDir, sha), 0o444);
  await rename(partPath(cacheDir, sha), target);
  await rm(metaPath(cacheDir, sha), { force: true });
  return target;
}

const held = new Map<string, Promise<void>>();

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((done, fail) => {
    if (signal?.aborted) return fail(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      fail(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      done();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `promise`, or the signal's reason as soon as it is aborted. */
function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, fail) => {
    onAbort = () => fail(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/**
 * Takes the right to download `sha` into the cache. Returns a release function, or null when the
 * file reached the cache while we waited for another downloader (then there is nothing to do).
 */
export async function lockFile(cacheDir: string, sha: string, signal?: AbortSignal): Promise<(() => Promise<void>) | null> {
  const key = resolve(cacheDir, sha);
  for (let other = held.get(key); other; other = held.get(key)) await untilAborted(other, signal);
  let unlock!: () => void;
  held.set(key, new Promise<void>((r) => (unlock = r)));
  const lock = lockPath(cacheDir, sha);
  const release = async () => {
    await rm(lock, { force: true });
    held.delete(key);
    unlock();
  };
  try {
    await mkdir(dirname(lock), { recursive: true });
    const me = { pid: process.pid, host: hostname() };
    for (;;) {
      if (await cachedPath(cacheDir, sha)) {
        held.delete(key);
        unlock();
        return null;
      }
      try {
        await writeFile(lock, JSON.stringify(me) + '\n', { flag: 'wx' });
        return release;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const text = await readFile(lock, 'utf8').catch(() => null);
      let owner: typeof me | null = null;
      try {
        owner = JSON.parse(text ?? '') as typeof me;
      } catch {}
      // our own pid can only be a leftover: this process's downloads of `sha` wait on `held`;
      // an unreadable lock is being written, unless it is old (its writer died right then)
      const stale = owner === null
        ? await stat(lock).then((st) => Date.now() - st.mtimeMs > 10_000, () => false)
        : owner.host === me.host && (owner.pid === process.pid || !processAlive(owner.pid));
      // read again just before removing: narrows the window in which two takers of a stale lock
      // could remove each other's fresh one (a small race that remains; placePart checks sizes)
      const still = stale && (await readFile(lock, 'utf8').catch(() => null)) === text;
      if (still) await rm(lock, { force: true });
      else await sleep(stale ? 10 : 200, signal);
    }
  } catch (e) {
    held.delete(key);
    unlock();
    throw e;
  }
}

/** Free bytes kept beyond what the downloads need: file systems misbehave when full. */
const MARGIN = 64 * 2 ** 20;

/**
 * Throws DownloadError kind 'space' naming needed vs available bytes when the files not yet in the
 * cache (by sha256 when known) don't fit in the free space of cacheDir's file system, with a
 * margin. Bytes already in partial files are counted as downloaded; sizes not known count as 0.
 */
export async function checkDiskSpace(reqs: DownloadRequest[], cacheDir: string, extraBytes = 0): Promise<void> {
  const seen = new Set<string>();
  const missing: string[] = [];
  let needed = extraBytes;
  for (const r of reqs) {
    const sha = r.sha256?.toLowerCase();
    if (sha) {
      if (seen.has(sha)) continue;
      seen.add(sha);
      if (await cachedPath(cacheDir, sha)) continue;
    }
    missing.push(r.name);
    const partial = sha ? await stat(partPath(cacheDir, sha)).then((s) => s.size, () => 0) : 0;
    needed += Math.max(0, (r.size ?? 0) - partial);
  }
  if (needed <= 0) return;
  let dir = resolve(cacheDir);
  while (!(await stat(dir).then(() => true, () => false)) && dirname(dir) !== dir) dir = dirname(dir);
  const fs = await statfs(dir);
  const available = fs.bavail * fs.bsize;
  if (needed + MARGIN <= available) return;
  const files = missing.length === 1 ? missing[0] : `${missing.length} files (${missing.join(', ')})`;
  throw new DownloadError({
    file: missing.join(', '), kind: 'space', needed: needed + MARGIN, available,
    message: `not enough disk space in ${cacheDir} for ${files}: needed ${formatBytes(needed + MARGIN)} (with a margin of ${formatBytes(MARGIN)}), available ${formatBytes(available)}`,
  });
}
