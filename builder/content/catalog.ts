/**
 * catalog — resolves ZIM requests through the kiwix OPDS catalog (v2): a book name becomes the
 * exact file to download, with its URLs (kiwix's first, then the mirrors of its `.meta4`), size
 * and sha256 (from the `.meta4`, else the `.sha256` beside the file). A `{ url, sha256 }` request
 * needs no network at all.
 *
 *   const zims = await resolveZims(['wikipedia_fr_all_mini', 'wiktionary_fr_all_nopic_2024-06'],
 *     { catalogUrl: DEFAULT_CATALOG, cacheDir: '~/.cache/clic-image/catalog' });
 *   // [{ name: 'wikipedia_fr_all_mini', file: 'wikipedia_fr_all_mini_2025-01.zim', urls: […], size, sha256, source: 'catalog' }, …]
 *
 * Options: `catalogUrl` (v2 root; all books are read from `<root>/entries?count=-1`, once per
 * call and only when a name is asked for), `cacheDir` (the last catalog document read and the
 * checksums found; offline, a later resolution works from them and says so through `onNotice`),
 * `timeoutMs` (per document, default 30 s; 2 retries with a short backoff), `signal`.
 * Every bad request is reported at once in a CatalogError; a catalog that cannot be reached and
 * was never read before is a CatalogUnavailableError.
 *
 * This file checks the requests and matches names; the rest is in catalog-parse.ts (the OPDS
 * feed), catalog-fetch.ts (documents, with timeout and retries), catalog-load.ts (the catalog and
 * checksums, online or from the copies kept), catalog-errors.ts and metalink.ts, whose public
 * parts are exported from here too.
 */
import pLimit from 'p-limit';
import { AbortedError } from '../errors.ts';
import { closeMatches } from '../recipe/schema.ts';
import { CatalogError, Problem, type CatalogProblem } from './catalog-errors.ts';
import { messageOf, throwIfAborted } from './catalog-fetch.ts';
import { checksumOf, loadCatalog, type Catalog } from './catalog-load.ts';
import { DATED, lastSegment, safeFileName, splitFileName, type CatalogEntry } from './catalog-parse.ts';
import { SHA256 } from './metalink.ts';
import type { ResolvedZim, ZimRequest } from './types.ts';

export { CatalogError, CatalogUnavailableError, type CatalogProblem } from './catalog-errors.ts';
export { parseCatalog, type CatalogEntry } from './catalog-parse.ts';
export { parseMetalink, parseSha256File, type Metalink } from './metalink.ts';

export const DEFAULT_CATALOG = 'https://library.kiwix.org/catalog/v2';

export interface ResolveOptions {
  /** OPDS v2 catalog root; entries are read from `${catalogUrl}/entries?count=-1` (all books). */
  catalogUrl: string;
  /**
   * Folder of the copies kept for offline use (the build passes `<cache>/catalog`): the last
   * catalog document read (`<sha256 of catalogUrl>.xml`) and the checksums found
   * (`books/<sha256 of zim url>.json`). When the catalog cannot be reached, resolution works from
   * them and says so through onNotice.
   */
  cacheDir: string;
  signal?: AbortSignal;
  /** Per document (default 30000); each is tried 3 times, with a short backoff. */
  timeoutMs?: number;
  onNotice?: (message: string) => void;
}

const CONCURRENCY = 4;

// ---------------------------------------------------------------------------------------------
// requests

type Request = { kind: 'name'; name: string } | { kind: 'url'; url: string; sha256: unknown; name?: unknown; size?: unknown } | { kind: 'bad'; why: string };

function classify(req: ZimRequest): Request {
  if (typeof req === 'string') return { kind: 'name', name: req.trim() };
  if (req && typeof req === 'object') {
    const r = req as Record<string, unknown>;
    if ('url' in r) return typeof r.url === 'string' ? { kind: 'url', url: r.url.trim(), sha256: r.sha256, name: r.name, size: r.size } : { kind: 'bad', why: 'url must be a string' };
    if (typeof r.name === 'string') return { kind: 'name', name: r.name.trim() };
  }
  return { kind: 'bad', why: 'expected a ZIM name (e.g. wikipedia_fr_all_mini) or { url, sha256 }' };
}

function label(req: ZimRequest): string {
  if (typeof req === 'string') return req;
  if (req && typeof req === 'object') {
    const r = req as Record<string, unknown>;
    if (typeof r.url === 'string') return r.url;
    if (typeof r.name === 'string') return r.name;
  }
  return JSON.stringify(req) ?? String(req);
}

/** A `{ url, sha256 }` request: checked, never fetched. Every problem with it, at once. */
function resolveUrl(req: Extract<Request, { kind: 'url' }>): ResolvedZim | string[] {
  const problems: string[] = [];
  let url: URL | null = null;
  try {
    url = new URL(req.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      problems.push(`${req.url}: only http and https URLs can be downloaded`);
      url = null;
    }
  } catch {
    problems.push(`"${req.url}" is not a URL`);
  }
  const file = url ? lastSegment(url) : '';
  if (url && !safeFileName(file)) problems.push(`${req.url} does not end with a file name`);
  const sha256 = typeof req.sha256 === 'string' ? req.sha256.trim().toLowerCase() : '';
  if (!SHA256.test(sha256)) problems.push(`sha256 must be 64 hexadecimal digits, got ${req.sha256 === undefined ? 'none' : JSON.stringify(req.sha256)}`);
  if (req.size !== undefined && req.size !== null && !(typeof req.size === 'number' && Number.isSafeInteger(req.size) && req.size >= 0)) problems.push(`size must be a number of bytes, got ${JSON.stringify(req.size)}`);
  if (req.name !== undefined && (typeof req.name !== 'string' || !req.name.trim())) problems.push(`name must be a non-empty string, got ${JSON.stringify(req.name)}`);
  if (problems.length || !url) return problems;
  return {
    name: typeof req.name === 'string' ? req.name.trim() : splitFileName(file).book,
    file,
    urls: [url.href],
    size: typeof req.size === 'number' ? req.size : null,
    sha256,
    source: 'url',
  };
}

function unknownName(name: string, candidates: Iterable<string>, catalog: Catalog): Problem {
  const close = closeMatches(name, candidates);
  return new Problem(
    `unknown ZIM "${name}" in the catalog ${catalog.url}` + (close.length ? ` — did you mean ${close.join(', ')}?` : ` — no book there has a similar name (${catalog.byBook.size} books listed)`),
  );
}

/** The catalog entry a name (optionally `_YYYY-MM`-pinned) asks for. */
function findEntry(name: string, catalog: Catalog): CatalogEntry {
  if (!name) throw new Problem('empty ZIM name');
  const wanted = name.replace(/\.zim$/i, '');
  const pinned = DATED.exec(wanted);
  if (!pinned) {
    const current = catalog.byBook.get(wanted);
    if (!current) throw unknownName(wanted, catalog.byBook.keys(), catalog);
    return current;
  }
  const exact = catalog.byFile.get(`${wanted}.zim`);
  if (exact) return exact;
  const current = catalog.byBook.get(pinned[1]);
  if (!current) throw unknownName(pinned[1], catalog.byBook.keys(), catalog);
  throw new Problem(
    `ZIM "${wanted}" is not in the catalog ${catalog.url}, which lists current versions only (${current.book} is at ${current.version ?? current.file} there) — ` +
      `to use that older version, give its { url, sha256 } instead of its name`,
  );
}

async function resolveName(name: string, catalog: Catalog, opts: ResolveOptions): Promise<ResolvedZim> {
  const entry = findEntry(name, catalog);
  const checksum = await checksumOf(entry, catalog, opts);
  return {
    name: entry.book,
    file: entry.file,
    urls: checksum.urls.includes(entry.url) ? checksum.urls : [entry.url, ...checksum.urls],
    size: entry.size ?? checksum.size,
    sha256: checksum.sha256,
    ...(entry.title ? { title: entry.title } : {}),
    ...(entry.language ? { language: entry.language } : {}),
    source: 'catalog',
  };
}

/**
 * The exact files the requests ask for, in the same order. Every bad request is reported at
 * once (CatalogError); the catalog is read at most once, and only if a name is asked for.
 */
export async function resolveZims(requests: readonly ZimRequest[], opts: ResolveOptions): Promise<ResolvedZim[]> {
  throwIfAborted(opts.signal);
  const classified = requests.map(classify);
  const catalog = classified.some((r) => r.kind === 'name') ? await loadCatalog(opts) : null;
  const problems: CatalogProblem[] = [];
  const results: (ResolvedZim | null)[] = new Array(requests.length).fill(null);
  const limit = pLimit(CONCURRENCY);
  await Promise.all(
    classified.map((req, index) =>
      limit(async () => {
        const problem = (message: string) => problems.push({ index, request: label(requests[index]), message });
        try {
          if (req.kind === 'bad') return problem(req.why);
          if (req.kind === 'url') {
            const r = resolveUrl(req);
            if (Array.isArray(r)) r.forEach(problem);
            else results[index] = r;
            return;
          }
          results[index] = await resolveName(req.name, catalog!, opts);
        } catch (err) {
          if (err instanceof AbortedError) throw err;
          problem(messageOf(err));
        }
      }),
    ),
  );
  throwIfAborted(opts.signal);

  const firstByFile = new Map<string, number>();
  results.forEach((r, index) => {
    if (!r) return;
    const first = firstByFile.get(r.file);
    if (first === undefined) firstByFile.set(r.file, index);
    else problems.push({ index, request: label(requests[index]), message: `listed twice: resolves to ${r.file}, as request ${first} (${label(requests[first])}) does` });
  });

  if (problems.length) throw new CatalogError(problems.sort((a, b) => a.index - b.index));
  return results as ResolvedZim[];
}
