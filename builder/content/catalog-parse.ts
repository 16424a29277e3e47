/**
 * catalog-parse — reads kiwix's OPDS v2 acquisition feed (`/catalog/v2/entries`) into the books it
 * lists, and names ZIM files the way recipes do. Pure: no network, no files.
 *
 *   parseCatalog(xml, 'https://library.kiwix.org/catalog/v2/entries?count=-1');
 *   // [{ name: 'wikipedia_fr_all', flavour: 'mini', file: 'wikipedia_fr_all_mini_2025-01.zim',
 *   //    book: 'wikipedia_fr_all_mini', version: '2025-01', url: 'https://download.kiwix.org/…', size, … }, …]
 *   splitFileName('wikipedia_fr_all_mini_2024-05.zim');   // { book: 'wikipedia_fr_all_mini', version: '2024-05' }
 *
 * Option: parseCatalog's `baseUrl`, against which relative links are resolved. An entry without a
 * downloadable ZIM, or whose file name could not be a file of the content partition, is left
 * out rather than failing the whole catalog: one odd book must not stop every build.
 */
import { xmlAttr, xmlList, xmlRoot, xmlText } from './metalink.ts';

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

/** A book name pinned to a version: `wikipedia_fr_all_mini_2024-05`. */
export const DATED = /^(.+)_(\d{4}-\d{2})$/;

/** `wikipedia_fr_all_mini_2024-05.zim` → book `wikipedia_fr_all_mini`, version `2024-05`. */
export function splitFileName(file: string): { book: string; version: string | null } {
  const stem = file.replace(/\.zim$/i, '');
  const m = DATED.exec(stem);
  return m ? { book: m[1], version: m[2] } : { book: stem, version: null };
}

export function lastSegment(url: URL): string {
  const raw = url.pathname.split('/').pop() ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** A name that can be a file of the content partition as is. */
export function safeFileName(file: string): boolean {
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
  const feed = xmlRoot(xml, 'feed', 'an OPDS catalog', 'Atom <feed>');
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
