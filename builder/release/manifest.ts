/**
 * The build manifest (`<image>.manifest.json`): what an image is made of, enough to check it and
 * to rebuild it — image and board, a hash of the recipe as resolved (layers, variables, overlay
 * contents, package names), builder version, build date (SOURCE_DATE_EPOCH), every installed
 * package with its version, every downloaded file with its URL and sha256, the partition table,
 * and each output file with its size and sha256. Same build, same manifest, byte for byte.
 *
 *   const manifest = await buildManifest(plan, { packages, partitions, outputs });
 *   manifest.recipe.sha256; // 9c1e…
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, hashTree } from '../cache/keys.ts';
import { createHash } from 'node:crypto';
import type { Plan } from '../recipe/plan.ts';
import { PROJECT_ROOT } from '../recipe/registry.ts';

export const MANIFEST_FORMAT = 1;

export interface ManifestPartition {
  label: string;
  fs: string;
  mountpoint: string;
  /** Byte offset and size on the disk. */
  start: number;
  size: number;
  type: string;
  fsId: string;
}

export interface ManifestOutput {
  file: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  format: number;
  image: string;
  description: string;
  board: { name: string; arch: string; description: string; imagerDevices: string[] };
  suite: string;
  recipe: { file: string; sha256: string };
  builder: { name: string; version: string };
  date: string;
  sourceDateEpoch: number;
  layers: { name: string; vars: unknown }[];
  packages: string[];
  downloads: { file: string; dir: string; url: string; sha256: string; size: number | null }[];
  partitionTable: { label: string; id: string; partitions: ManifestPartition[] };
  outputs: ManifestOutput[];
}

/** sha256 of the recipe as resolved: what the image is made from, not where the files are. */
export async function recipeHash(plan: Plan): Promise<string> {
  const layers = await Promise.all(
    plan.layers.map(async (l) => ({ name: l.name, packages: l.packages, commands: l.commands, vars: l.vars, overlay: l.overlay ? await hashTree(l.overlay) : null, generates: l.generates })),
  );
  const inputs = { image: plan.image, board: plan.board, suite: plan.suite, components: plan.components, packages: plan.packages, layers, content: plan.content?.sets ?? null };
  return createHash('sha256').update(canonicalJson(inputs)).digest('hex');
}

async function builderVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export async function buildManifest(
  plan: Plan,
  built: { packages: string[]; sourceDateEpoch: number; partitions: Omit<ManifestPartition, 'fs' | 'mountpoint' | 'fsId'>[]; outputs: ManifestOutput[] },
): Promise<Manifest> {
  return {
    format: MANIFEST_FORMAT,
    image: plan.image,
    description: plan.description,
    board: { name: plan.board.name, arch: plan.board.arch, description: plan.board.description, imagerDevices: [...(plan.board.imagerDevices ?? [])] },
    suite: plan.suite,
    recipe: { file: plan.recipeFile.startsWith(PROJECT_ROOT + '/') ? plan.recipeFile.slice(PROJECT_ROOT.length + 1) : plan.recipeFile.split('/').pop()!, sha256: await recipeHash(plan) },
    builder: { name: 'clic-image', version: await builderVersion() },
    date: new Date(built.sourceDateEpoch * 1000).toISOString(),
    sourceDateEpoch: built.sourceDateEpoch,
    layers: plan.layers.map((l) => ({ name: l.name, vars: l.vars })),
    packages: built.packages,
    downloads: (plan.content?.resolved ?? []).map((z) => ({ file: z.file, dir: z.dir, url: z.urls[0], sha256: z.sha256, size: z.size })),
    partitionTable: {
      label: plan.board.partitionTable,
      id: plan.diskId,
      partitions: built.partitions.map((p, i) => ({ ...p, fs: plan.partitions[i].fs, mountpoint: plan.partitions[i].mountpoint, fsId: plan.partitions[i].fsId })),
    },
    outputs: built.outputs,
  };
}

/** SHA256SUMS text: the lines of `previous` for other files, then ours, sorted by file name. */
export function mergeSums(previous: string, ours: { file: string; sha256: string }[]): string {
  const mine = new Set(ours.map((o) => o.file));
  const kept = previous
    .split('\n')
    .map((line) => /^([0-9a-f]{64}) [ *](.+)$/.exec(line))
    .filter((m): m is RegExpExecArray => !!m && !mine.has(m[2]))
    .map((m) => ({ file: m[2], sha256: m[1] }));
  return [...kept, ...ours]
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    .map((o) => `${o.sha256}  ${o.file}`)
    .join('\n') + '\n';
}
