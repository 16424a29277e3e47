/**
 * Offline content a recipe asks for (ZIM files for kiwix), before and after resolution.
 *
 * A request names a book of the kiwix OPDS catalog (`wikipedia_fr_all_mini`, or with its date
 * to pin a version: `wikipedia_fr_all_mini_2024-05`), or gives a URL and its sha256. Resolution
 * (builder/content/catalog.ts) turns every request into the exact file to download.
 *
 *   zims: [wikipedia_fr_all_mini, { url: https://example.org/x.zim, sha256: 3f… }]
 */

export type ZimRequest = string | { name: string } | { url: string; sha256: string; name?: string; size?: number };

export interface ResolvedZim {
  /** Book name, version independent (`wikipedia_fr_all_mini`); for a URL request, the file name without its date and extension. */
  name: string;
  /** File name on the content partition (`wikipedia_fr_all_mini_2024-05.zim`). */
  file: string;
  /** Download URLs, tried in order: the catalog's (or the recipe's) first, then mirrors. */
  urls: string[];
  /** Size in bytes; null when neither the catalog nor the recipe gives it. */
  size: number | null;
  sha256: string;
  title?: string;
  language?: string;
  /** Where the file was found. */
  source: 'catalog' | 'url';
}
