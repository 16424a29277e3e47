/**
 * The registry: every board, layer and image recipe of the project, loaded from
 * `recipes/{boards,layers,images}/*.ts`, plus which layers have an overlay folder.
 *
 *   const registry = await loadRegistry();
 *   registry.images.get('clic-rpi4');
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BoardDef, ImageDef, LayerDef } from './define.ts';

export interface Registry {
  root: string;
  boards: Map<string, BoardDef>;
  layers: Map<string, LayerDef>;
  images: Map<string, ImageDef>;
  /** Layer name → absolute overlay folder, for layers that have one. */
  overlays: Map<string, string>;
}

export const PROJECT_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

async function loadKind<T extends { name: string }>(dir: string): Promise<Map<string, T>> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.ts')).sort();
  const out = new Map<string, T>();
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { default?: T };
    if (!mod.default?.name) throw new Error(`${join(dir, f)}: no default export with a name`);
    if (out.has(mod.default.name)) throw new Error(`${join(dir, f)}: duplicate recipe name "${mod.default.name}"`);
    out.set(mod.default.name, mod.default);
  }
  return out;
}

export async function loadRegistry(root = PROJECT_ROOT): Promise<Registry> {
  const [boards, layers, images] = await Promise.all([
    loadKind<BoardDef>(join(root, 'recipes/boards')),
    loadKind<LayerDef>(join(root, 'recipes/layers')),
    loadKind<ImageDef>(join(root, 'recipes/images')),
  ]);
  const overlays = new Map<string, string>();
  for (const name of layers.keys()) {
    const dir = join(root, 'overlays', name);
    if (await stat(dir).then((s) => s.isDirectory(), () => false)) overlays.set(name, dir);
  }
  return { root, boards, layers, images, overlays };
}
