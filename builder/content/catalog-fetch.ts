/**
 * catalog-fetch — GETs the catalog's documents (the OPDS feed, each book's `.meta4` and `.sha256`)
 * as text, with a timeout per try and a few retries, and says in a few words why one could not be
 * had. Nothing is kept here: the copies for offline use are catalog-load.ts's.
 *
 *   const xml = await fetchText(`${zimUrl}.meta4`, { timeoutMs: 10_000, signal });   // null on 404/410
 *
 * Options (the part of ResolveOptions it uses): `timeoutMs` (per try, default 30 s), `signal`.
 * Network errors, timeouts and 408/429/5xx answers are tried again RETRIES times with a growing
 * pause, since a busy server often answers a moment later; what still fails is a FetchError.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { AbortedError } from '../errors.ts';
import type { ResolveOptions } from './catalog.ts';

const RETRIES = 2;
const BACKOFF_MS = 300;

/** A document could not be had: network error, timeout, or an HTTP status other than 404/410. */
export class FetchError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
    readonly status?: number,
  ) {
    super(`${url}: ${reason}`);
    this.name = 'FetchError';
  }
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortedError(String(signal.reason ?? 'abort'));
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed',
};

/** What went wrong with a fetch, in a few words (fetch's own message is "fetch failed"). */
function networkReason(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code && NETWORK_CODES[cause.code]) return NETWORK_CODES[cause.code];
  if (cause?.message) return cause.message;
  return messageOf(err);
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * GETs a document as text; null when the server says it does not exist (404, 410). Network
 * errors, timeouts and 5xx/429 answers are tried again, RETRIES times, with a growing pause.
 */
export async function fetchText(url: string, opts: Pick<ResolveOptions, 'signal' | 'timeoutMs'>): Promise<string | null> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let reason = '';
  let status: number | undefined;
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    if (attempt) await delay(BACKOFF_MS * 3 ** (attempt - 1), undefined, { signal: opts.signal }).catch(() => {});
    throwIfAborted(opts.signal);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    try {
      const res = await fetch(url, { signal, redirect: 'follow', headers: { 'user-agent': 'clic-image' } });
      if (res.status === 404 || res.status === 410) {
        await res.body?.cancel().catch(() => {});
        return null;
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => {});
        status = res.status;
        reason = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
        if (res.status >= 500 || res.status === 429 || res.status === 408) continue;
        break;
      }
      return await res.text();
    } catch (err) {
      throwIfAborted(opts.signal);
      status = undefined;
      reason = timeout.aborted ? `no answer within ${timeoutMs / 1000} s` : networkReason(err);
    }
  }
  throw new FetchError(url, reason, status);
}
