/**
 * Images shared by the integration and boot tiers: each is built once per state of the source
 * tree (builder/, recipes/, overlays/, package-lock.json) into test/.artifacts/<stamp>/, by the
 * real CLI, as root. Builds of older stamps are removed to bound disk use.
 *
 *   const dir = await ensureImages(['clic-pc-x86_64']);   // → test/.artifacts/3f2a…/
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { access, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { PROJECT_ROOT } from '../../builder/recipe/registry.ts';
import { StepCache } from '../../builder/cache/store.ts';

export const ARTIFACTS = join(PROJECT_ROOT, 'test/.artifacts');
/** Cache directory (step cache, apt archives) of the images the tiers share; kept between runs
 *  (its entries are keyed by content) and bounded after each setup. */
export const TEST_CACHE = join(PROJECT_ROOT, 'test/.cache');
const TEST_CACHE_MAX_BYTES = 20 * 2 ** 30;
export const CLI = join(PROJECT_ROOT, 'bin/clic-image.js');
const SOURCES = ['builder', 'recipes', 'overlays', 'package-lock.json'];

async function listFiles(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => null);
  if (!entries) return [path];
  const nested = await Promise.all(entries.map((e) => listFiles(join(path, e.name))));
  return nested.flat();
}

export async function sourceStamp(): Promise<string> {
  const hash = createHash('sha256');
  const files = (await Promise.all(SOURCES.map((s) => listFiles(join(PROJECT_ROOT, s))))).flat().sort();
  for (const f of files) hash.update(relative(PROJECT_ROOT, f)).update('\0').update(await readFile(f)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

export interface BuildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: Record<string, unknown>[];
  stderr: string;
}

/** Runs `clic-image build --json`; onEvent may send a signal to the child, for interruption tests. */
export function runBuild(
  recipe: string,
  outDir: string,
  opts: { log?: string; onEvent?: (e: Record<string, unknown>, child: ReturnType<typeof spawn>) => void; cacheDir?: string; noCache?: boolean; cli?: string; extraArgs?: string[] } = {},
): Promise<BuildRun> {
  return new Promise((resolve, reject) => {
    // compressed copies only when a test asks for them: xz takes minutes
    const extraArgs = opts.extraArgs ?? [];
    const compress = extraArgs.includes('--compress') ? [] : ['--compress', 'none'];
    const args = [opts.cli ?? CLI, 'build', recipe, '--out', outDir, '--json', ...(opts.cacheDir ? ['--cache-dir', opts.cacheDir] : []), ...(opts.noCache ? ['--no-cache'] : []), ...compress, ...extraArgs];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // the output folder may not exist yet (the build makes it): the log goes there from the start
    if (opts.log) mkdirSync(dirname(opts.log), { recursive: true });
    const log = opts.log ? createWriteStream(opts.log) : null;
    const events: Record<string, unknown>[] = [];
    let stderr = '';
    let buffer = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      log?.write(chunk);
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        const event = JSON.parse(line) as Record<string, unknown>;
        events.push(event);
        opts.onEvent?.(event, child);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      log?.write(c);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      log?.end();
      resolve({ code, signal, events, stderr });
    });
  });
}

/** The shared image that also gets its compressed copies, as a release does (the release tests
 *  use them; the others go without: xz takes minutes). ensureImages builds it uncompressed like
 *  the others, and ensureCompressed builds it again from the step cache with its copies: the
 *  test setup runs that second build where the machine has a core to spare. */
export const COMPRESSED_IMAGE = 'clic-rpi4';
export const RELEASE_COMPRESSION = ['--compress', 'xz,zst'];

export async function imagesDir(): Promise<string> {
  return join(ARTIFACTS, await sourceStamp());
}

/** Bounds the test cache (least recently used steps first); not while a build runs beside. */
export async function pruneTestCache(): Promise<void> {
  await new StepCache(join(TEST_CACHE, 'steps')).prune({ maxBytes: TEST_CACHE_MAX_BYTES });
}

/** Builds the missing shared images, one after the other; `prune: false` when other builds run
 *  beside (the caller prunes once they are done). */
export async function ensureImages(names: string[], opts: { prune?: boolean } = {}): Promise<string> {
  const stamp = await sourceStamp();
  const dir = join(ARTIFACTS, stamp);
  await mkdir(dir, { recursive: true });
  for (const old of await readdir(ARTIFACTS)) if (old !== stamp) await rm(join(ARTIFACTS, old), { recursive: true, force: true });
  for (const name of names) {
    const img = join(dir, `${name}.img`);
    if (await access(img).then(() => true, () => false)) continue;
    const started = Date.now();
    process.stderr.write(`[test setup] building ${name} (log: ${join(dir, `${name}.build.log`)})\n`);
    const run = await runBuild(name, dir, { log: join(dir, `${name}.build.log`), cacheDir: TEST_CACHE });
    if (run.code !== 0) throw new Error(`building ${name} failed (exit ${run.code}):\n${run.stderr.slice(-3000)}`);
    await writeFile(join(dir, `${name}.build-ms`), String(Date.now() - started));
  }
  if (opts.prune !== false) await pruneTestCache();
  return dir;
}

/** The shared image's compressed copies (and the manifest that lists them): the image is built
 *  again, every step replayed from the step cache (the same bytes: builds are reproducible), with
 *  RELEASE_COMPRESSION. Needs the image built first (ensureImages). */
export async function ensureCompressed(name = COMPRESSED_IMAGE): Promise<void> {
  const dir = await imagesDir();
  if (await access(join(dir, `${name}.img.xz`)).then(() => true, () => false)) return;
  const started = Date.now();
  process.stderr.write(`[test setup] compressing ${name} (log: ${join(dir, `${name}.compress.log`)})\n`);
  const run = await runBuild(name, dir, { log: join(dir, `${name}.compress.log`), cacheDir: TEST_CACHE, extraArgs: RELEASE_COMPRESSION });
  if (run.code !== 0) throw new Error(`building ${name} with its compressed copies failed (exit ${run.code}):\n${run.stderr.slice(-3000)}`);
  await writeFile(join(dir, `${name}.compress-ms`), String(Date.now() - started));
}
