/**
 * The downloader's vocabulary: what a caller asks for (DownloadRequest, DownloadOptions), what it
 * hears (DownloadEvent), what it gets (DownloadResult) and how it fails (DownloadError, one line
 * naming the file and every URL tried).
 *
 *   try { await download({ name: 'x.zim', urls: [a, b], sha256 }, { cacheDir }); }
 *   catch (e) { if (e instanceof DownloadError && e.kind === 'checksum') console.error(e.expected, e.got); }
 */

export interface DownloadRequest {
  /** Name shown in progress and errors, e.g. the ZIM file name. */
  name: string;
  /** URLs tried in order (a file's mirrors). */
  urls: string[];
  /** Expected sha256 (64 hex). When absent, it is read from `<url>.sha256` (format: `<hex>  <filename>` or just `<hex>`) of the first URL that answers it. */
  sha256?: string;
  /** Size in bytes when known (progress totals, disk-space check). */
  size?: number | null;
}

export interface DownloadOptions {
  /** Root of the download cache (shared across builds): verified files at <cacheDir>/sha256/<hex>, partial files under <cacheDir>/partial/. */
  cacheDir: string;
  /** Files in flight at once (downloadAll), default 4. */
  concurrency?: number;
  /** Attempts per URL after the first, default 5. */
  retries?: number;
  /** First retry delay, doubled each time (with jitter), capped at 30 s; default 1000. */
  backoffMs?: number;
  /** No byte received for this long → abort that attempt and retry with Range; default 30000. */
  stallTimeoutMs?: number;
  /** Aborts everything promptly; partial files are kept for resume. */
  signal?: AbortSignal;
  onEvent?: (e: DownloadEvent) => void;
}

export type DownloadEvent =
  | { type: 'download:start'; name: string; url: string; size: number | null; resumeFrom: number }
  /** Throttled: at most ~4/s per file, plus one at the end of each file. */
  | { type: 'download:progress'; name: string; bytes: number; size: number | null; totalBytes: number; totalSize: number | null }
  | { type: 'download:retry'; name: string; url: string; attempt: number; error: string; delayMs: number }
  | { type: 'download:end'; name: string; sha256: string; bytes: number; ms: number; cached: boolean; url?: string };

export interface DownloadResult {
  name: string;
  sha256: string;
  /** The verified file in the cache: `<cacheDir>/sha256/<hex>`. */
  path: string;
  size: number;
  /** True when this call made no download (the file was already in the cache). */
  cached: boolean;
}

export type DownloadErrorKind = 'checksum' | 'http' | 'network' | 'stall' | 'space' | 'no-checksum';

/** Why one URL failed, as told in a DownloadError. */
export interface UrlFailure {
  url: string;
  kind: DownloadErrorKind;
  /** e.g. `http://… answered HTTP 500 after 6 attempts`. */
  message: string;
}

export class DownloadError extends Error {
  /** The request's name (the file); for kind 'space', the names of the files not yet in the cache. */
  readonly file: string;
  readonly kind: DownloadErrorKind;
  /** The last URL tried, if any. */
  readonly url?: string;
  /** kind 'checksum': the sha256 asked for and the one received. */
  readonly expected?: string;
  readonly got?: string;
  /** kind 'space': bytes needed (with the margin) and bytes available. */
  readonly needed?: number;
  readonly available?: number;
  /** Every URL tried, in order, and why it failed. */
  readonly failures: UrlFailure[];
  constructor(opts: {
    file: string; kind: DownloadErrorKind; message: string; url?: string; expected?: string; got?: string;
    needed?: number; available?: number; failures?: UrlFailure[];
  }) {
    super(opts.message);
    this.name = 'DownloadError';
    this.file = opts.file;
    this.kind = opts.kind;
    this.url = opts.url;
    this.expected = opts.expected;
    this.got = opts.got;
    this.needed = opts.needed;
    this.available = opts.available;
    this.failures = opts.failures ?? [];
  }
}

/**
 * One failed HTTP attempt, inside the library: whether retrying the same URL may help, and how
 * long the server asked us to wait. `restart` asks for the same URL again from byte 0 (a 416, or
 * a Content-Range that does not start where the partial file ends).
 */
export class AttemptFailure extends Error {
  constructor(
    readonly kind: DownloadErrorKind | 'restart',
    /** Completes `<url> …`, e.g. `answered HTTP 500`. */
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'AttemptFailure';
  }
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}
