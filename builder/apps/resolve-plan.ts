/**
 * resolvePlanApps — turns the plan's app requests into exact apps (revision, sources for the
 * board's architecture, Debian packages, install answers) through the app catalog, before the
 * build starts and before `clic-image plan` prints. Needs the network (catalog, then each app's
 * package by git), or what an earlier resolution kept in the cache; the plan itself stays pure.
 * An app's bash snippet that picks Debian packages from its answers is run here
 * (apt-snippet.ts). Wrong requests (unknown app, missing answer, a failing snippet…) are
 * reported together, as a RecipeError on the recipe file.
 *
 *   const resolved = await resolvePlanApps(plan, { cacheDir });
 *   resolved.apps?.resolved; // [{ id: 'yeswiki', revision: '3f…', sources: [...], aptPackages: [...] }]
 */
import type { Plan } from '../recipe/plan.ts';
import { RecipeError } from '../errors.ts';
import { AppCatalogError, catalogForImage, loadAppCatalog } from './catalog.ts';
import { resolveApps, withPackageManifests } from './resolve.ts';
import { aptSnippetOf } from './manifest.ts';
import { aptSnippetPackages, withYunohostPhp } from './apt-snippet.ts';

export interface ResolvePlanAppsOptions {
  /** Cache root of the build (the catalog document is kept there). */
  cacheDir: string;
  signal?: AbortSignal;
  onNotice?: (message: string) => void;
}

/** The plan with its apps resolved (unchanged when it has none, or when already resolved). */
export async function resolvePlanApps(plan: Plan, opts: ResolvePlanAppsOptions): Promise<Plan> {
  if (!plan.apps || plan.apps.resolved) return plan;
  const where = `/vars/${plan.apps.layer}/apps`;
  if (!plan.apps.requests.length) return { ...plan, apps: { ...plan.apps, resolved: [], imageCatalog: null } };
  let catalog;
  try {
    catalog = await loadAppCatalog(plan.apps.catalog, opts);
    // the served catalog leaves out the install questions and resources: read them from each
    // requested app's package at its pinned revision (kept in the cache for the build)
    catalog = await withPackageManifests(catalog, plan.apps.requests, opts);
  } catch (err) {
    if (err instanceof AppCatalogError) throw new RecipeError(plan.recipeFile, [{ path: `/vars/${plan.apps.layer}/catalog`, message: err.message }]);
    throw err;
  }
  const { apps, problems } = resolveApps(plan.apps.requests, catalog, plan.board.arch);
  if (problems.length) {
    throw new RecipeError(plan.recipeFile, problems.map((p) => ({ path: `${where}/${p.index}${p.path}`, message: p.message })));
  }
  // the packages an app's bash snippet chooses from its answers, found as YunoHost will find them
  const snippetProblems: { path: string; message: string }[] = [];
  for (const [index, app] of apps.entries()) {
    const snippet = aptSnippetOf(catalog.packageManifests.get(app.id) ?? {});
    if (!snippet) continue;
    try {
      const chosen = await aptSnippetPackages(snippet, { app: app.id, arch: plan.board.arch, suite: plan.suite, answers: app.args, signal: opts.signal });
      app.aptPackages = [...new Set([...app.aptPackages, ...chosen])];
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      snippetProblems.push({ path: `${where}/${index}`, message: (err as Error).message });
    }
  }
  if (snippetProblems.length) throw new RecipeError(plan.recipeFile, snippetProblems);
  for (const app of apps) app.aptPackages = withYunohostPhp(app.aptPackages);
  return { ...plan, apps: { ...plan.apps, resolved: apps, imageCatalog: catalogForImage(catalog, apps.map((a) => a.id)) } };
}
