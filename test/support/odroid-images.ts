/**
 * Odroid images for the tests, built from the real board definitions with one change: their
 * bootloader blobs (pinned to Hardkernel's or Armbian's servers, unreachable here) are replaced
 * by stand-in blobs the test makes — deterministic bytes of a plausible size, served on the
 * loopback and pinned by their own sha256 — so the downloader, the step cache and the disk
 * step's raw regions run as they do for the real blobs. The images carry the layers a booting
 * kit needs (base, firstboot), not the whole CLIC set, which the PC and Pi images test. Built
 * once per source tree into the shared images' folder, through the library (the CLI cannot
 * swap a board's blobs) as `build --all` does: boards of different architectures side by side.
 *
 * Debian sources: the host's, without the security suite, whose armhf index on this machine's
 * mirror is out of step with its signed Release file (apt refuses it, and the build with it).
 *
 *   const images = await ensureOdroidImages(['odroid-c4', 'odroid-xu4']);
 *   images.get('odroid-c4'); // → test/.artifacts/<stamp>/standin-odroid-c4.img
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRegistry, type Registry } from '../../builder/recipe/registry.ts';
import { writeFileAtomically } from '../../builder/files.ts';
import type { BlobSource, BoardDef, ImageDef } from '../../builder/recipe/define.ts';
import { resolvePlan, type Plan } from '../../builder/recipe/plan.ts';
import { buildImage, type BuildResult, type BuildRuntime } from '../../builder/build.ts';
import { buildSet } from '../../builder/build-set.ts';
import { BuildEvents } from '../../builder/events.ts';
import { ensureImages, pruneTestCache, TEST_CACHE } from './images.ts';
import { serveDir } from './static-server.ts';

export const ODROID_BOARDS = ['odroid-c4', 'odroid-n2', 'odroid-hc4', 'odroid-xu4'];
export const standInImageName = (board: string) => `standin-${board}`;

/** Stand-in sizes, by region name: about the real files' (the XU4's u-boot must end before
 *  tzsw at sector 1503); Amlogic's u-boot and anything else: 600 KiB. */
const STAND_IN_SIZES: Record<string, number> = { bl1: 15 * 1024, bl2: 14 * 1024, tzsw: 256 * 1024 };

/** `size` bytes that depend only on `seed`: the same stand-in, hence the same cache keys, on every run. */
export function standInBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0, block = 0; i < size; block++) {
    const chunk = createHash('sha256').update(`${seed}:${block}`).digest();
    i += chunk.copy(out, i);
  }
  return out;
}

/** Each distinct blob source of the board (by URL) → its stand-in: file name and bytes. */
export function standInBlobs(board: BoardDef): Map<string, { file: string; bytes: Buffer }> {
  const out = new Map<string, { file: string; bytes: Buffer }>();
  for (const r of board.rawRegions ?? []) {
    if (out.has(r.source.url)) continue;
    const file = `${board.name}-${r.name}.bin`;
    out.set(r.source.url, { file, bytes: standInBytes(file, STAND_IN_SIZES[r.name] ?? 600 * 1024) });
  }
  return out;
}

/** The board with its blob sources replaced by the stand-ins, served at baseUrl. */
export function withStandInBlobs(board: BoardDef, baseUrl: string): BoardDef {
  const blobs = standInBlobs(board);
  const source = (real: BlobSource): BlobSource => {
    const { file, bytes } = blobs.get(real.url)!;
    return { url: `${baseUrl}/${file}`, sha256: createHash('sha256').update(bytes).digest('hex'), ...(real.licence ? { licence: real.licence } : {}) };
  };
  return { ...board, rawRegions: board.rawRegions?.map((r) => ({ ...r, source: source(r.source) })) };
}

export function standInImage(board: string): ImageDef {
  return { name: standInImageName(board), description: `test: ${board} with stand-in bootloader blobs`, board, layers: ['base', 'firstboot'], compress: [], release: false };
}

/** The host's deb822 Debian sources minus the security suite, with the board's components, in
 *  a file of fixed path (the mirror argument is part of the step cache's keys). */
async function hostSourcesWithoutSecurity(board: BoardDef): Promise<string> {
  const host = await readFile('/etc/apt/sources.list.d/debian.sources', 'utf8');
  const stanzas = host.split(/\n\s*\n/).filter((s) => /^Types:.*\bdeb\b/m.test(s) && !/^Suites:.*-security/m.test(s));
  if (!stanzas.length) throw new Error('/etc/apt/sources.list.d/debian.sources: no Debian source outside the security suite');
  // named after what is in it, not the board: boards with the same sources share a bootstrap
  const components = ['main', ...board.components];
  // apt skips sources files whose names hold other characters than letters, digits, _ - .
  const file = join(TEST_CACHE, 'standin-sources', `debian-${components.join('_')}.sources`);
  // atomically: the other chain of the shared setup may be reading it
  await writeFileAtomically(file, stanzas.map((s) => s.trim().replace(/^Components:.*$/m, `Components: ${components.join(' ')}`)).join('\n\n') + '\n');
  return file;
}

/** buildImage, with the build's events logged beside the image and its time kept. */
async function buildLogged(plan: Plan, runtime: BuildRuntime = {}): Promise<BuildResult> {
  const logFile = join(plan.output.dir, `${plan.image}.build.log`);
  const log = createWriteStream(logFile);
  const events = new BuildEvents();
  events.on((e) => log.write(JSON.stringify(e) + '\n'));
  process.stderr.write(`[test setup] building ${plan.image} (log: ${logFile})\n`);
  try {
    const result = await buildImage(plan, { ...runtime, events });
    await writeFile(join(plan.output.dir, `${plan.image}.build-ms`), String(result.ms));
    return result;
  } finally {
    await new Promise((done) => log.end(done));
  }
}

/** Builds the missing stand-in images of these boards (arm64 ones one after the other, beside
 *  the armhf one) and returns board → image path. */
export async function ensureOdroidImages(boards: readonly string[] = ODROID_BOARDS, opts: { prune?: boolean } = {}): Promise<Map<string, string>> {
  const dir = await ensureImages([], { prune: false });
  const img = (board: string) => join(dir, `${standInImageName(board)}.img`);
  const missing = [];
  for (const b of boards) if (!(await access(img(b)).then(() => true, () => false))) missing.push(b);
  if (missing.length) {
    const real = await loadRegistry();
    const www = await mkdtemp(join(tmpdir(), 'clic-standin-blobs-'));
    const server = await serveDir(www);
    try {
      const boardsWithStandIns = new Map([...real.boards].map(([name, b]) => [name, withStandInBlobs(b, server.url)]));
      for (const b of real.boards.values()) for (const { file, bytes } of standInBlobs(b).values()) await writeFile(join(www, file), bytes);
      const registry: Registry = { ...real, boards: boardsWithStandIns };
      const plans = [];
      for (const b of missing) {
        const mirror = await hostSourcesWithoutSecurity(registry.boards.get(b)!);
        plans.push(resolvePlan(standInImage(b), 'test/support/odroid-images.ts', registry, { outDir: dir, mirror, sourceDateEpoch: null, compress: [] }));
      }
      // emulated builds are mostly single-threaded: one per architecture, two at a time
      const results = await buildSet(plans, { jobs: 2, runtimeFor: () => ({ cacheDir: TEST_CACHE }), build: buildLogged });
      for (const r of results) if (!r.ok) throw r.error;
    } finally {
      await server.close();
      await rm(www, { recursive: true, force: true });
    }
  }
  if (opts.prune !== false) await pruneTestCache();
  return new Map(boards.map((b) => [b, img(b)]));
}
