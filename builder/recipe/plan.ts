/**
 * resolvePlan: image recipe + registry + build options → the complete, printable build plan.
 * Pure: no file system, no clock, no network. Checks what TypeScript cannot (names that exist,
 * layer order, variable values) and throws a RecipeError listing every problem at once.
 *
 *   const plan = resolvePlan(image, 'recipes/images/clic-rpi4.ts', registry, { outDir: 'out' });
 *   plan.steps.map((s) => s.name); // ['host-tools', 'bootstrap', 'layer:base', …, 'checksum']
 */
import { createHash } from 'node:crypto';
import { Ajv } from 'ajv';
import { COMPRESSIONS, type AptSource, type BlobSource, type BoardDef, type Compression, type ImageDef, type LayerDef, type PartitionDef, type ServiceDef, type VarSpec, type VarValues } from './define.ts';
import type { Registry } from './registry.ts';
import { SUMS } from '../release/sums.ts';
import { RecipeError, type RecipeProblem } from '../errors.ts';
import { bootloaderProblems } from '../bootloaders/index.ts';
import { closeMatches, IMAGE_NAME_PATTERN } from './schema.ts';
import { rawRegionProblems } from './raw-regions.ts';
import { defaultsOf, envName, envValue, HOST_SIDE_TYPES, varSchema } from './vars.ts';
import type { ResolvedZim, ZimRequest } from '../content/types.ts';
import type { AppRequest, ResolvedApp } from '../apps/types.ts';

export interface BuildOptions {
  /** Where the .img and its checksum are written. */
  outDir: string;
  /** Debian mirror URL for bootstrap; mmdebstrap's default when unset. */
  mirror?: string;
  /** Timestamp used for every file date in the image (SOURCE_DATE_EPOCH); null: the date of the
   *  suite's Release file, found when the packages are resolved (see withSourceDate). */
  sourceDateEpoch: number | null;
  /** Compressed copies to write, instead of the recipe's choice (empty: none). */
  compress?: readonly Compression[];
}

export interface PlannedLayer {
  name: string;
  description: string;
  packages: string[];
  /** Absolute overlay folder, or null when the layer has none. */
  overlay: string | null;
  commands: string[];
  vars: VarValues;
  /** Environment given to the layer's commands: image-wide CLIC_* values, then its variables. */
  env: Record<string, string>;
  /** Whether the layer generates files from the plan (LayerDef.generate; see layerGenerator). */
  generates: boolean;
}

// The plan stays plain data (printable, cloneable): generators are kept beside it.
const generators = new WeakMap<PlannedLayer, NonNullable<LayerDef['generate']>>();

/** The file generator of a planned layer, as resolvePlan found it in the registry. */
export function layerGenerator(layer: PlannedLayer): LayerDef['generate'] {
  const generate = generators.get(layer);
  if (layer.generates && !generate) throw new Error(`layer "${layer.name}" generates files, but this plan was not made by resolvePlan in this process`);
  return generate;
}

export interface PlannedPartition extends PartitionDef {
  /** Filesystem UUID (ext4) or volume id (vfat, 8 hex digits), derived from the recipe. */
  fsId: string;
  /** The content partition is made from the downloaded content (content step), not from the root tree. */
  content?: boolean;
}

/** The content partition: last on the disk, so first boot grows it to the card. */
export const CONTENT_PARTITION = { label: 'CLICDATA', mountpoint: '/srv/clic-data' } as const;

export interface ContentSet {
  layer: string;
  /** Folder of the content partition the files go to (e.g. `kiwix`). */
  dir: string;
  /** kiwix OPDS catalog (v2 root) where names are looked up. */
  catalog: string;
  requests: ZimRequest[];
}

export interface PlannedContent {
  partition: PlannedPartition;
  sets: ContentSet[];
  /** Every file, resolved (URL, size, sha256), in set order; null until resolveContent has run. */
  resolved: (ResolvedZim & { layer: string; dir: string })[] | null;
}

/** An extra apt repository (a layer's variable of type apt-source), named for its files in the image. */
export interface PlannedAptSource extends AptSource {
  /** `<layer>` for the variable `repository`, `<layer>-<variable>` otherwise. */
  name: string;
  layer: string;
  variable: string;
}

export interface PlannedApps {
  layer: string;
  /** YunoHost app catalog (v3 JSON) where ids are looked up. */
  catalog: string;
  requests: AppRequest[];
  /** Each app resolved against the catalog (revision, sources, Debian packages, install args);
   *  null until resolveApps has run. */
  resolved: ResolvedApp[] | null;
  /** The catalog document the image carries for YunoHost (only these apps); null until resolved. */
  imageCatalog: string | null;
}

/** A board's raw region (RawRegion) with its defaults filled in, for the bootloader-blobs and
 *  disk steps and the manifest. */
export interface PlannedRawRegion {
  name: string;
  /** sha256 in lower case. */
  source: BlobSource;
  /** Byte offset on the disk. */
  offset: number;
  /** Bytes of the file skipped first. */
  skip: number;
  /** Bytes written; null: the rest of the file after skip (known once it is fetched). */
  count: number | null;
}

export interface PlanStep {
  name: string;
  description: string;
}

export interface Plan {
  image: string;
  description: string;
  recipeFile: string;
  board: BoardDef;
  suite: string;
  mirror: string | null;
  components: string[];
  /** Every package the image installs, sorted: board's then layers', without those a layer
   *  replaces (LayerDef.replacesPackages). */
  packages: string[];
  /** Those of them that come from the layers' own apt repositories, installed in a second apt
   *  run once the Debian system is configured (see LayerDef.packages). */
  repositoryPackages: string[];
  /** Debian suites beside `suite`, from the same mirror (`bookworm-backports`), sorted. */
  extraSuites: string[];
  layers: PlannedLayer[];
  /** Every service the image's layers offer, in layer order. */
  services: (ServiceDef & { layer: string })[];
  partitions: PlannedPartition[];
  /** Extra apt repositories, in layer order. */
  aptSources: PlannedAptSource[];
  /** What the layers' packages made that each device makes for itself (LayerDef.deviceSecrets),
   *  removed by finalize. */
  deviceSecrets: string[];
  /** debconf answers of the layers, in layer order (debconf-set-selections lines). */
  debconf: string[];
  /** YunoHost apps staged in the image; null when no layer stages apps. */
  apps: PlannedApps | null;
  /** Offline content (ZIM files) and its partition; null when no layer carries content. */
  content: PlannedContent | null;
  /** Free space left on the root file system when it is sized from its content: 256 MiB and
   *  what the layers ask for (LayerDef.rootFreeMiB). */
  rootFreeMiB: number;
  /** Bootloader bytes written outside the partitions, from the board (BoardDef.rawRegions), in
   *  board order; empty for most boards. */
  rawRegions: PlannedRawRegion[];
  /** MBR disk signature (dos) or disk GUID (gpt), derived from the recipe. */
  diskId: string;
  /** SOURCE_DATE_EPOCH of the build; null until the package set is resolved, when not given. */
  sourceDateEpoch: number | null;
  /** Output file names, in `dir`. */
  output: {
    dir: string;
    img: string;
    sha256: string;
    packages: string;
    /** Compressed copies of the image, in the order they are made. */
    compressed: { format: Compression; file: string }[];
    /** Block map for bmaptool (copies only the blocks that hold data). */
    bmap: string;
    /** What the image is made of: board, recipe hash, packages, downloads, partitions, outputs. */
    manifest: string;
    /** sha256 of every output, `sha256sum -c` format; shared by the images built in `dir`. */
    sums: string;
  };
  steps: PlanStep[];
}

function derivedHex(seed: string, what: string, length: number): string {
  return createHash('sha256').update(`${seed}\0${what}`).digest('hex').slice(0, length);
}

function derivedUuid(seed: string, what: string): string {
  const h = derivedHex(seed, what, 32).split('');
  h[12] = '4'; // RFC 4122 version 4 layout (random-looking, derived deterministically)
  h[16] = ['8', '9', 'a', 'b'][parseInt(h[16], 16) % 4];
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

export function resolvePlan(image: ImageDef, recipeFile: string, registry: Registry, options: BuildOptions): Plan {
  const problems: RecipeProblem[] = [];
  if (!new RegExp(IMAGE_NAME_PATTERN).test(image.name)) {
    problems.push({ path: '/name', message: `"${image.name}" is not a valid image name — expected lower-case letters, digits, dashes and underscores` });
  }
  const board = registry.boards.get(image.board);
  if (!board) {
    const close = closeMatches(image.board, registry.boards.keys());
    problems.push({
      path: '/board',
      message: `unknown board "${image.board}" — ` + (close.length ? `did you mean ${close.join(' or ')}?` : `boards: ${[...registry.boards.keys()].join(', ')}`),
    });
  }
  const ajv = new Ajv({ allErrors: true, strict: true });
  const layers: PlannedLayer[] = [];
  const seen = new Set<string>();
  image.layers.forEach((name, i) => {
    const layer = registry.layers.get(name);
    if (!layer) {
      const close = closeMatches(name, registry.layers.keys());
      problems.push({ path: `/layers/${i}`, message: `unknown layer "${name}"` + (close.length ? ` — did you mean ${close.join(' or ')}?` : '') });
      return;
    }
    for (const req of layer.requires ?? []) {
      if (!seen.has(req)) problems.push({ path: `/layers/${i}`, message: `layer "${name}" requires layer "${req}" earlier in the list` });
    }
    if (layer.content) {
      for (const [key, type] of [[layer.content.zimsVar, 'zims'], [layer.content.catalogVar, 'string']]) {
        if (layer.vars?.[key]?.type !== type) problems.push({ path: `/layers/${i}`, message: `layer "${name}" declares content with variable "${key}", which it must declare with type ${type}` });
      }
    }
    if (layer.apps) {
      for (const [key, type] of [[layer.apps.appsVar, 'apps'], [layer.apps.catalogVar, 'string']]) {
        if (layer.vars?.[key]?.type !== type) problems.push({ path: `/layers/${i}`, message: `layer "${name}" declares apps with variable "${key}", which it must declare with type ${type}` });
      }
    }
    for (const secret of layer.deviceSecrets ?? []) {
      if (!secret.startsWith('/') || secret.split('/').includes('..') || /\s/.test(secret)) {
        problems.push({ path: `/layers/${i}`, message: `layer "${name}" names the device secret "${secret}": expected an absolute path inside the image, without spaces or ".."` });
      }
    }
    if (seen.has(name)) problems.push({ path: `/layers/${i}`, message: `layer "${name}" is listed twice` });
    seen.add(name);
    const values: VarValues = { ...defaultsOf(layer.vars), ...(image.vars?.[name] ?? {}) };
    for (const [key, value] of Object.entries(image.vars?.[name] ?? {})) {
      const spec = layer.vars?.[key];
      if (!spec) {
        const close = closeMatches(key, Object.keys(layer.vars ?? {}));
        problems.push({ path: `/vars/${name}/${key}`, message: `layer "${name}" has no variable "${key}"` + (close.length ? ` — did you mean ${close.join(' or ')}?` : '') });
        continue;
      }
      const validate = ajv.compile(varSchema(spec));
      if (!validate(value)) {
        problems.push({ path: `/vars/${name}/${key}`, message: `${JSON.stringify(value)}: ${validate.errors?.[0]?.message ?? 'invalid'} (${spec.description})` });
      }
    }
    const planned: PlannedLayer = {
      name,
      description: layer.description,
      packages: [...(layer.packages ?? [])],
      overlay: registry.overlays.get(name) ?? null,
      commands: [...(layer.commands ?? [])],
      vars: values,
      env: Object.fromEntries(Object.entries(values).filter(([k]) => !hostSide(layer, k)).map(([k, v]) => [envName(k), envValue(v)])),
      generates: !!layer.generate,
    };
    if (layer.generate) generators.set(planned, layer.generate);
    layers.push(planned);
  });
  for (const layerName of Object.keys(image.vars ?? {})) {
    if (!image.layers.includes(layerName)) {
      problems.push({ path: `/vars/${layerName}`, message: `layer "${layerName}" is not part of this image (layers: ${image.layers.join(', ')})` });
    }
  }
  if (board) {
    const roots = board.partitions.filter((p) => p.mountpoint === '/');
    if (roots.length !== 1) problems.push({ path: '/board', message: `board "${board.name}" must have exactly one partition mounted at /` });
    problems.push(...rawRegionProblems(board), ...bootloaderProblems(board));
  }
  if (problems.length || !board) throw new RecipeError(recipeFile, problems);

  const services = image.layers.flatMap((name) => (registry.layers.get(name)?.services ?? []).map((s) => ({ ...s, layer: name })));
  const imageEnv: Record<string, string> = {
    CLIC_IMAGE: image.name,
    CLIC_BOARD: board.name,
    CLIC_ARCH: board.arch,
    CLIC_BOOT_DIR: board.partitions.find((p) => p.fs === 'vfat')?.mountpoint ?? '',
    CLIC_ROOT_LABEL: board.partitions.find((p) => p.mountpoint === '/')!.label,
    CLIC_SERVICES: JSON.stringify(services),
  };
  for (const l of layers) l.env = { ...imageEnv, ...l.env };
  if (options.sourceDateEpoch !== null) for (const l of layers) l.env.SOURCE_DATE_EPOCH = String(options.sourceDateEpoch);

  const seed = `${image.name}\0${board.name}`;
  const partitions: PlannedPartition[] = board.partitions.map((p) => ({
    ...p,
    fsId: p.fs === 'vfat' ? derivedHex(seed, `vfat:${p.label}`, 8) : derivedUuid(seed, `ext4:${p.label}`),
  }));
  const sets: ContentSet[] = image.layers.flatMap((name) => {
    const content = registry.layers.get(name)?.content;
    const planned = layers.find((l) => l.name === name);
    if (!content || !planned) return [];
    return [{ layer: name, dir: content.dir, catalog: String(planned.vars[content.catalogVar]), requests: [...(planned.vars[content.zimsVar] as ZimRequest[])] }];
  });
  const aptSources: PlannedAptSource[] = layers.flatMap((l) =>
    Object.entries(registry.layers.get(l.name)?.vars ?? {})
      .filter(([, spec]) => spec.type === 'apt-source')
      .map(([variable]) => ({ ...(l.vars[variable] as AptSource), name: variable === 'repository' ? l.name : `${l.name}-${variable}`, layer: l.name, variable })),
  );
  const debconf = image.layers.flatMap((name) => [...(registry.layers.get(name)?.debconf ?? [])]);
  const deviceSecrets = image.layers.flatMap((name) => [...(registry.layers.get(name)?.deviceSecrets ?? [])]);
  const appsLayer = layers.find((l) => registry.layers.get(l.name)?.apps);
  const appsDef = appsLayer && registry.layers.get(appsLayer.name)!.apps!;
  const apps: PlannedApps | null = appsLayer && appsDef
    ? { layer: appsLayer.name, catalog: String(appsLayer.vars[appsDef.catalogVar]), requests: [...(appsLayer.vars[appsDef.appsVar] as AppRequest[])], resolved: null, imageCatalog: null }
    : null;
  let content: PlannedContent | null = null;
  if (sets.length) {
    const partition: PlannedPartition = {
      ...CONTENT_PARTITION,
      fs: 'ext4',
      type: board.partitionTable === 'gpt' ? 'L' : '83',
      fsId: derivedUuid(seed, `ext4:${CONTENT_PARTITION.label}`),
      content: true,
    };
    partitions.push(partition);
    content = { partition, sets, resolved: null };
  }
  const rawRegions: PlannedRawRegion[] = (board.rawRegions ?? []).map((r) => ({
    name: r.name,
    source: { ...r.source, sha256: r.source.sha256.toLowerCase() },
    offset: r.offset,
    skip: r.skip ?? 0,
    count: r.count ?? null,
  }));
  const replaced = new Set(image.layers.flatMap((name) => registry.layers.get(name)?.replacesPackages ?? []));
  const packages = [...new Set([...board.packages, ...layers.flatMap((l) => l.packages)])].filter((p) => !replaced.has(p)).sort();
  const withRepository = new Set(aptSources.map((a) => a.layer));
  const repositoryPackages = [...new Set(layers.filter((l) => withRepository.has(l.name)).flatMap((l) => l.packages))].filter((p) => !replaced.has(p)).sort();
  const suite = image.suite ?? 'bookworm';
  const extraSuites = [...new Set(image.layers.flatMap((name) => registry.layers.get(name)?.debianSuites ?? []))].map((s) => `${suite}-${s}`).sort();
  const img = `${image.name}.img`;
  const wanted = options.compress ?? image.compress ?? COMPRESSIONS;
  const compress = COMPRESSIONS.filter((c) => wanted.includes(c));
  return {
    image: image.name,
    description: image.description,
    recipeFile,
    board,
    suite,
    extraSuites,
    mirror: options.mirror ?? null,
    components: [...new Set(['main', ...board.components])],
    packages,
    repositoryPackages,
    layers,
    services,
    partitions,
    aptSources,
    deviceSecrets,
    debconf,
    apps,
    rootFreeMiB: 256 + image.layers.reduce((sum, name) => sum + (registry.layers.get(name)?.rootFreeMiB ?? 0), 0),
    content,
    rawRegions,
    diskId: board.partitionTable === 'dos' ? `0x${derivedHex(seed, 'disk', 8)}` : derivedUuid(seed, 'disk').toUpperCase(),
    sourceDateEpoch: options.sourceDateEpoch,
    output: {
      dir: options.outDir,
      img,
      sha256: `${img}.sha256`,
      packages: `${image.name}.packages`,
      compressed: compress.map((format) => ({ format, file: `${img}.${format}` })),
      bmap: `${img}.bmap`,
      manifest: `${image.name}.manifest.json`,
      sums: SUMS,
    },
    steps: [
      { name: 'host-tools', description: 'check host tools; enable qemu-user binfmt for a foreign architecture' },
      ...(aptSources.length ? [{ name: 'apt-sources', description: `${aptSources.map((a) => a.name).join(', ')}: fetch each key, check its pinned fingerprint` }] : []),
      { name: 'packages', description: `resolve the exact package versions (apt, simulated)${options.sourceDateEpoch === null ? " and date the build from the suite's Release file" : ''}` },
      ...(rawRegions.length ? [{ name: 'bootloader-blobs', description: `${blobSummary(rawRegions)}: download and verify by sha256 (cached)` }] : []),
      ...(content ? [{ name: 'content', description: `${contentSummary(sets)}: download and verify, ${CONTENT_PARTITION.label} partition (cached)` }] : []),
      { name: 'bootstrap', description: `mmdebstrap ${[suite, ...extraSuites].join(' + ')} ${board.arch} with ${packages.length} packages${repositoryPackages.length ? `, then (${[...withRepository].join(', ')} layer, with its own repository) ${repositoryPackages.join(', ')}` : ''}` },
      { name: 'initramfs', description: `initramfs once (${board.initramfsModules?.length ? `MODULES=list, ${board.initramfsModules.length} modules` : 'MODULES=most'}), ${board.bootloader} boot files` },
      ...layers.flatMap((l) => [
        ...(l.name === apps?.layer ? [{ name: 'apps', description: `${apps.requests.length} YunoHost app${apps.requests.length === 1 ? '' : 's'}: packages at their pinned revision, sources verified, staged for first boot` }] : []),
        { name: `layer:${l.name}`, description: l.description },
      ]),
      { name: 'finalize', description: 'initramfs again if a layer changed its inputs; strip build leftovers, clamp file dates' },
      { name: 'filesystems', description: partitions.map((p) => `${p.fs} ${p.label}`).join(', ') },
      { name: 'disk', description: `${board.partitionTable} partition table, partitions placed with dd${rawRegions.length ? `, then ${rawRegions.length} raw region${rawRegions.length === 1 ? '' : 's'} (${rawRegions.map((r) => r.name).join(', ')})` : ''}` },
      { name: 'bmap', description: 'block map for bmaptool' },
      ...(compress.length ? [{ name: 'compress', description: compress.map((c) => (c === 'xz' ? 'xz -T0 -6' : 'zstd -T0 -12')).join(', ') }] : []),
      { name: 'checksum', description: `manifest, package list, sha256 of every output (SHA256SUMS), then each under its final name` },
    ],
  };
}

/** Whether a layer variable is for the build host only (downloads, repositories). */
function hostSide(layer: LayerDef, key: string): boolean {
  const spec: VarSpec | undefined = layer.vars?.[key];
  return (!!spec && HOST_SIDE_TYPES.has(spec.type)) || key === layer.content?.catalogVar || key === layer.apps?.catalogVar;
}

function blobSummary(regions: PlannedRawRegion[]): string {
  const files = new Set(regions.map((r) => r.source.sha256)).size;
  return `${files} bootloader file${files === 1 ? '' : 's'} for ${regions.map((r) => r.name).join(', ')}`;
}

function contentSummary(sets: ContentSet[]): string {
  const n = sets.reduce((sum, s) => sum + s.requests.length, 0);
  return `${n} ZIM file${n === 1 ? '' : 's'}`;
}

/** The plan with its SOURCE_DATE_EPOCH set: in the plan and in every layer's environment, where
 *  tools that honour it (initramfs, archives, generated files) then give the same bytes. */
export function withSourceDate(plan: Plan, epoch: number): Plan {
  const layers = plan.layers.map((l) => {
    const dated: PlannedLayer = { ...l, env: { ...l.env, SOURCE_DATE_EPOCH: String(epoch) } };
    const generate = generators.get(l);
    if (generate) generators.set(dated, generate);
    return dated;
  });
  return { ...plan, layers, sourceDateEpoch: epoch };
}
