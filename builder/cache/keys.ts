/**
 * Cache keys: the sha256 of everything a step's output depends on, chained to its parent's key,
 * so a change anywhere invalidates that step and every later one, and nothing else.
 *
 *   const key = cacheKey(parentKey, 'layer:portal', { overlay: await hashTree(dir), commands });
 *
 * Inputs are hashed as canonical JSON (object keys sorted), so the order in which a step lists
 * its inputs does not matter. Folders are hashed by content (relative paths, types, modes,
 * link targets, bytes), never by where they are, so two checkouts of the project share entries.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Bump when what a cached step writes changes meaning (snapshot layout, step semantics). */
export const CACHE_FORMAT = 1;

export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return { bytes: createHash('sha256').update(v).digest('hex') };
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

export function cacheKey(parent: string | null, step: string, inputs: unknown): string {
  return createHash('sha256').update(canonicalJson({ format: CACHE_FORMAT, parent, step, inputs })).digest('hex');
}

/** Content hash of a folder: every entry's relative path, type, permission bits, link target
 *  and file bytes, in sorted order. Owners and times are not part of it (the layer step gives
 *  files to root and dates them itself). */
export async function hashTree(dir: string): Promise<string> {
  const hash = createHash('sha256');
  async function walk(rel: string): Promise<void> {
    const names = (await readdir(join(dir, rel))).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const full = join(dir, path);
      const st = await lstat(full);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) hash.update(`l\0${path}\0${await readlink(full)}\0`);
      else if (st.isDirectory()) {
        hash.update(`d\0${path}\0${mode}\0`);
        await walk(path);
      } else if (st.isFile()) {
        hash.update(`f\0${path}\0${mode}\0${st.size}\0`).update(await readFile(full)).update('\0');
      } else hash.update(`o\0${path}\0${mode}\0`);
    }
  }
  await walk('');
  return hash.digest('hex');
}
