/**
 * catalog — YunoHost's app catalog, v3: the document `yunohost` itself downloads
 * (`<catalog>/v3/apps.json`), read from the network with a timeout, kept in the build cache, and
 * read from that copy when the network fails (said through `onNotice`), so that a build can be
 * planned again offline. Also writes the trimmed catalog the image carries for YunoHost.
 *
 *   const catalog = await loadAppCatalog(DEFAULT_APP_CATALOG, { cacheDir: '~/.cache/clic-image' });
 *   catalog.document.apps.yeswiki.git;   // { url: 'https://github.com/YunoHost-Apps/yeswiki_ynh', branch: 'master', revision: '3f…' }
 *   catalogForImage(catalog, ['yeswiki']);   // → /var/cache/yunohost/repo/default.json
 *
 * Options: `cacheDir` (the build's cache root; the copy is `<cacheDir>/app-catalog/<sha256 of
 * url>.json`), `timeoutMs` (per try, default 120 s: the document is several MB; 2 retries, as
 * for the kiwix catalog), `signal`, `onNotice`. A catalog that cannot be read and was never kept
 * is an AppCatalogError naming the URL.
 *
 * The format, checked against the tool that writes it (YunoHost/apps tools/list_builder.py, now
 * YunoHost/apps_tools list_builder.py, write_catalog_v3) and the code that reads it (YunoHost
 * src/app_catalog.py): `{ apps: { <id>: { id, git: { url, branch, revision }, manifest, state,
 * level, added_in_catalog, lastUpdate, maintained, high_quality, featured, category, subtags,
 * potential_alternative_to, antifeatures, logo_hash, … } }, categories: [...], antifeatures:
 * [...], … }`, keys sorted. Two things follow from it: each app's `manifest` there LACKS its
 * `install` and `resources` tables (list_builder deletes them), so the questions, sources and
 * apt packages are read from the package at its revision (withPackageManifests, resolve.ts);
 * and YunoHost's cache file is the downloaded document whole plus `"from_api_version": 3`,
 * without which YunoHost deems it obsolete and downloads the catalog again.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomically } from '../files.ts';
import { join } from 'node:path';
import { AbortedError } from '../errors.ts';
import { FetchError, fetchText, messageOf } from '../content/catalog-fetch.ts';
import type { Manifest } from './manifest.ts';

export const DEFAULT_APP_CATALOG = 'https://app.yunohost.org/default/v3/apps.json';

/** The catalog API version YunoHost expects in its cache file (APPS_CATALOG_API_VERSION). */
export const APP_CATALOG_API_VERSION = 3;

/** The v3 document: `apps` by id; categories, antifeatures and anything else kept as they are. */
export interface AppCatalogDocument {
  apps: Record<string, unknown>;
  [key: string]: unknown;
}

export interface AppCatalog {
  url: string;
  /** Read from the copy kept: the network did not answer. */
  offline: boolean;
  document: AppCatalogDocument;
  /** Whole manifests (with `install` and `resources`), read from the apps' packages at the
   *  catalog's revision by withPackageManifests; resolveApps prefers them to the catalog's. */
  packageManifests: Map<string, Manifest>;
  /** Why an app's package could not be read, by app id (reported by resolveApps). */
  packageProblems: Map<string, string>;
}

export interface LoadAppCatalogOptions {
  /** Cache root of the build: the copy is kept in `<cacheDir>/app-catalog/`. */
  cacheDir: string;
  signal?: AbortSignal;
  /** Per try (default 120000); each fetch is tried 3 times, with a short backoff. */
  timeoutMs?: number;
  onNotice?: (message: string) => void;
}

/** The catalog could not be read and no copy of it was kept by an earlier build. */
export class AppCatalogError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`the YunoHost app catalog ${url} cannot be read (${reason}), and no copy of it was kept by an earlier build — check the network and the catalog URL`);
    this.name = 'AppCatalogError';
  }
}

/** A v3 catalog document from its text; throws when it is not one. */
export function parseAppCatalog(text: string): AppCatalogDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON: ${messageOf(err)}`);
  }
  const apps = (doc as { apps?: unknown } | null)?.apps;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || typeof apps !== 'object' || apps === null || Array.isArray(apps)) {
    throw new Error('not a YunoHost v3 app catalog (no "apps" object)');
  }
  return doc as AppCatalogDocument;
}

export const appCatalogCopy = (cacheDir: string, url: string) => join(cacheDir, 'app-catalog', `${createHash('sha256').update(url).digest('hex')}.json`);


const minute = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

const catalogOf = (url: string, document: AppCatalogDocument, offline: boolean): AppCatalog => ({ url, offline, document, packageManifests: new Map(), packageProblems: new Map() });

/** The catalog at `url`, else the copy kept by an earlier build (said through onNotice). */
export async function loadAppCatalog(url: string, opts: LoadAppCatalogOptions): Promise<AppCatalog> {
  const copy = appCatalogCopy(opts.cacheDir, url);
  let reason: string;
  try {
    const text = await fetchText(url, { signal: opts.signal, timeoutMs: opts.timeoutMs ?? 120_000 });
    if (text === null) throw new FetchError(url, 'not found (HTTP 404)', 404);
    const document = parseAppCatalog(text);
    await writeFileAtomically(copy, text).catch((err) => opts.onNotice?.(`could not keep a copy of the app catalog in ${copy} (${messageOf(err)}): the next build will need the network`));
    return catalogOf(url, document, false);
  } catch (err) {
    if (err instanceof AbortedError) throw err;
    reason = err instanceof FetchError ? err.reason : messageOf(err);
  }
  let kept: { text: string; when: Date };
  try {
    const [text, st] = await Promise.all([readFile(copy, 'utf8'), stat(copy)]);
    kept = { text, when: st.mtime };
  } catch {
    throw new AppCatalogError(url, reason);
  }
  let document: AppCatalogDocument;
  try {
    document = parseAppCatalog(kept.text);
  } catch (err) {
    throw new AppCatalogError(url, `${reason}; the copy kept in ${copy} is unreadable: ${messageOf(err)}`);
  }
  opts.onNotice?.(`the YunoHost app catalog ${url} cannot be read (${reason}): using the copy kept on ${minute(kept.when)}`);
  return catalogOf(url, document, true);
}

/**
 * The catalog the image carries as /var/cache/yunohost/repo/default.json: the document as read,
 * with only these apps (as the catalog gives them, in this order), and the API version YunoHost
 * stamps on its cache file. An id the catalog lacks is a programming error (resolve first).
 */
export function catalogForImage(catalog: AppCatalog, ids: readonly string[]): string {
  const apps: Record<string, unknown> = {};
  for (const id of ids) {
    if (!Object.hasOwn(catalog.document.apps, id)) throw new Error(`catalogForImage: app "${id}" is not in the catalog ${catalog.url}`);
    apps[id] = catalog.document.apps[id];
  }
  return `${JSON.stringify({ ...catalog.document, apps, from_api_version: APP_CATALOG_API_VERSION })}\n`;
}
