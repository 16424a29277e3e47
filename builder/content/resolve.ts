/**
 * resolveContent — turns the plan's content requests (ZIM names, URLs) into exact files: URL and
 * mirrors, size, sha256, through each content layer's kiwix catalog. Needs the network (or the
 * catalog document kept from an earlier resolution); the plan itself stays pure.
 *
 *   const resolved = await resolveContent(plan, { cacheDir });
 *   resolved.content?.resolved; // [{ name: 'wikipedia_fr_all_mini', size: 4.1e9, sha256: '…', … }]
 */
import { join } from 'node:path';
import type { Plan } from '../recipe/plan.ts';
import { RecipeError } from '../errors.ts';
import { CatalogError, resolveZims } from './catalog.ts';
import { formatBytes } from '../download/index.ts';

export interface ResolveContentOptions {
  /** Cache root of the build (the catalog document is kept in <cacheDir>/catalog). */
  cacheDir: string;
  signal?: AbortSignal;
  onNotice?: (message: string) => void;
}

/** Files a content partition must hold that no two layers may both claim. */
function duplicates(plan: Plan): string[] {
  const seen = new Map<string, string>();
  const found: string[] = [];
  for (const z of plan.content?.resolved ?? []) {
    const at = `${z.dir}/${z.file}`;
    if (seen.has(at)) found.push(`${at} (layers ${seen.get(at)} and ${z.layer})`);
    seen.set(at, z.layer);
  }
  return found;
}

/** The plan with its content resolved (unchanged when it has none, or when already resolved). */
export async function resolveContent(plan: Plan, opts: ResolveContentOptions): Promise<Plan> {
  if (!plan.content || plan.content.resolved) return plan;
  const resolved: NonNullable<NonNullable<Plan['content']>['resolved']> = [];
  for (const set of plan.content.sets) {
    if (!set.requests.length) continue;
    try {
      // the whole kiwix catalog is over 10 MB: give a slow link time to bring it
      const zims = await resolveZims(set.requests, { catalogUrl: set.catalog, cacheDir: join(opts.cacheDir, 'catalog'), signal: opts.signal, onNotice: opts.onNotice, timeoutMs: 120_000 });
      resolved.push(...zims.map((z) => ({ ...z, layer: set.layer, dir: set.dir })));
    } catch (err) {
      if (!(err instanceof CatalogError)) throw err;
      throw new RecipeError(
        plan.recipeFile,
        err.problems.map((p) => ({ path: `/vars/${set.layer}/zims/${p.index}`, message: p.message })),
      );
    }
  }
  const next: Plan = { ...plan, content: { ...plan.content, resolved } };
  const twice = duplicates(next);
  if (twice.length) throw new RecipeError(plan.recipeFile, twice.map((t) => ({ path: '/vars', message: `the same ZIM file is listed twice: ${t}` })));
  const total = resolved.reduce((n, z) => n + (z.size ?? 0), 0);
  next.steps = plan.steps.map((s) =>
    s.name === 'content' ? { ...s, description: `${resolved.length} ZIM file${resolved.length === 1 ? '' : 's'}, ${formatBytes(total)}: download and verify, ${plan.content!.partition.label} partition (cached)` } : s,
  );
  return next;
}
