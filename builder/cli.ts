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
import { DownloadProgress, isDownloadEvent } from './progress.ts';
import { resolveContent } from './content/resolve.ts';
import { resolvePlanApps } from './apps/resolve-plan.ts';
import { formatBytes } from './download/index.ts';
import {
  AbortedError, BuildEvents, buildImage, defaultCacheDir, describeType, readPackageList, stepCacheOf, HostToolError, installHostTools, labSchema, loadRecipe,
  loadRegistry, RecipeError, resolvePlan, StepError, type BuildEvent, type Plan, type Registry,
} from './index.ts';

const HELP: Record<string, string> = {
  main: `clic-image — builds flashable CLIC images from recipes

usage: clic-image <command> [options]

commands:
  build <recipe>   build an image (<recipe>: image name, image .ts file or lab .yaml file)
  plan <recipe>    print what a build would do, without doing it
  list             boards, layers and images with one-line descriptions
  schema           JSON schema of lab YAML files
  cache ls         what the step cache holds (step, image, size, last use)
  cache prune      bound the step cache: --max-size SIZE, --unused-for DAYS, or --all

Run "clic-image <command> --help" for a command's options.
`,
  build: `usage: clic-image build <recipe> [options]

Builds <recipe> (an image name such as clic-rpi4, an image .ts file, or a lab .yaml file
that "extends:" an image) into <out>/<image>.img, <out>/<image>.img.sha256 and <out>/<image>.packages (the exact
package versions). Must run as root.

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
  --json                 one JSON event per line on stdout instead of human output
  --verbose              show the output of every command
  --debug                show stack traces of errors
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
use. prune removes entries, least recently used first, until the cache fits in SIZE (e.g.
20G, 500M), or those not used for DAYS days, or all of them, with --all (the downloaded
packages and ZIM files, the content partitions and the kiwix catalog copy too; a ZIM file is
downloaded again only if a later build needs it). Entries are only ever read whole: pruning never makes a build wrong, only slower.
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
  const plan = resolvePlan(image, file, registry, { outDir: resolve(values.out!), mirror: values.mirror, sourceDateEpoch: sourceDateEpoch() });
  // the exact content files (kiwix catalog lookups) and apps (YunoHost's app catalog): shown by
  // plan, needed before a build starts
  const opts = { cacheDir: values['cache-dir'] ?? defaultCacheDir(), onNotice: (m: string) => process.stderr.write(`note: ${m}\n`) };
  return resolvePlanApps(await resolveContent(plan, opts), opts);
}

class UsageError extends Error {}

const seconds = (ms: number) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`);

function humanRenderer(verbose: boolean): { listener: (e: BuildEvent) => void; stop: () => void } {
  let current: { step: string; since: number; last: string } | null = null;
  // download bars: redrawn in place on a terminal (at most 5 times a second); elsewhere, one line per file
  const tty = process.stderr.isTTY === true;
  const progress = new DownloadProgress();
  let drawn = 0;
  let lastDraw = 0;
  const clearBars = () => {
    if (drawn) process.stderr.write(`\x1b[${drawn}F\x1b[0J`);
    drawn = 0;
  };
  const drawBars = () => {
    const lines = progress.lines(process.stderr.columns ?? 100);
    process.stderr.write(lines.join('\n') + '\n');
    drawn = lines.length;
    lastDraw = Date.now();
  };
  const heartbeat = setInterval(() => {
    if (current) process.stderr.write(`  … ${current.step} running for ${seconds(Date.now() - current.since)}${current.last ? `: ${current.last.slice(0, 100)}` : ''}\n`);
  }, 30_000);
  heartbeat.unref();
  const listener = (e: BuildEvent) => {
    if (isDownloadEvent(e)) {
      const line = progress.update(e);
      if (!tty) {
        if (line) process.stderr.write(line + '\n');
        return;
      }
      if (!line && e.type === 'download:progress' && Date.now() - lastDraw < 200) return;
      clearBars();
      if (line) process.stderr.write(line + '\n');
      drawBars();
      return;
    }
    if (drawn && (e.type !== 'output' || verbose) && (e.type !== 'cmd' || verbose)) clearBars();
    switch (e.type) {
      case 'build:start':
        process.stderr.write(`building ${e.image} for board ${e.board} (${e.steps.length} steps)\n`);
        break;
      case 'step:start':
        current = { step: e.step, since: Date.now(), last: '' };
        process.stderr.write(`▶ ${e.step}${e.description ? ` — ${e.description}` : ''}\n`);
        break;
      case 'output':
        if (current) current.last = e.line;
        if (verbose) process.stderr.write(`    ${e.line}\n`);
        break;
      case 'cmd':
        if (verbose) process.stderr.write(`  $ ${e.argv.join(' ').slice(0, 300)}\n`);
        break;
      case 'step:skip':
        process.stderr.write(`↷ ${e.step} — ${e.reason}${e.key ? ` (${e.key.slice(0, 12)})` : ''}\n`);
        break;
      case 'cache':
        process.stderr.write(`  ${e.action === 'restore' ? `replayed cached ${e.step}` : `stored ${e.step} in the cache`} (${seconds(e.ms)})\n`);
        break;
      case 'step:end':
        current = null;
        process.stderr.write(`✓ ${e.step} (${seconds(e.ms)})\n`);
        break;
      case 'step:fail':
        current = null;
        process.stderr.write(`✗ ${e.step} (${seconds(e.ms)})\n`);
        break;
      case 'build:end':
        process.stdout.write(`${e.outputs.join('\n')}\n`);
        process.stderr.write(`built ${e.image} in ${seconds(e.ms)}\n`);
        break;
    }
  };
  return { listener, stop: () => clearInterval(heartbeat) };
}

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
  out.push(`output    ${plan.output.dir}/${plan.output.img} (+ .sha256)`);
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

function report(err: unknown, debug: boolean, json: boolean): number {
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
    if (values.json) {
      process.stdout.write(JSON.stringify(entries, null, 2) + '\n');
      return 0;
    }
    const lines = entries.map((e) => `${e.key.slice(0, 12)}  ${e.step.padEnd(24)} ${e.image.padEnd(18)} ${bytes(e.bytes).padStart(10)}  ${e.lastUsed.slice(0, 16).replace('T', ' ')}`);
    const total = entries.reduce((n, e) => n + e.bytes, 0);
    const files = await Promise.all([['downloads/sha256', 'downloaded files (ZIM…)'], ['content', 'content partitions']].map(async ([dir, what]) => {
      const found = await folderFiles(join(cacheDir, dir));
      return `${found.count} ${what}, ${bytes(found.bytes)} in ${join(cacheDir, dir)}`;
    }));
    process.stdout.write([`key           ${'step'.padEnd(24)} ${'image'.padEnd(18)} ${'size'.padStart(10)}  last used (UTC)`, ...lines, `${entries.length} entries, ${bytes(total)} in ${cache.root}`, ...files].join('\n') + '\n');
    return 0;
  }
  if (sub === 'prune') {
    const days = values['unused-for'];
    if (days !== undefined && !/^\d+(\.\d+)?$/.test(days)) throw new UsageError(`--unused-for "${days}": expected a number of days`);
    if (!values.all && days === undefined && values['max-size'] === undefined) throw new UsageError(`cache prune: say what to keep\n\n${HELP.cache}`);
    const removed = await cache.prune({
      all: values.all,
      maxBytes: values['max-size'] === undefined ? undefined : parseSize(values['max-size']),
      unusedForMs: days === undefined ? undefined : parseFloat(days) * 86_400_000,
    });
    // --all: the downloads too (packages, ZIM files, content partitions, the catalog)
    if (values.all) for (const dir of ['apt-archives', 'downloads', 'content', 'catalog']) await rm(join(cacheDir, dir), { recursive: true, force: true });
    const freed = removed.reduce((n, e) => n + e.bytes, 0);
    process.stdout.write(`removed ${removed.length} entries (${bytes(freed)})${values.all ? ', the downloads and the content partitions' : ''}\n`);
    return 0;
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
  if (extra.length) throw new UsageError(`${command}: unexpected arguments: ${extra.join(' ')}`);
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
    case 'build': {
      const plan = await planFor(registry, recipe, values, command);
      const events = new BuildEvents();
      const human = values.json ? null : humanRenderer(values.verbose!);
      if (human) events.on(human.listener);
      else events.on((e) => process.stdout.write(JSON.stringify(e) + '\n'));
      if (values['install-host-tools']) {
        const installed = await installHostTools(plan, values.verbose ? (l) => process.stderr.write(`    ${l}\n`) : undefined);
        if (installed.length && human) process.stderr.write(`installed host packages: ${installed.join(' ')}\n`);
      }
      const controller = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        if (!controller.signal.aborted) process.stderr.write(`\n${sig} received: stopping the build and cleaning up…\n`);
        controller.abort(sig);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      process.on('SIGHUP', onSignal);
      try {
        const pinnedPackages = values['pin-packages'] ? await readPackageList(values['pin-packages']) : undefined;
        await buildImage(plan, { cacheDir: values['cache-dir'], noCache: values['no-cache'], pinnedPackages, events, signal: controller.signal });
      } finally {
        human?.stop();
      }
      return 0;
    }
  }
  return 2;
}

const argv = process.argv.slice(2);
const debug = argv.includes('--debug');
const json = argv.includes('--json');
main(argv).then(
  (code) => process.exit(code),
  (err) => process.exit(report(err, debug, json)),
);
