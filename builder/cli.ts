/**
 * clic-image command line: argv → library calls. The only place that prints and exits.
 *
 *   clic-image build clic-rpi4 --out out
 *   clic-image build my-lab.yaml --json
 *   clic-image plan clic-pc-x86_64
 *   clic-image list
 */
import { parseArgs } from 'node:util';
import { readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { humanRenderer, seconds } from './cli-render.ts';
import { buildSet } from './build-set.ts';
import { releaseCommand, verifyCommand } from './cli-release.ts';
import { parseSigningKey, signSums } from './release/sign.ts';
import { COMPRESSIONS, type Compression } from './recipe/define.ts';
import { resolveContent } from './content/resolve.ts';
import { resolvePlanApps } from './apps/resolve-plan.ts';
import { formatBytes } from './download/index.ts';
import {
  AbortedError, BuildEvents, buildImage, defaultCacheDir, describeType, findLeftovers, readPackageList, removeLeftovers, stepCacheOf, HostToolError, installHostTools, labSchema, loadRecipe,
  loadRegistry, RecipeError, resolvePlan, StepError, type Plan, type Registry,
} from './index.ts';

const HELP: Record<string, string> = {
  main: `clic-image — builds flashable CLIC images from recipes

usage: clic-image <command> [options]

commands:
  build <recipe>…  build images (<recipe>: image name, image .ts file or lab .yaml file);
                   build --all: the release set
  release <dir>    Raspberry Pi Imager repository, images.json and download page for a folder
                   of build outputs; optionally signs its SHA256SUMS
  verify <dir>     check a downloaded set: checksums, signature, block maps against images
  plan <recipe>    print what a build would do, without doing it
  list             boards, layers and images with one-line descriptions
  schema           JSON schema of lab YAML files
  cache ls         what the step cache holds (step, image, size, last use)
  cache prune      bound the step cache: --max-size SIZE, --unused-for DAYS, or --all

Run "clic-image <command> --help" for a command's options.
`,
  build: `usage: clic-image build <recipe>… [options]
       clic-image build --all [options]

Builds <recipe> (an image name such as clic-rpi4, an image .ts file, or a lab .yaml file
that "extends:" an image) into <out>: <image>.img; its compressed copies <image>.img.xz and
<image>.img.zst (as the recipe says: both by default); <image>.img.bmap, the block map with
which "bmaptool copy" writes only the blocks holding data; <image>.manifest.json (board,
recipe hash, builder version, date, every package with its version, every downloaded file
with its URL and sha256, the partition table, the outputs); <image>.packages (the exact
package versions); and SHA256SUMS, shared by the images built into <out>, covering them all.
Must run as root.

Several recipes, or --all (every image of the release set), build one after the other for
one architecture and in parallel across architectures (--jobs); a failing image does not
stop the others, and the summary lists each image's result.

Steps that make the root file system (bootstrap, each layer, finalize) are cached by a key
made of everything they depend on: the exact package versions, overlay files, commands,
variables. Change one layer's file and only that layer and the later steps run again.
File dates are SOURCE_DATE_EPOCH when set, else the date of the Debian suite's Release file:
the same recipe and package set give the same image, byte for byte.

Offline content (the kiwix layer's ZIM files) is looked up in the kiwix catalog, downloaded
once into the cache (verified by sha256, resumed after a cut, 4 files at a time) and put on its
own partition, itself cached: rebuilding the system never downloads or copies it again.

options:
  --out DIR              output folder (default: ./out)
  --mirror URL           Debian mirror for bootstrap (default: mmdebstrap's default mirror)
  --cache-dir DIR        step cache, downloads (packages, ZIM files) and scratch space
                         (default: $CLIC_CACHE_DIR or ~/.cache/clic-image)
  --no-cache             run every step, neither using nor filling the step cache
  --pin-packages FILE    build with exactly the package versions listed in FILE (the
                         <image>.packages of an earlier build) or stop, naming those that differ
  --install-host-tools   apt-get install the host tools that are missing instead of stopping
  --compress LIST        compressed copies to write instead of the recipe's choice: xz, zst,
                         xz,zst, or none
  --sign KEY             sign SHA256SUMS when done: gpg:<key id> (SHA256SUMS.asc, key from
                         gpg's keyring) or minisign:<secret key file> (SHA256SUMS.minisig); a
                         passphrase is read from $CLIC_SIGNING_PASSPHRASE
  --all                  build every image of the release set
  --jobs N               images built at the same time (default: one per 2 cores and 4 GiB)
  --json                 one JSON event per line on stdout instead of human output
  --verbose              show the output of every command
  --debug                show stack traces of errors
`,
  release: `usage: clic-image release <dir> [--base-url URL] [--sign KEY] [--json]

Makes a folder of build outputs (one or more builds' --out, or their files gathered) ready to
publish. First checks it as "verify" does (every file SHA256SUMS lists that is there must
match; the images' own .img files may be left out), then writes:
  os_list_clic.json  a Raspberry Pi Imager repository of the Raspberry Pi images
                     (needs --base-url: Imager wants absolute URLs)
  images.json        every image with its files, sizes and checksums, for the project's site
  index.html         a download page with no external resources: each image with its board,
                     size, date, checksum and how to flash and check it
These are added to SHA256SUMS, which is then signed when --sign is given (see build --help).

options:
  --base-url URL     where the folder will be published (https://…/nightly)
  --sign KEY         gpg:<key id> or minisign:<secret key file>
`,
  verify: `usage: clic-image verify <dir> [--key FILE] [--ignore-missing] [--json]

Checks a set of build outputs, as downloaded: the signature of SHA256SUMS (with --key: the
signer's public key, minisign or OpenPGP), the sha256 of every file SHA256SUMS lists, and each
block map (.bmap) against its image: the .img, or else its .img.xz or .img.zst decompressed on
the fly, which must then decompress to the listed .img. Exits with status 1 on any problem.

options:
  --key FILE         public key to check SHA256SUMS.minisig or SHA256SUMS.asc with
  --ignore-missing   files listed in SHA256SUMS but absent are skipped (a partial download)
`,
  plan: `usage: clic-image plan <recipe> [--json] [--out DIR] [--mirror URL] [--cache-dir DIR]

Prints the resolved build plan: board, packages, layers with their variable values,
partitions, content (each ZIM file with its size, sha256 and URL, and the total) and steps.
Nothing is built; ZIM names are looked up in the kiwix catalog (or, offline, in the copy of
it kept in the cache). --json prints the plan as JSON.
`,
  list: `usage: clic-image list [--json]

Lists boards, layers (with their variables, types and defaults) and images.
`,
  cache: `usage: clic-image cache ls [--json] [--cache-dir DIR]
       clic-image cache prune [--max-size SIZE] [--unused-for DAYS] [--all] [--cache-dir DIR]

ls lists the step cache's entries, least recently used first: key, step, image, size, last
use; then what builds that were killed left behind (scratch folders, half-written entries).
prune removes those leftovers (and nothing else when given no option); and entries, least
recently used first, until the cache fits in SIZE (e.g. 20G, 500M), or those not used for DAYS
days, or all of them, with --all (the downloaded packages and ZIM files, the content partitions
and the kiwix catalog copy too; a ZIM file is downloaded again only if a later build needs it).
Entries are only ever read whole: pruning never makes a build wrong, only slower.
`,
  schema: `usage: clic-image schema

Prints the JSON schema that lab YAML files are validated against.
`,
};

const OPTIONS = {
  out: { type: 'string', default: 'out' },
  mirror: { type: 'string' },
  'cache-dir': { type: 'string' },
  'no-cache': { type: 'boolean', default: false },
  'pin-packages': { type: 'string' },
  'max-size': { type: 'string' },
  'unused-for': { type: 'string' },
  all: { type: 'boolean', default: false },
  'install-host-tools': { type: 'boolean', default: false },
  compress: { type: 'string' },
  sign: { type: 'string' },
  jobs: { type: 'string' },
  key: { type: 'string' },
  'base-url': { type: 'string' },
  'ignore-missing': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  debug: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** SOURCE_DATE_EPOCH when set; else null: the build dates itself from the suite's Release file. */
function sourceDateEpoch(): number | null {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env === undefined || env === '') return null;
  if (!/^\d+$/.test(env)) throw new UsageError(`SOURCE_DATE_EPOCH="${env}": expected a number of seconds since 1970-01-01`);
  return parseInt(env, 10);
}

async function planFor(registry: Registry, recipe: string | undefined, values: Values, command: string): Promise<Plan> {
  if (!recipe) throw new UsageError(`${command}: missing <recipe>\n\n${HELP[command]}`);
  const { image, file } = await loadRecipe(recipe, registry);
  const plan = resolvePlan(image, file, registry, { outDir: resolve(values.out!), mirror: values.mirror, sourceDateEpoch: sourceDateEpoch(), compress: compressOption(values.compress) });
  // the exact content files (kiwix catalog lookups) and apps (YunoHost's app catalog): shown by
  // plan, needed before a build starts
  const opts = { cacheDir: values['cache-dir'] ?? defaultCacheDir(), onNotice: (m: string) => process.stderr.write(`note: ${m}\n`) };
  return resolvePlanApps(await resolveContent(plan, opts), opts);
}

class UsageError extends Error {}

function printPlan(plan: Plan) {
  const out: string[] = [];
  out.push(`image     ${plan.image} — ${plan.description}`);
  out.push(`recipe    ${plan.recipeFile}`);
  out.push(`board     ${plan.board.name} (${plan.board.arch}, ${plan.board.bootloader}, ${plan.board.partitionTable})`);
  out.push(`debian    ${plan.suite} [${plan.components.join(', ')}] from ${plan.mirror ?? "mmdebstrap's default mirror"}`);
  out.push(`packages  ${plan.packages.join(' ')}`);
  out.push('layers');
  for (const l of plan.layers) {
    out.push(`  ${l.name} — ${l.description}${l.overlay ? ' [overlay]' : ''}`);
    for (const [k, v] of Object.entries(l.vars)) out.push(`    ${k} = ${JSON.stringify(v)}`);
  }
  out.push('partitions');
  for (const p of plan.partitions) out.push(`  ${p.label.padEnd(10)} ${p.fs.padEnd(5)} ${p.mountpoint.padEnd(15)} ${p.sizeMiB ? `${p.sizeMiB} MiB` : 'sized to content'}`);
  if (plan.content) {
    const files = plan.content.resolved ?? [];
    const total = files.reduce((n, z) => n + (z.size ?? 0), 0);
    out.push(`content   ${files.length} ZIM file${files.length === 1 ? '' : 's'}, ${formatBytes(total)}${files.some((z) => z.size === null) ? ' (some sizes unknown)' : ''} on ${plan.content.partition.label}`);
    for (const z of files) {
      out.push(`  ${z.dir}/${z.file}  ${z.size === null ? 'size unknown' : formatBytes(z.size)}  sha256 ${z.sha256.slice(0, 16)}…  ${z.urls[0]}${z.urls.length > 1 ? ` (+${z.urls.length - 1} mirror${z.urls.length > 2 ? 's' : ''})` : ''}`);
    }
  }
  for (const a of plan.aptSources) out.push(`apt       ${a.name}: ${a.url} ${a.suite} [${a.components.join(', ')}], key ${a.key} (fingerprint ${a.fingerprint.replace(/\s+/g, '')})`);
  if (plan.apps) {
    const apps = plan.apps.resolved ?? [];
    out.push(`apps      ${apps.length} YunoHost app${apps.length === 1 ? '' : 's'} from ${plan.apps.catalog}`);
    for (const a of apps) {
      out.push(`  ${a.id} @ ${a.revision.slice(0, 12)}  ${a.gitUrl}  args ${a.argsQuery || '(none)'}`);
      for (const src of a.sources) out.push(`    source ${src.id}  sha256 ${src.sha256.slice(0, 16)}…  ${src.url}`);
      if (a.aptPackages.length) out.push(`    debian ${a.aptPackages.join(' ')}`);
    }
  }
  out.push('steps');
  plan.steps.forEach((s, i) => out.push(`  ${String(i + 1).padStart(2)}. ${s.name} — ${s.description}`));
  const o = plan.output;
  out.push(`output    ${o.dir}/: ${[o.img, ...o.compressed.map((c) => c.file), o.bmap, o.manifest, o.packages, o.sums].join(', ')}`);
  process.stdout.write(out.join('\n') + '\n');
}

function printList(registry: Registry, json: boolean) {
  if (json) {
    const pick = <T extends { name: string; description: string }>(m: Map<string, T>) => [...m.values()];
    process.stdout.write(JSON.stringify({ boards: pick(registry.boards), layers: pick(registry.layers), images: pick(registry.images) }, null, 2) + '\n');
    return;
  }
  const out: string[] = ['boards'];
  for (const b of registry.boards.values()) out.push(`  ${b.name.padEnd(14)} ${b.description}`);
  out.push('layers');
  for (const l of registry.layers.values()) {
    out.push(`  ${l.name.padEnd(14)} ${l.description}`);
    for (const [k, v] of Object.entries(l.vars ?? {})) out.push(`      ${k} (${describeType(v)}, default ${JSON.stringify(v.default)}): ${v.description}`);
  }
  out.push('images');
  for (const i of registry.images.values()) out.push(`  ${i.name.padEnd(14)} ${i.description} [board ${i.board}; layers ${i.layers.join(', ')}]`);
  process.stdout.write(out.join('\n') + '\n');
}

/** What to tell the user about an error, and the exit status. */
function describeError(err: unknown, debug: boolean): { lines: string[]; code: number } {
  const lines: string[] = [];
  let code = 1;
  if (err instanceof RecipeError) {
    for (const p of err.problems) lines.push(`error: ${err.file}${p.line ? `:${p.line}` : ''}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
  } else if (err instanceof StepError) {
    lines.push(`error: ${err.message}`);
    if (err.cause instanceof HostToolError) lines.push('hint: or run the build with --install-host-tools');
    if (err.hint) lines.push(`hint: ${err.hint}`);
    if (err.stderrTail) lines.push('--- last lines of its output ---', err.stderrTail.trimEnd(), '---');
  } else if (err instanceof AbortedError) {
    lines.push(`build ${err.message}; everything it started was stopped and cleaned up`);
    code = 130;
  } else if (err instanceof UsageError) {
    lines.push(err.message);
    code = 2;
  } else {
    lines.push(`error: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (debug && err instanceof Error && err.stack) lines.push(err.stack);
  return { lines, code };
}

const errorLines = (err: unknown, debug: boolean) => describeError(err, debug).lines;

function report(err: unknown, debug: boolean, json: boolean): number {
  const { lines, code } = describeError(err, debug);
  if (json) process.stdout.write(JSON.stringify({ type: 'error', message: lines.join('\n'), code }) + '\n');
  process.stderr.write(lines.join('\n') + '\n');
  return code;
}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

function parseSize(text: string): number {
  const m = text.trim().toUpperCase().match(/^(\d+(?:\.\d+)?)\s*([KMGT]?)I?B?$/);
  if (!m) throw new UsageError(`--max-size "${text}": expected a size such as 20G, 500M or 1T`);
  return Math.floor(parseFloat(m[1]) * UNITS[m[2]]);
}

const bytes = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`);

/** Number and total size of the regular files directly in a folder (none when it is missing). */
async function folderFiles(dir: string): Promise<{ count: number; bytes: number }> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const sizes = await Promise.all(names.map((n) => stat(join(dir, n)).then((st) => (st.isFile() ? st.size : -1), () => -1)));
  const files = sizes.filter((n) => n >= 0);
  return { count: files.length, bytes: files.reduce((a, b) => a + b, 0) };
}

async function cacheCommand(sub: string | undefined, extra: string[], values: Values): Promise<number> {
  if (extra.length) throw new UsageError(`cache: unexpected arguments: ${extra.join(' ')}`);
  const cacheDir = values['cache-dir'] ?? defaultCacheDir();
  const cache = stepCacheOf(cacheDir);
  if (sub === 'ls') {
    const entries = await cache.list();
    const leftovers = (await findLeftovers(cacheDir)).filter((l) => l.what !== 'lease');
    if (values.json) {
      process.stdout.write(JSON.stringify({ entries, leftovers }, null, 2) + '\n');
      return 0;
    }
    const lines = entries.map((e) => `${e.key.slice(0, 12)}  ${e.step.padEnd(24)} ${e.image.padEnd(18)} ${bytes(e.bytes).padStart(10)}  ${e.lastUsed.slice(0, 16).replace('T', ' ')}`);
    const total = entries.reduce((n, e) => n + e.bytes, 0);
    const files = await Promise.all([['downloads/sha256', 'downloaded files (ZIM…)'], ['content', 'content partitions']].map(async ([dir, what]) => {
      const found = await folderFiles(join(cacheDir, dir));
      return `${found.count} ${what}, ${bytes(found.bytes)} in ${join(cacheDir, dir)}`;
    }));
    const left = leftovers.length
      ? [`left by builds that were killed (cache prune removes them):`, ...leftovers.map((l) => `  ${l.what}: ${l.path}`)]
      : [];
    process.stdout.write([`key           ${'step'.padEnd(24)} ${'image'.padEnd(18)} ${'size'.padStart(10)}  last used (UTC)`, ...lines, `${entries.length} entries, ${bytes(total)} in ${cache.root}`, ...files, ...left].join('\n') + '\n');
    return 0;
  }
  if (sub === 'prune') {
    const days = values['unused-for'];
    if (days !== undefined && !/^\d+(\.\d+)?$/.test(days)) throw new UsageError(`--unused-for "${days}": expected a number of days`);
    const leftovers = await findLeftovers(cacheDir);
    const problems = await removeLeftovers(leftovers);
    for (const problem of problems) process.stderr.write(`${problem}\n`);
    const swept = leftovers.filter((l) => l.what !== 'lease').length;
    const sweptText = `${swept} leftover${swept === 1 ? '' : 's'} of killed builds`;
    if (!values.all && days === undefined && values['max-size'] === undefined) {
      process.stdout.write(`removed ${sweptText}\n`);
      return problems.length ? 1 : 0;
    }
    const removed = await cache.prune({
      all: values.all,
      maxBytes: values['max-size'] === undefined ? undefined : parseSize(values['max-size']),
      unusedForMs: days === undefined ? undefined : parseFloat(days) * 86_400_000,
    });
    // --all: the downloads too (packages, ZIM files, content partitions, the catalog)
    if (values.all) for (const dir of ['apt-archives', 'downloads', 'content', 'catalog']) await rm(join(cacheDir, dir), { recursive: true, force: true });
    const freed = removed.reduce((n, e) => n + e.bytes, 0);
    process.stdout.write(`removed ${removed.length} entries (${bytes(freed)})${values.all ? ', the downloads and the content partitions' : ''}, ${sweptText}\n`);
    return problems.length ? 1 : 0;
  }
  throw new UsageError(`cache: expected "ls" or "prune"\n\n${HELP.cache}`);
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${HELP.main}`);
  }
  const { values, positionals } = parsed;
  const [command, recipe, ...extra] = positionals;
  // Object.hasOwn: "constructor" or "toString" are not commands
  const isCommand = (name: string | undefined): name is string => !!name && name !== 'main' && Object.hasOwn(HELP, name);
  if (!command || command === 'help') {
    process.stdout.write(isCommand(recipe) ? HELP[recipe] : HELP.main);
    return 0;
  }
  if (!isCommand(command)) throw new UsageError(`unknown command "${command}"\n\n${HELP.main}`);
  if (values.help) {
    process.stdout.write(HELP[command]);
    return 0;
  }
  if (command === 'cache') return cacheCommand(recipe, extra, values);
  if (extra.length && command !== 'build') throw new UsageError(`${command}: unexpected arguments: ${extra.join(' ')}`);
  const registry = await loadRegistry();
  switch (command) {
    case 'list':
      printList(registry, values.json!);
      return 0;
    case 'schema':
      process.stdout.write(JSON.stringify(labSchema(registry), null, 2) + '\n');
      return 0;
    case 'plan': {
      const plan = await planFor(registry, recipe, values, command);
      if (values.json) process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
      else printPlan(plan);
      return 0;
    }
    case 'build':
      return buildCommand(registry, positionals.slice(1), values);
    case 'verify':
      if (!recipe) throw new UsageError(`verify: missing <dir>\n\n${HELP.verify}`);
      return verifyCommand(recipe, { key: values.key, ignoreMissing: values['ignore-missing']!, json: values.json! });
    case 'release':
      if (!recipe) throw new UsageError(`release: missing <dir>\n\n${HELP.release}`);
      return releaseCommand(recipe, { baseUrl: values['base-url'], sign: values.sign, json: values.json! });
  }
  return 2;
}

/** --compress: the formats to write instead of the recipe's choice. */
function compressOption(text: string | undefined): Compression[] | undefined {
  if (text === undefined) return undefined;
  if (text === 'none') return [];
  const formats = text.split(',').map((f) => f.trim());
  const unknown = formats.filter((f) => !(COMPRESSIONS as readonly string[]).includes(f));
  if (unknown.length || !formats.length) throw new UsageError(`--compress "${text}": expected ${COMPRESSIONS.join(', ')}, ${COMPRESSIONS.join(',')} or none`);
  return formats as Compression[];
}

async function buildCommand(registry: Registry, recipes: string[], values: Values): Promise<number> {
  if (values.all && recipes.length) throw new UsageError('build: give recipes or --all, not both');
  const names = values.all ? [...registry.images.values()].filter((i) => i.release !== false).map((i) => i.name) : recipes;
  if (!names.length) throw new UsageError(`build: missing <recipe>\n\n${HELP.build}`);
  if (names.length > 1 && values['pin-packages']) throw new UsageError('--pin-packages: one image at a time (its list names one architecture\'s packages)');
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1)) throw new UsageError(`--jobs "${values.jobs}": expected a whole number, 1 or more`);
  const signingKey = values.sign ? parseSigningKey(values.sign) : null;
  const plans: Plan[] = [];
  for (const name of names) plans.push(await planFor(registry, name, values, 'build'));
  if (values['install-host-tools']) {
    for (const plan of plans) {
      const installed = await installHostTools(plan, values.verbose ? (l) => process.stderr.write(`    ${l}\n`) : undefined);
      if (installed.length && !values.json) process.stderr.write(`installed host packages: ${installed.join(' ')}\n`);
    }
  }
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!controller.signal.aborted) process.stderr.write(`\n${sig} received: stopping the build and cleaning up…\n`);
    controller.abort(sig);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  const pinnedPackages = values['pin-packages'] ? await readPackageList(values['pin-packages']) : undefined;
  const stops: (() => void)[] = [];
  const runtimeFor = (plan: Plan) => {
    const events = new BuildEvents();
    const human = values.json ? null : humanRenderer(values.verbose!, plans.length > 1 ? plan.image : '');
    if (human) {
      events.on(human.listener);
      stops.push(human.stop);
    } else events.on((e) => process.stdout.write(JSON.stringify(plans.length > 1 ? { image: plan.image, ...e } : e) + '\n'));
    return { cacheDir: values['cache-dir'], noCache: values['no-cache'], pinnedPackages, events, signal: controller.signal };
  };
  try {
    if (plans.length === 1) {
      await buildImage(plans[0], runtimeFor(plans[0]));
    } else {
      const results = await buildSet(plans, { jobs, runtimeFor });
      const failed = results.filter((r) => !r.ok);
      if (values.json) {
        process.stdout.write(JSON.stringify({ type: 'set:end', results: results.map((r) => (r.ok ? { image: r.image, ok: true, outputs: r.result.outputs } : { image: r.image, ok: false, message: errorLines(r.error, false).join('\n') })) }) + '\n');
      } else {
        const lines = results.map((r) => (r.ok ? `  ✓ ${r.image} (${r.board}) in ${seconds(r.result.ms)}` : `  ✗ ${r.image} (${r.board}): ${errorLines(r.error, values.debug!).join('\n      ')}`));
        process.stderr.write(`${results.length - failed.length} of ${results.length} images built into ${resolve(values.out!)}\n${lines.join('\n')}\n`);
      }
      if (controller.signal.aborted) throw new AbortedError(String(controller.signal.reason));
      if (failed.length === results.length) return 1;
      if (signingKey) await signSums(resolve(values.out!), signingKey);
      return failed.length ? 1 : 0;
    }
  } finally {
    for (const stop of stops) stop();
  }
  if (signingKey) {
    const signature = await signSums(resolve(values.out!), signingKey);
    if (!values.json) process.stderr.write(`signed SHA256SUMS: ${signature}\n`);
  }
  return 0;
}

const argv = process.argv.slice(2);
const debug = argv.includes('--debug');
const json = argv.includes('--json');
main(argv).then(
  (code) => process.exit(code),
  (err) => process.exit(report(err, debug, json)),
);
