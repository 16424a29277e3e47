/**
 * The build manifest (`<image>.manifest.json`): what an image is made of, enough to check it and
 * to rebuild it — image and board, a hash of the recipe as resolved (layers, variables, overlay
 * contents, package names), builder version, build date (SOURCE_DATE_EPOCH), every installed
 * package with its version, every downloaded file with its URL and sha256, the partition table,
 * and each output file with its size and sha256. Same build, same manifest, byte for byte.
 * Apps' install answers are not in it (only their names): the manifest is published.
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
  /** Every package installed, from the exact set the build resolved. */
  packages: { name: string; version: string; arch: string }[];
  /** Files fetched from outside Debian's archive: ZIM files (`content/<dir>/<file>`), YunoHost
   *  app sources (`apps/<app>/<source>`), app packages (git revision, which is their checksum),
   *  the board's bootloader files (`bootloader/<raw region>`, with their licence when known, and
   *  the file's path in the package when the URL is a Debian package). */
  downloads: { what: string; url: string; sha256?: string; gitRevision?: string; member?: string; licence?: string; size: number | null }[];
  partitionTable: { label: string; id: string; partitions: ManifestPartition[] };
  outputs: ManifestOutput[];
}

/** A layer's variables as published: apps' install answers (admin passwords…) are left out,
 *  their names kept; the recipe hash covers them. */
function publishableVars(plan: Plan, layer: string, vars: Record<string, unknown>): Record<string, unknown> {
  if (layer !== plan.apps?.layer) return vars;
  const hidden = (request: unknown) =>
    typeof request === 'object' && request && 'args' in request ? { ...request, args: Object.keys((request as { args: object }).args).sort() } : request;
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, Array.isArray(v) ? v.map(hidden) : v]));
}

/** `name=version:arch` (the package list's form; the version may hold an epoch's colon). */
function parsePackage(spec: string): { name: string; version: string; arch: string } {
  const m = /^([^=]+)=(.+):([^:]+)$/.exec(spec);
  if (!m) throw new Error(`package "${spec}": expected name=version:arch`);
  return { name: m[1], version: m[2], arch: m[3] };
}

/** sha256 of the recipe as resolved: what the image is made from, not where the files are. */
export async function recipeHash(plan: Plan): Promise<string> {
  const layers = await Promise.all(
    plan.layers.map(async (l) => ({ name: l.name, packages: l.packages, commands: l.commands, vars: l.vars, overlay: l.overlay ? await hashTree(l.overlay) : null, generates: l.generates })),
  );
  const inputs = {
    image: plan.image, board: plan.board, suite: plan.suite, components: plan.components, packages: plan.packages, layers,
    content: plan.content?.sets ?? null, aptSources: plan.aptSources, debconf: plan.debconf, apps: plan.apps?.requests ?? null,
  };
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
    layers: plan.layers.map((l) => ({ name: l.name, vars: publishableVars(plan, l.name, l.vars) })),
    packages: built.packages.map(parsePackage),
    downloads: [
      ...(plan.content?.resolved ?? []).map((z) => ({ what: `content/${z.dir}/${z.file}`, url: z.urls[0], sha256: z.sha256, size: z.size })),
      ...(plan.apps?.resolved ?? []).flatMap((a) => [
        { what: `apps/${a.id}`, url: a.gitUrl, gitRevision: a.revision, size: null },
        ...a.sources.map((src) => ({ what: `apps/${a.id}/${src.id}`, url: src.url, sha256: src.sha256, size: null })),
      ]),
      ...plan.rawRegions.map((r) => ({
        what: `bootloader/${r.name}`, url: r.source.url, sha256: r.source.sha256, ...(r.source.member ? { member: r.source.member } : {}), ...(r.source.licence ? { licence: r.source.licence } : {}), size: null,
      })),
    ],
    partitionTable: {
      label: plan.board.partitionTable,
      id: plan.diskId,
      partitions: built.partitions.map((p, i) => ({ ...p, fs: plan.partitions[i].fs, mountpoint: plan.partitions[i].mountpoint, fsId: plan.partitions[i].fsId })),
    },
    outputs: built.outputs,
  };
}
