/**
 * catalog-errors — how a resolution of ZIM requests fails. A leaf module, so that catalog.ts
 * (which reports the problems) and catalog-load.ts (which finds some of them) share one
 * definition without importing each other.
 *
 *   try { await resolveZims(requests, opts); }
 *   catch (err) { if (err instanceof CatalogError) for (const p of err.problems) console.log(p.index, p.message); }
 *
 * No options. Bad requests are gathered into one CatalogError, so that a recipe is fixed in one
 * pass; a catalog that cannot be read and was never kept is a CatalogUnavailableError, since no
 * name can be looked up at all then.
 */

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

/** An expected problem with a request: its message is the whole story. */
export class Problem extends Error {}
