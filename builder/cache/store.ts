/**
 * StepCache — content-addressed store of step outputs, one folder per key under
 * `<cacheDir>/steps/<key>/` with a `meta.json` (step, image, parent key, size, dates).
 *
 * Writes are atomic: an entry is filled in `.tmp-<key>.<lease>/` and renamed into place when
 * complete, so a reader finds a whole entry or none. A build killed while writing leaves only a
 * temporary folder, which no lookup uses and which the next build sweeps once the build's lease
 * is free (see lease.ts).
 * Two builds writing the same key at once: the first rename wins, the other drops its copy.
 * Entries never change once written; a hit only refreshes the entry's "last used" time, which
 * `prune` goes by (least recently used first).
 *
 *   const cache = new StepCache(join(cacheDir, 'steps'), lease.id);
 *   const entry = await cache.get(key);                       // folder, or null
 *   await cache.put(key, { step, image, parent }, async (dir) => { … files into dir … });
 *   await cache.prune({ maxBytes: 20 * 2 ** 30 });
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface EntryInfo {
  step: string;
  image: string;
  parent: string | null;
}

export interface CacheEntry extends EntryInfo {
  key: string;
  dir: string;
  bytes: number;
  created: string;
  lastUsed: string;
}

export interface PruneOptions {
  /** Keep the most recently used entries whose total size fits. */
  maxBytes?: number;
  /** Remove entries not used for this long. */
  unusedForMs?: number;
  /** Remove every entry. */
  all?: boolean;
}

const META = 'meta.json';
export const TMP_PREFIX = '.tmp-';
const KEY = /^[0-9a-f]{64}$/;

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  }
  return total;
}

export class StepCache {
  /** owner: the lease id of the build that writes (it ends the names of its temporary folders). */
  constructor(readonly root: string, private readonly owner = `${process.pid}-${randomBytes(4).toString('hex')}`) {}

  private temporary(what: string): string {
    return join(this.root, `${TMP_PREFIX}${what}-${randomBytes(4).toString('hex')}.${this.owner}`);
  }

  /** The complete entry stored under key, or null; a hit counts as a use. */
  async get(key: string): Promise<CacheEntry | null> {
    const entry = await this.read(key);
    if (entry) {
      const now = new Date();
      await utimes(join(entry.dir, META), now, now).catch(() => {});
    }
    return entry;
  }

  /** Writes an entry: fill() puts its files into a private folder, which then becomes the entry.
   *  Returns false when another build stored the same key first (its entry is kept). */
  async put(key: string, info: EntryInfo, fill: (dir: string) => Promise<void>): Promise<boolean> {
    if (!KEY.test(key)) throw new Error(`invalid cache key "${key}"`);
    await mkdir(this.root, { recursive: true });
    const tmp = this.temporary(key.slice(0, 16));
    await mkdir(tmp);
    try {
      await fill(tmp);
      const meta = { key, ...info, bytes: await folderBytes(tmp), created: new Date().toISOString() };
      await writeFile(join(tmp, META), JSON.stringify(meta, null, 2) + '\n');
      await rename(tmp, join(this.root, key));
      return true;
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
      throw err;
    }
  }

  async list(): Promise<CacheEntry[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    const entries = await Promise.all(names.filter((n) => KEY.test(n)).map((n) => this.read(n)));
    return entries.filter((e): e is CacheEntry => !!e).sort((a, b) => a.lastUsed.localeCompare(b.lastUsed));
  }

  /** Removes entries, least recently used first (temporary folders are the leases' business). */
  async prune(opts: PruneOptions): Promise<CacheEntry[]> {
    const entries = await this.list();
    const now = Date.now();
    const removed: CacheEntry[] = [];
    let total = entries.reduce((n, e) => n + e.bytes, 0);
    for (const e of entries) {
      const tooOld = opts.unusedForMs !== undefined && now - Date.parse(e.lastUsed) > opts.unusedForMs;
      const tooBig = opts.maxBytes !== undefined && total > opts.maxBytes;
      if (!opts.all && !tooOld && !tooBig) continue;
      // renamed first: a build looking the key up from now on finds nothing rather than half an entry
      const trash = this.temporary(`trash-${e.key.slice(0, 16)}`);
      await rename(e.dir, trash).then(() => rm(trash, { recursive: true, force: true }), () => {});
      total -= e.bytes;
      removed.push(e);
    }
    return removed;
  }

  private async read(key: string): Promise<CacheEntry | null> {
    const dir = join(this.root, key);
    try {
      const metaFile = join(dir, META);
      const meta = JSON.parse(await readFile(metaFile, 'utf8')) as Omit<CacheEntry, 'dir' | 'lastUsed'>;
      const lastUsed = (await stat(metaFile)).mtime.toISOString();
      return { ...meta, key, dir, lastUsed };
    } catch {
      return null;
    }
  }
}
