/**
 * clic-image library API. The CLI is a thin layer over these functions.
 *
 *   const registry = await loadRegistry();
 *   const { image, file } = await loadRecipe('clic-rpi4', registry);
 *   const plan = resolvePlan(image, file, registry, { outDir: 'out', sourceDateEpoch: 1700000000 });
 *   await buildImage(plan, { events });
 */
export * from './recipe/define.ts';
export { loadRegistry, PROJECT_ROOT, type Registry } from './recipe/registry.ts';
export { loadRecipe, type LoadedRecipe } from './recipe/load.ts';
export { labSchema } from './recipe/schema.ts';
export { resolvePlan, withSourceDate, type Plan, type BuildOptions } from './recipe/plan.ts';
export { StepCache, type CacheEntry } from './cache/store.ts';
export { checkFolders, FolderError } from './build-folders.ts';
export { findLeftovers, removeLeftovers, type Leftover } from './cache/lease.ts';
export { describeType } from './recipe/vars.ts';
export { buildImage, defaultCacheDir, stepCacheOf, type BuildResult, type BuildRuntime } from './build.ts';
export { BuildEvents, type BuildEvent } from './events.ts';
export { RecipeError, StepError, HostToolError, CommandError, AbortedError } from './errors.ts';
export { hostToolsFor, missingHostTools, installHostTools } from './steps/host-tools.ts';
export { readPackageList, pinDifferences } from './steps/packages.ts';
