/**
 * download / downloadAll — files by sha256 into the shared download cache: streamed to disk and
 * hashed on the way, resumed with Range after a cut or a stall, retried with exponential backoff
 * on network errors, stalls, 408, 429 and 5xx, then the next mirror; a file whose sha256 does not
 * match is deleted and the next mirror tried. A file already in the cache costs no request.
 *
 * Options (DownloadOptions): cacheDir; concurrency (4 files at once); retries (5 per URL, after
 * the first attempt); backoffMs (1000, doubled each retry, ±20 % jitter, at most 30 s; a
 * Retry-After up to 30 s is obeyed, a longer one gives up that URL); stallTimeoutMs (30000);
 * signal (partial files are kept); onEvent (download:start / progress / retry / end).
 *
 *   const [zim] = await downloadAll([{ name: 'x.zim', urls: [mirror1, mirror2], sha256, size }],
 *     { cacheDir: '/var/cache/clic/downloads', onEvent: console.log });
 *   zim.path; // '/var/cache/clic/downloads/sha256/<sha256>'
 */
import { stat } from 'node:fs/promises';
import pLimit from 'p-limit';
import { fetchAttempt, fetchSha256, type Attempt } from './attempt.ts';
import { cachedPath, dropPart, lockFile, partPath, placePart, readPart, sleep } from './cache.ts';
import {
  AttemptFailure, DownloadError, SHA256_HEX,
  type DownloadOptions, type DownloadRequest, type DownloadResult, type UrlFailure,
} from './types.ts';

const MAX_DELAY_MS = 30_000;
const PROGRESS_EVERY_MS = 250;

type Settings = Required<Omit<DownloadOptions, 'signal' | 'onEvent'>> & Pick<DownloadOptions, 'signal' | 'onEvent'>;

const settings = (o: DownloadOptions): Settings => ({ concurrency: 4, retries: 5, backoffMs: 1000, stallTimeoutMs: 30_000, ...o });

/** Bytes and sizes of every file of one call, for the totals of progress events. */
class Totals {
  private bytes: number[];
  private sizes: (number | null)[];
  constructor(reqs: DownloadRequest[]) {
    this.bytes = reqs.map(() => 0);
    this.sizes = reqs.map((r) => r.size ?? null);
  }
  set(i: number, bytes: number, size: number | null): void {
    this.bytes[i] = bytes;
    if (size !== null) this.sizes[i] = size;
  }
  get totalBytes(): number {
    return this.bytes.reduce((a, b) => a + b, 0);
  }
  get totalSize(): number | null {
    return this.sizes.includes(null) ? null : (this.sizes as number[]).reduce((a, b) => a + b, 0);
  }
}

/** A URL given up on, after its retries. */
class UrlFailed extends Error {
  constructor(readonly failure: UrlFailure) {
    super(failure.message);
  }
}

async function withRetries<T>(url: string, name: string, s: Settings, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof AttemptFailure)) throw e;
      if (!e.retryable || n > s.retries) {
        const kind = e.kind === 'restart' ? 'http' : e.kind;
        throw new UrlFailed({ url, kind, message: `${url} ${e.message}${n > 1 ? ` after ${n} attempts` : ''}` });
      }
      const backoff = Math.min(MAX_DELAY_MS, s.backoffMs * 2 ** (n - 1));
      const delayMs = Math.round(e.retryAfterMs ?? Math.min(MAX_DELAY_MS, backoff * (0.8 + 0.4 * Math.random())));
      s.onEvent?.({ type: 'download:retry', name, url, attempt: n, error: e.message, delayMs });
      await sleep(delayMs, s.signal);
    }
  }
}

/** `what` heads the list of failures, or always when `always` (a single one tells it well enough). */
function failed(req: DownloadRequest, failures: UrlFailure[], what: string, extra: { expected?: string; got?: string; always?: boolean } = {}): DownloadError {
  const last = failures.at(-1);
  const why = failures.length === 1 && !extra.always ? last!.message : `${what}: ${failures.map((f) => f.message).join('; ')}`;
  const checksum = failures.find((f) => f.kind === 'checksum');
  const hint = checksum
    ? ` (the file was deleted; the server or a proxy serves a different file than ${req.sha256 ? 'the recipe names' : 'its .sha256 names'})`
    : '';
  return new DownloadError({
    file: req.name, kind: checksum ? 'checksum' : last?.kind ?? 'http', url: last?.url, failures,
    message: `${req.name}: ${why}${hint}`, expected: extra.expected, got: extra.got,
  });
}

async function publishedSha256(req: DownloadRequest, s: Settings): Promise<string> {
  const failures: UrlFailure[] = [];
  for (const url of req.urls) {
    try {
      return await withRetries(`${url}.sha256`, req.name, s, () => fetchSha256(`${url}.sha256`, { ...s, maxRetryAfterMs: MAX_DELAY_MS }));
    } catch (e) {
      if (!(e instanceof UrlFailed)) throw e;
      failures.push({ ...e.failure, kind: 'no-checksum' });
    }
  }
  throw failed(req, failures, 'no sha256 given, and none of its URLs publishes one', { always: true });
}

async function downloadOne(req: DownloadRequest, s: Settings, totals: Totals, i: number): Promise<DownloadResult> {
  const started = Date.now();
  const { cacheDir } = s;
  const fromCache = async (sha: string): Promise<DownloadResult | null> => {
    const path = await cachedPath(cacheDir, sha);
    if (!path) return null;
    const { size } = await stat(path);
    totals.set(i, size, size);
    s.onEvent?.({ type: 'download:end', name: req.name, sha256: sha, bytes: size, ms: Date.now() - started, cached: true });
    return { name: req.name, sha256: sha, path, size, cached: true };
  };
  s.signal?.throwIfAborted();
  let sha = req.sha256?.toLowerCase();
  if (sha !== undefined && !SHA256_HEX.test(sha)) {
    throw new DownloadError({ file: req.name, kind: 'no-checksum', message: `${req.name}: "${req.sha256}" is not a sha256 (64 hex digits)` });
  }
  if (!sha && !req.urls.length) throw new DownloadError({ file: req.name, kind: 'no-checksum', message: `${req.name}: no sha256 and no URL` });
  sha ??= await publishedSha256(req, s);
  let release: (() => Promise<void>) | null = null;
  while (!release) {
    const hit = await fromCache(sha);
    if (hit) return hit;
    release = await lockFile(cacheDir, sha, s.signal);
  }
  try {
    if (!req.urls.length) throw new DownloadError({ file: req.name, kind: 'http', message: `${req.name}: no URL to download it from` });
    let part = await readPart(cacheDir, sha, s.signal);
    // a download whose bytes were all in but never placed (killed right then): no request at all
    if (part.bytes > 0 && part.hash.copy().digest('hex') === sha) return await place(req, s, sha, part.bytes, started, totals, i);
    if (req.size != null && part.bytes >= req.size) {
      await dropPart(cacheDir, sha);
      part = await readPart(cacheDir, sha);
    }
    const failures: UrlFailure[] = [];
    let mismatch: { expected: string; got: string } | undefined;
    for (const url of req.urls) {
      let lastProgress = 0;
      const progress = (bytes: number, size: number | null, force = false) => {
        totals.set(i, bytes, size);
        const now = Date.now();
        if (!force && now - lastProgress < PROGRESS_EVERY_MS) return;
        lastProgress = now;
        s.onEvent?.({ type: 'download:progress', name: req.name, bytes, size, totalBytes: totals.totalBytes, totalSize: totals.totalSize });
      };
      const a: Attempt = {
        url, cacheDir, sha, part, size: req.size ?? null, stallTimeoutMs: s.stallTimeoutMs, maxRetryAfterMs: MAX_DELAY_MS, signal: s.signal,
        onStart: (resumeFrom, size) => {
          totals.set(i, resumeFrom, size);
          s.onEvent?.({ type: 'download:start', name: req.name, url, size, resumeFrom });
        },
        onBytes: progress,
      };
      let restarted = false;
      try {
        await withRetries(url, req.name, s, async () => {
          // after a failed attempt, the file on disk is the truth (a write may have failed)
          const onDisk = await stat(partPath(cacheDir, sha)).then((st) => st.size, () => 0);
          if (onDisk !== a.part.bytes) a.part = await readPart(cacheDir, sha, s.signal);
          try {
            await fetchAttempt(a);
          } catch (e) {
            if (!(e instanceof AttemptFailure && e.kind === 'restart')) throw e;
            await dropPart(cacheDir, sha);
            a.part = await readPart(cacheDir, sha);
            if (restarted) throw e;
            restarted = true;
            await fetchAttempt(a);
          }
        });
      } catch (e) {
        if (!(e instanceof UrlFailed)) throw e;
        failures.push(e.failure);
        part = a.part;
        continue;
      }
      progress(a.part.bytes, a.size, true);
      const got = a.part.hash.digest('hex');
      if (got === sha) return await place(req, s, sha, a.part.bytes, started, totals, i, url);
      mismatch ??= { expected: sha, got };
      failures.push({ url, kind: 'checksum', message: `checksum mismatch from ${url}: expected ${sha}, got ${got}` });
      await dropPart(cacheDir, sha);
      part = await readPart(cacheDir, sha);
    }
    throw failed(req, failures, `all ${req.urls.length} URLs failed`, mismatch);
  } catch (e) {
    if (s.signal?.aborted) throw s.signal.reason;
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC') {
      throw new DownloadError({ file: req.name, kind: 'space', message: `${req.name}: the file system of ${cacheDir} is full (its partial file is kept for a later resume)` });
    }
    throw e;
  } finally {
    await release();
  }
}

async function place(req: DownloadRequest, s: Settings, sha: string, bytes: number, started: number, totals: Totals, i: number, url?: string): Promise<DownloadResult> {
  const path = await placePart(s.cacheDir, sha, bytes);
  totals.set(i, bytes, bytes);
  s.onEvent?.({ type: 'download:end', name: req.name, sha256: sha, bytes, ms: Date.now() - started, cached: false, ...(url ? { url } : {}) });
  return { name: req.name, sha256: sha, path, size: bytes, cached: false };
}

export async function download(req: DownloadRequest, opts: DownloadOptions): Promise<DownloadResult> {
  return downloadOne(req, settings(opts), new Totals([req]), 0);
}

/**
 * Downloads every request, at most `concurrency` at once; results in the order of `reqs`. The
 * first failure aborts the others, and rejects once they have all stopped.
 */
export async function downloadAll(reqs: DownloadRequest[], opts: DownloadOptions): Promise<DownloadResult[]> {
  const s = settings(opts);
  const inner = new AbortController();
  const onAbort = () => inner.abort(s.signal!.reason);
  if (s.signal?.aborted) onAbort();
  s.signal?.addEventListener('abort', onAbort, { once: true });
  const limit = pLimit(Math.max(1, s.concurrency));
  const totals = new Totals(reqs);
  let first: { error: unknown } | undefined;
  const all = await Promise.allSettled(reqs.map((req, i) => limit(async () => {
    try {
      return await downloadOne(req, { ...s, signal: inner.signal }, totals, i);
    } catch (error) {
      if (!first) {
        first = { error };
        inner.abort(error);
      }
      throw error;
    }
  })));
  s.signal?.removeEventListener('abort', onAbort);
  if (s.signal?.aborted) throw s.signal.reason;
  if (first) throw first.error;
  return all.map((r) => (r as PromiseFulfilledResult<DownloadResult>).value);
}
