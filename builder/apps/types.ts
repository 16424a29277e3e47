/**
 * YunoHost apps a lab asks for, before and after resolution against YunoHost's app catalog.
 *
 * A request names an app of the catalog (`yeswiki`), optionally with answers to its install
 * questions (`args`). Resolution (builder/apps/resolve.ts) turns it into everything the build
 * stages for an offline install: the package's pinned git revision, the sources for the board's
 * architecture with their sha256, the Debian packages, and the `--args` string.
 *
 *   apps: [yeswiki, { id: hedgedoc, args: { path: /pad } }]
 */

/** What a lab writes: an app id, or an id with answers to its install questions. */
export type AppRequest = string | { id: string; args?: Record<string, string | number | boolean> };

/** One file the app's manifest declares in `resources.sources`, for the board's architecture. */
export interface AppSource {
  /** The source's key in the manifest (`main`, …): YunoHost looks for it as
   *  /var/cache/yunohost/download/<app>/<id>. */
  id: string;
  url: string;
  /** Lower-case hex, checked by the downloader. */
  sha256: string;
  /** As the manifest says, when it says so (`tar.gz`, `zip`, `whatever`…). */
  format?: string;
  extract?: boolean;
  rename?: string;
}

export interface ResolvedApp {
  id: string;
  /** The manifest's `name` (`YesWiki`); the id when it has none. */
  name: string;
  /** The catalog's pinned commit of the package: 40 hex digits, which are its checksum. */
  revision: string;
  gitUrl: string;
  sources: AppSource[];
  /** Debian packages the app's `resources.apt` installs (names only, no version constraints). */
  aptPackages: string[];
  /** The answers given to `yunohost app install`: the manifest's defaults overlaid with the
   *  request's args, as strings (booleans as "1"/"0"). Questions YunoHost fills itself
   *  (domain, user, group without a default) are left out. */
  args: Record<string, string>;
  /** The same as YunoHost's `--args`: `k=v&k2=v2`, URL-encoded, keys sorted. */
  argsQuery: string;
}
