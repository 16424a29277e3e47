/**
 * catalog-load — the catalog's books and each book's checksum, read from kiwix when it answers,
 * else from the copies kept in the cache folder by an earlier resolution, so that a build can be
 * planned again offline. Each fallback is said through `onNotice`.
 *
 *   const catalog = await loadCatalog(opts);           // { url, offline, byFile, byBook }
 *   const { sha256, size, urls } = await checksumOf(catalog.byBook.get('wikipedia_fr_all_mini')!, catalog, opts);
 *
 * Options (ResolveOptions): `catalogUrl` (v2 root), `cacheDir` (this module's folder: the last
 * catalog document read, `<sha256 of catalogUrl>.xml`, and the checksums found,
 * `books/<sha256 of zim url>.json`), `timeoutMs` and `signal` (for each document), `onNotice`.
 * A checksum comes from the book's `.meta4`, else its `.sha256`; its copy kept is used when the
 * catalog itself came from its copy or a checksum document could not be fetched, never when kiwix
 * answers that the book has none: a stale hash must not hide a book kiwix withdrew or broke.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomically } from '../files.ts';
import { join } from 'node:path';
import { AbortedError } from '../errors.ts';
import type { ResolveOptions } from './catalog.ts';
import { CatalogUnavailableError, Problem } from './catalog-errors.ts';
import { FetchError, fetchText, messageOf } from './catalog-fetch.ts';
import { parseCatalog, type CatalogEntry } from './catalog-parse.ts';
import { parseMetalink, parseSha256File, SHA256, type Metalink } from './metalink.ts';

const sha256Of = (text: string) => createHash('sha256').update(text).digest('hex');


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

export interface Catalog {
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

export async function loadCatalog(opts: ResolveOptions): Promise<Catalog> {
  const root = opts.catalogUrl.replace(/\/+$/, '');
  const url = entriesUrl(root);
  const copy = join(opts.cacheDir, `${sha256Of(root)}.xml`);
  let reason: string;
  try {
    const xml = await fetchText(url, opts);
    if (xml === null) throw new FetchError(url, 'not found (HTTP 404)', 404);
    const entries = parseCatalog(xml, url);
    await writeFileAtomically(copy, xml).catch((err) => opts.onNotice?.(`could not keep a copy of the kiwix catalog in ${copy} (${messageOf(err)}): the next resolution will need the network`));
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
export async function checksumOf(entry: CatalogEntry, catalog: Catalog, opts: ResolveOptions): Promise<Checksum> {
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
  await writeFileAtomically(keptFile, `${JSON.stringify({ url: entry.url, ...checksum }, null, 2)}\n`).catch(() => {});
  return checksum;
}
