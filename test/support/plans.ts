/**
 * The plan of a shipped image, computed by the library as the build did, so tests compare the
 * image against what the code says it should contain (labels, ids), not against copied values.
 */
import { loadRecipe, loadRegistry, resolvePlan, type Plan } from '../../builder/index.ts';

export async function planOf(name: string, outDir = '/nonexistent'): Promise<Plan> {
  const registry = await loadRegistry();
  const { image, file } = await loadRecipe(name, registry);
  return resolvePlan(image, file, registry, { outDir, sourceDateEpoch: 0 });
}
