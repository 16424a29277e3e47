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
 * call and only when a name is asked for), `cacheDir` (this module's own folder: the last catalog
 * document read, `<sha256 of catalogUrl>.xml`, and the checksums found, `books/<sha256 of zim
 * url>.json`; offline, a later resolution works from them and says so through `onNotice`),
 * `timeoutMs` (per document, default 30 s; 2 retries with a short backoff), `signal`.
 * Every bad request is reported at once in a CatalogError; a catalog that cannot be reached and
 * was never read before is a CatalogUnavailableError.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pLimit from 'p-limit';
import { AbortedError } from '../errors.ts';
import { closeMatches } from '../recipe/schema.ts';
import { parseMetalink, parseSha256File, xmlAttr, xmlList, xmlParser, xmlText, type Metalink } from './metalink.ts';
import type { ResolvedZim, ZimRequest } from './types.ts';

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

/** One book of the catalog, as its entry describes it. */
export interface CatalogEntry {
  /** Entry id, without its `urn:uuid:` prefix. */
  id: string | null;
  /** The `<name>` element (kiwix's book name; may or may not include the flavour). */
  name: string;
  flavour: string | null;
  /** ISO 639-3 code(s), as given (`fra`, `fra,eng`). */
  language: string | null;
  title: string | null;
  /** Bytes, from the acquisition link's `length`. */
  size: number | null;
  /** The .zim file's URL: the acquisition link's href without its `.meta4`. */
  url: string;
  /** Last path segment of `url`, decoded (`wikipedia_fr_all_mini_2024-05.zim`). */
  file: string;
  /** `file` without its `_YYYY-MM` and `.zim`: the name recipes use (`wikipedia_fr_all_mini`). */
  book: string;
  /** `YYYY-MM` from the file name; null when it has none. */
  version: string | null;
  updated: string | null;
}

export interface CatalogProblem {
  /** Position of the request in the list given to resolveZims. */
  index: number;
  /** The request as written: its name or URL. */
  request: string;
  message: string;
}

/** Every bad request of one resolveZims call. */
export class CatalogError extends Error {
  constructor(readonly problems: CatalogProblem[]) {
    super(problems.map((p) => `ZIM request ${p.index} (${p.request}): ${p.message}`).join('\n'));
    this.name = 'CatalogError';
  }
}

/** The catalog could not be read and no copy of it was kept: nothing can be looked up by name. */
export class CatalogUnavailableError extends Error {
  constructor(
    readonly catalogUrl: string,
    readonly reason: string,
  ) {
    super(
      `the kiwix catalog ${catalogUrl} cannot be read (${reason}), and no copy of it was kept by an earlier build — ` +
        'check the network and the catalog URL, or give the ZIM files as { url, sha256 }',
    );
    this.name = 'CatalogUnavailableError';
  }
}

const CONCURRENCY = 4;
const RETRIES = 2;
const BACKOFF_MS = 300;
const DATED = /^(.+)_(\d{4}-\d{2})$/;
const SHA256 = /^[0-9a-f]{64}$/;

// ---------------------------------------------------------------------------------------------
// parsing

/** `wikipedia_fr_all_mini_2024-05.zim` → book `wikipedia_fr_all_mini`, version `2024-05`. */
function splitFileName(file: string): { book: string; version: string | null } {
  const stem = file.replace(/\.zim$/i, '');
  const m = DATED.exec(stem);
  return m ? { book: m[1], version: m[2] } : { book: stem, version: null };
}

function lastSegment(url: URL): string {
  const raw = url.pathname.split('/').pop() ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** A name that can be a file of the content partition as is. */
function safeFileName(file: string): boolean {
  return file !== '' && file !== '.' && file !== '..' && !/[/\\\0]/.test(file);
}

function isAcquisition(link: unknown): boolean {
  const rel = xmlAttr(link, 'rel') ?? '';
  const type = xmlAttr(link, 'type');
  return rel.startsWith('http://opds-spec.org/acquisition') && (type === null || type === 'application/x-zim');
}

/**
 * Books of an OPDS v2 acquisition feed (kiwix's `/catalog/v2/entries`); entries without a
 * downloadable ZIM are left out. Relative links are resolved against `baseUrl`. Throws when the
 * document is not an Atom feed.
 */
export function parseCatalog(xml: string, baseUrl?: string): CatalogEntry[] {
  let doc: Record<string, unknown>;
  try {
    doc = xmlParser().parse(xml) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`not an OPDS catalog (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!doc || typeof doc !== 'object' || !('feed' in doc)) throw new Error('not an OPDS catalog: no Atom <feed> element');
  const feed = doc.feed; // '' when empty
  const entries: CatalogEntry[] = [];
  for (const raw of feed && typeof feed === 'object' ? xmlList((feed as Record<string, unknown>).entry) : []) {
    if (!raw || typeof raw !== 'object') continue;
    const e = raw as Record<string, unknown>;
    const links = xmlList(e.link);
    const link = links.find((l) => xmlAttr(l, 'rel') === 'http://opds-spec.org/acquisition/open-access' && xmlAttr(l, 'type') === 'application/x-zim') ?? links.find(isAcquisition);
    const href = xmlAttr(link, 'href');
    if (!href) continue;
    let url: URL;
    try {
      url = new URL(href, baseUrl);
    } catch {
      continue;
    }
    url.hash = '';
    if (url.search === '') url.pathname = url.pathname.replace(/\.meta4$/i, '');
    const file = lastSegment(url);
    if (!safeFileName(file)) continue;
    const { book, version } = splitFileName(file);
    const length = xmlAttr(link, 'length');
    const size = length && /^\d+$/.test(length) && Number.isSafeInteger(Number(length)) ? Number(length) : null;
    entries.push({
      id: xmlText(e.id)?.replace(/^urn:uuid:/i, '') ?? null,
      name: xmlText(e.name) ?? book,
      flavour: xmlText(e.flavour),
      language: xmlText(e.language),
      title: xmlText(e.title),
      size,
      url: url.href,
      file,
      book,
      version,
      updated: xmlText(e.updated),
    });
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------
// fetching

/** A document could not be had: network error, timeout, or an HTTP status other than 404/410. */
class FetchError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
    readonly status?: number,
  ) {
    super(`${url}: ${reason}`);
    this.name = 'FetchError';
  }
}

/** An expected problem with a request: its message is the whole story. */
class Problem extends Error {}

function throwIfAborted(signal?: AbortSignal): void {
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
  return err instanceof Error ? err.message : String(err);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * GETs a document as text; null when the server says it does not exist (404, 410). Network
 * errors, timeouts and 5xx/429 answers are tried again, RETRIES times, with a growing pause.
 */
async function fetchText(url: string, opts: ResolveOptions): Promise<string | null> {
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

const sha256Of = (text: string) => createHash('sha256').update(text).digest('hex');

/** Writes a file whole or not at all. */
async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, text);
  await rename(partial, file);
}

async function readKept(file: string): Promise<{ text: string; when: Date } | null> {
  try {
    const [text, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    return { text, when: st.mtime };
  } catch {
    return null;
  }
}

const day = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

// ---------------------------------------------------------------------------------------------
// the catalog, online or from the copy kept

interface Catalog {
  url: string;
  /** Read from the copy kept: the network is not expected to answer. */
  offline: boolean;
  byFile: Map<string, CatalogEntry>;
  /** Latest version of each book. */
  byBook: Map<string, CatalogEntry>;
}

function entriesUrl(catalogUrl: string): string {
  return `${catalogUrl.replace(/\/+$/, '')}/entries?count=-1`;
}

function indexCatalog(url: string, entries: CatalogEntry[], offline: boolean): Catalog {
  const byFile = new Map<string, CatalogEntry>();
  const byBook = new Map<string, CatalogEntry>();
  for (const e of entries) {
    if (!byFile.has(e.file)) byFile.set(e.file, e);
    const known = byBook.get(e.book);
    const newer = !known || (e.version ?? '') > (known.version ?? '') || (e.version === known.version && (e.updated ?? '') > (known.updated ?? ''));
    if (newer) byBook.set(e.book, e);
  }
  return { url, offline, byFile, byBook };
}

async function loadCatalog(opts: ResolveOptions): Promise<Catalog> {
  const root = opts.catalogUrl.replace(/\/+$/, '');
  const url = entriesUrl(root);
  const copy = join(opts.cacheDir, `${sha256Of(root)}.xml`);
  let reason: string;
  try {
    const xml = await fetchText(url, opts);
    if (xml === null) throw new FetchError(url, 'not found (HTTP 404)', 404);
    const entries = parseCatalog(xml, url);
    await writeAtomically(copy, xml).catch((err) => opts.onNotice?.(`could not keep a copy of the kiwix catalog in ${copy} (${messageOf(err)}): the next resolution will need the network`));
    return indexCatalog(root, entries, false);
  } catch (err) {
    if (err instanceof AbortedError) throw err;
    reason = err instanceof FetchError ? err.reason : messageOf(err);
  }
  const kept = await readKept(copy);
  if (!kept) throw new CatalogUnavailableError(root, reason);
  let entries: CatalogEntry[];
  try {
    entries = parseCatalog(kept.text, url);
  } catch (err) {
    throw new CatalogUnavailableError(root, `${reason}; the copy kept in ${copy} is unreadable: ${messageOf(err)}`);
  }
  opts.onNotice?.(`the kiwix catalog ${root} cannot be read (${reason}): using the copy kept on ${day(kept.when)}`);
  return indexCatalog(root, entries, true);
}

// ---------------------------------------------------------------------------------------------
// checksums of a catalog book

interface Checksum {
  sha256: string;
  /** From the .meta4, when it gives one. */
  size: number | null;
  urls: string[];
}

function keptChecksumFile(opts: ResolveOptions, zimUrl: string): string {
  return join(opts.cacheDir, 'books', `${sha256Of(zimUrl)}.json`);
}

async function readKeptChecksum(file: string): Promise<Checksum | null> {
  const kept = await readKept(file);
  if (!kept) return null;
  try {
    const c = JSON.parse(kept.text) as Checksum;
    return typeof c.sha256 === 'string' && SHA256.test(c.sha256) && Array.isArray(c.urls) ? c : null;
  } catch {
    return null;
  }
}

/** sha256, size and mirrors of a catalog book: its `.meta4`, else its `.sha256`, else the copy kept. */
async function checksumOf(entry: CatalogEntry, catalog: Catalog, opts: ResolveOptions): Promise<Checksum> {
  const keptFile = keptChecksumFile(opts, entry.url);
  if (catalog.offline) {
    const kept = await readKeptChecksum(keptFile);
    if (kept) return kept;
  }
  const failures: string[] = [];
  let unreachable = false;
  let meta: Metalink | null = null;
  let sha256: string | null = null;
  try {
    const xml = await fetchText(`${entry.url}.meta4`, opts);
    if (xml === null) failures.push(`${entry.file}.meta4 not found`);
    else {
      meta = parseMetalink(xml);
      sha256 = meta.sha256;
      if (!sha256) failures.push(`${entry.file}.meta4 has no sha-256 hash`);
    }
  } catch (err) {
    if (err instanceof AbortedError) throw err;
    unreachable ||= err instanceof FetchError;
    failures.push(err instanceof FetchError ? err.message : `${entry.file}.meta4: ${messageOf(err)}`);
  }
  if (!sha256) {
    try {
      const text = await fetchText(`${entry.url}.sha256`, opts);
      if (text === null) failures.push(`${entry.file}.sha256 not found`);
      else sha256 = parseSha256File(text, entry.file);
    } catch (err) {
      if (err instanceof AbortedError) throw err;
      unreachable ||= err instanceof FetchError;
      failures.push(err instanceof FetchError ? err.message : `${entry.file}.sha256: ${messageOf(err)}`);
    }
  }
  if (!sha256) {
    const kept = unreachable ? await readKeptChecksum(keptFile) : null;
    if (kept) {
      if (!catalog.offline) opts.onNotice?.(`the checksum of ${entry.file} cannot be read (${failures.join('; ')}): using the one kept from an earlier resolution`);
      return kept;
    }
    throw new Problem(`no sha256 for ZIM "${entry.book}" (${entry.file}) from the catalog ${catalog.url}: ${failures.join('; ')}`);
  }
  const checksum: Checksum = { sha256, size: meta?.size ?? null, urls: [...new Set([entry.url, ...(meta?.urls ?? [])])] };
  await writeAtomically(keptFile, `${JSON.stringify({ url: entry.url, ...checksum }, null, 2)}\n`).catch(() => {});
  return checksum;
}

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
