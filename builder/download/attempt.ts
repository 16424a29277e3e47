/**
 * One HTTP attempt at a file: a GET (with `Range: bytes=N-` and `If-Range` when N bytes are
 * already in the partial file), the body streamed to disk and hashed on the way. It either
 * returns with the body whole, or throws an AttemptFailure saying whether to retry (network
 * errors, stalls, 408/429/5xx) or not (other statuses), or the abort signal's reason.
 *
 * Options: url, the cache and sha of the partial file, its PartState (updated in place), the
 * expected size, stallTimeoutMs (no byte for that long aborts the attempt), signal, and callbacks
 * on start and on every chunk. Example: `await fetchAttempt({ url, cacheDir, sha, part, … })`.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { readMeta, partPath, writeMeta, type PartState } from './cache.ts';
import { AttemptFailure } from './types.ts';

export interface Attempt {
  url: string;
  cacheDir: string;
  sha: string;
  /** Bytes already on disk and their hash; updated as bytes arrive. */
  part: PartState;
  /** Expected size, if known; updated from the response. */
  size: number | null;
  stallTimeoutMs: number;
  /** Longest Retry-After honoured; a server asking for more is given up. */
  maxRetryAfterMs: number;
  signal?: AbortSignal;
  onStart(resumeFrom: number, size: number | null): void;
  onBytes(bytes: number, size: number | null): void;
}

/** Seconds or an HTTP date, in ms from now. */
function retryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined;
}

function httpFailure(res: Response, maxRetryAfterMs: number): AttemptFailure {
  const { status } = res;
  const transient = status === 408 || status === 429 || status >= 500;
  const wait = retryAfter(res.headers.get('retry-after'));
  if (transient && wait !== undefined && wait > maxRetryAfterMs) {
    return new AttemptFailure('http', `answered HTTP ${status} and asks to retry after ${Math.round(wait / 1000)} s`, false);
  }
  return new AttemptFailure('http', `answered HTTP ${status}`, transient, transient ? wait : undefined);
}

/** The message of an undici error, with its cause (`fetch failed` alone says nothing). */
function networkMessage(e: unknown): string {
  const err = e as Error & { cause?: Error & { code?: string } };
  const cause = err?.cause;
  if (cause?.message) return `failed: ${cause.code && !cause.message.includes(cause.code) ? `${cause.code} ` : ''}${cause.message}`;
  return `failed: ${err?.message ?? String(e)}`;
}

async function closeStream(out: WriteStream): Promise<void> {
  if (out.closed) return;
  const closed = once(out, 'close').catch(() => undefined);
  out.end();
  await closed;
}

export async function fetchAttempt(a: Attempt): Promise<void> {
  a.signal?.throwIfAborted();
  const ac = new AbortController();
  let stalled = false;
  // a disk error (ENOSPC…) ends the attempt; it is not the server's fault, so it is not retried
  let diskError: unknown;
  const diskFailed = (err: unknown) => {
    diskError ??= err;
    ac.abort(err);
  };
  const onAbort = () => ac.abort(a.signal!.reason);
  a.signal?.addEventListener('abort', onAbort, { once: true });
  // one timer for the whole attempt, pushed back by every chunk: cheaper than one per chunk
  const timer = setTimeout(() => {
    stalled = true;
    ac.abort(new Error('stalled'));
  }, a.stallTimeoutMs);
  const failure = (e: unknown) => {
    if (a.signal?.aborted) return a.signal.reason;
    if (e instanceof AttemptFailure) return e;
    if (diskError) return diskError;
    if (stalled) return new AttemptFailure('stall', `stalled (no data for ${a.stallTimeoutMs} ms)`, true);
    return new AttemptFailure('network', networkMessage(e), true);
  };
  let out: WriteStream | undefined;
  try {
    const from = a.part.bytes;
    // fetch would decode a compressed body: then neither the bytes nor their offsets are the file's
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (from > 0) {
      headers.range = `bytes=${from}-`;
      // a validator only means something to the server that gave it
      const meta = await readMeta(a.cacheDir, a.sha);
      const validator = meta?.url !== a.url ? undefined : meta.etag && !meta.etag.startsWith('W/') ? meta.etag : meta.lastModified;
      if (validator) headers['if-range'] = validator;
    }
    const res = await fetch(a.url, { headers, signal: ac.signal });
    timer.refresh();
    if (res.status === 416 && from > 0) {
      await res.body?.cancel().catch(() => undefined);
      throw new AttemptFailure('restart', 'answered HTTP 416 to a resumed download', true);
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel().catch(() => undefined);
      throw httpFailure(res, a.maxRetryAfterMs);
    }
    let start = 0;
    let total = Number(res.headers.get('content-length') ?? NaN);
    if (res.status === 206) {
      const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== from) {
        await res.body?.cancel().catch(() => undefined);
        throw new AttemptFailure('restart', `answered a range that does not start at byte ${from}`, true);
      }
      start = from;
      total = Number(m[2]);
    }
    if (Number.isFinite(total)) a.size = total;
    if (start === 0 && from > 0) a.part = { bytes: 0, hash: createHash('sha256') }; // 200 to a Range: the file starts over
    if (!res.body) throw new AttemptFailure('network', 'answered with no body', true);
    await writeMeta(a.cacheDir, a.sha, {
      url: a.url, etag: res.headers.get('etag') ?? undefined, lastModified: res.headers.get('last-modified') ?? undefined,
    }).catch((err) => {
      diskFailed(err);
      throw err;
    });
    out = createWriteStream(partPath(a.cacheDir, a.sha), { flags: start > 0 ? 'a' : 'w', highWaterMark: 1 << 20 });
    out.on('error', diskFailed);
    await once(out, 'open');
    a.onStart(start, a.size);
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        timer.refresh();
        a.part.hash.update(value);
        a.part.bytes += value.length;
        if (!out.write(value)) {
          await once(out, 'drain');
          timer.refresh(); // a slow disk is not a stalled server
        }
        a.onBytes(a.part.bytes, a.size);
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
    if (a.size !== null && a.part.bytes < a.size) {
      throw new AttemptFailure('network', `closed the connection at byte ${a.part.bytes} of ${a.size}`, true);
    }
  } catch (e) {
    throw failure(e);
  } finally {
    clearTimeout(timer);
    a.signal?.removeEventListener('abort', onAbort);
    if (out) await closeStream(out);
  }
}

/**
 * The sha256 published beside a file, `<url>.sha256` (`<hex>  <name>` or `<hex>`). Throws an
 * AttemptFailure like fetchAttempt; the whole request must end within stallTimeoutMs.
 */
export async function fetchSha256(url: string, o: { stallTimeoutMs: number; maxRetryAfterMs: number; signal?: AbortSignal }): Promise<string> {
  o.signal?.throwIfAborted();
  const ac = new AbortController();
  const onAbort = () => ac.abort(o.signal!.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => ac.abort(new AttemptFailure('stall', `stalled (no answer in ${o.stallTimeoutMs} ms)`, true)), o.stallTimeoutMs);
  try {
    const res = await fetch(url, { headers: { 'accept-encoding': 'identity' }, signal: ac.signal });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw httpFailure(res, o.maxRetryAfterMs);
    }
    const hex = /^([0-9a-fA-F]{64})(\s|$)/.exec((await res.text()).trim())?.[1];
    if (!hex) throw new AttemptFailure('no-checksum', 'is not a sha256 file (expected `<64 hex digits>  <file name>`)', false);
    return hex.toLowerCase();
  } catch (e) {
    if (o.signal?.aborted) throw o.signal.reason;
    if (e instanceof AttemptFailure) throw e;
    throw new AttemptFailure('network', networkMessage(e), true);
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
  }
}
