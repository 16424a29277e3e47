/**
 * The checksum documents kiwix publishes beside each ZIM file: `<file>.zim.meta4` (Metalink 4,
 * RFC 5854: size, hashes, mirror URLs with their priority) and `<file>.zim.sha256` (sha256sum
 * format). Pure parsers; fetching them is builder/content/catalog-load.ts's job. The small XML
 * helpers below (xmlRoot, xmlList, xmlText, xmlAttr) are shared with the OPDS parser,
 * builder/content/catalog-parse.ts, so that both read documents the same way.
 *
 *   parseMetalink(xml);          // { sha256: '3f…', size: 4123456789, urls: ['https://mirror-a/…', …] }
 *   parseSha256File('3f…  wikipedia_fr_all_mini_2024-05.zim\n', 'wikipedia_fr_all_mini_2024-05.zim');   // '3f…'
 *   xmlRoot('<feed/>', 'feed', 'an OPDS catalog');   // '' (the <feed> element, empty)
 */
import { XMLParser } from 'fast-xml-parser';

/** Parses XML into plain objects: attributes as `@_name`, namespace prefixes dropped, values kept as strings. */
export function xmlParser(): XMLParser {
  return new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    removeNSPrefix: true,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    htmlEntities: true,
  });
}

/**
 * The root element `name` of an XML document ('' when it is empty). Throws when the text is not
 * XML or has no such root, calling it `what` ("not an OPDS catalog: no Atom <feed> element").
 */
export function xmlRoot(xml: string, name: string, what: string, element = `<${name}>`): unknown {
  let doc: Record<string, unknown>;
  try {
    doc = xmlParser().parse(xml) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`not ${what} (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!doc || typeof doc !== 'object' || !(name in doc)) throw new Error(`not ${what}: no ${element} element`);
  return doc[name];
}

/** One or many child elements, always as a list. */
export function xmlList(value: unknown): unknown[] {
  return value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];
}

/** Text content of an element (with or without attributes); null when absent or empty. */
export function xmlText(value: unknown): string | null {
  if (Array.isArray(value)) return xmlText(value[0]);
  if (typeof value === 'string') return value.trim() || null;
  if (typeof value === 'number') return String(value);
  if (value && typeof value === 'object' && '#text' in value) return xmlText((value as Record<string, unknown>)['#text']);
  return null;
}

/** An attribute of an element; null when absent. */
export function xmlAttr(element: unknown, name: string): string | null {
  if (!element || typeof element !== 'object') return null;
  const v = (element as Record<string, unknown>)[`@_${name}`];
  return typeof v === 'string' ? v.trim() : null;
}

export interface Metalink {
  /** sha-256 of the file, lowercase hex; null when the document gives none. */
  sha256: string | null;
  size: number | null;
  /** Download URLs, by priority (lower first; URLs without priority last), in document order on ties. */
  urls: string[];
}

/** A sha256 as this project writes it: 64 lowercase hexadecimal digits. */
export const SHA256 = /^[0-9a-f]{64}$/;

/** Reads the first `<file>` of a Metalink 4 document. Throws when it is not one. */
export function parseMetalink(xml: string): Metalink {
  const root = xmlRoot(xml, 'metalink', 'a Metalink document');
  const file = (root && typeof root === 'object' ? xmlList((root as Record<string, unknown>).file)[0] : undefined) as Record<string, unknown> | undefined;
  if (!file || typeof file !== 'object') return { sha256: null, size: null, urls: [] };

  // file-level <hash> only: the <hash> elements inside <pieces> are hashes of chunks
  let sha256: string | null = null;
  for (const h of xmlList(file.hash)) {
    if (xmlAttr(h, 'type')?.toLowerCase() !== 'sha-256') continue;
    const hex = xmlText(h)?.toLowerCase() ?? '';
    if (SHA256.test(hex)) sha256 = hex;
    break;
  }

  const sizeText = xmlText(file.size);
  const size = sizeText && /^\d+$/.test(sizeText) && Number.isSafeInteger(Number(sizeText)) ? Number(sizeText) : null;

  const urls = xmlList(file.url)
    .map((u, order) => {
      const p = xmlAttr(u, 'priority');
      return { url: xmlText(u), priority: p && /^\d+$/.test(p) ? Number(p) : Infinity, order };
    })
    .filter((u): u is { url: string; priority: number; order: number } => !!u.url && /^(https?|ftp):\/\//i.test(u.url))
    .sort((a, b) => a.priority - b.priority || a.order - b.order)
    .map((u) => u.url);

  return { sha256, size, urls: [...new Set(urls)] };
}

/**
 * The sha256 in a sha256sum-format file: `<hex>  <name>` (or `<hex> *<name>`), or a bare `<hex>`.
 * With several lines, the one naming `fileName`; a line naming another file is an error.
 */
export function parseSha256File(text: string, fileName?: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (!lines.length) throw new Error('empty sha256 file');
  const parsed = lines.map((l) => {
    const m = /^(\S+)(?:\s+\*?(.+))?$/.exec(l)!;
    return { hex: m[1].toLowerCase(), name: m[2]?.trim().replace(/^.*\//, '') ?? null };
  });
  const line = (fileName && parsed.find((p) => p.name === fileName)) || parsed[0];
  if (fileName && line.name !== null && line.name !== fileName) throw new Error(`the sha256 file is for ${line.name}, not ${fileName}`);
  if (!SHA256.test(line.hex)) throw new Error(`not a sha256 (64 hexadecimal digits): "${line.hex.slice(0, 80)}"`);
  return line.hex;
}
