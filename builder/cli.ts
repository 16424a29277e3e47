/**
 * clic-image command line: argv → library calls. The only place that prints and exits.
 *
 *   clic-image build clic-rpi4 --out out
 *   clic-image build my-lab.yaml --json
 *   clic-image plan clic-pc-x86_64
 *   clic-image list
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import {
  AbortedError, BuildEvents, buildImage, describeType, HostToolError, installHostTools, labSchema, loadRecipe,
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

Run "clic-image <command> --help" for a command's options.
`,
  build: `usage: clic-image build <recipe> [options]

Builds <recipe> (an image name such as clic-rpi4, an image .ts file, or a lab .yaml file
that "extends:" an image) into <out>/<image>.img and <out>/<image>.img.sha256. Must run as root.

options:
  --out DIR              output folder (default: ./out)
  --mirror URL           Debian mirror for bootstrap (default: mmdebstrap's default mirror)
  --cache-dir DIR        apt cache and scratch space (default: $CLIC_CACHE_DIR or ~/.cache/clic-image)
  --install-host-tools   apt-get install the host tools that are missing instead of stopping
  --json                 one JSON event per line on stdout instead of human output
  --verbose              show the output of every command
  --debug                show stack traces of errors
`,
  plan: `usage: clic-image plan <recipe> [--json] [--out DIR] [--mirror URL]

Prints the resolved build plan: board, packages, layers with their variable values,
partitions and steps. Nothing is built. --json prints the plan as JSON.
`,
  list: `usage: clic-image list [--json]

Lists boards, layers (with their variables, types and defaults) and images.
`,
  schema: `usage: clic-image schema

Prints the JSON schema that lab YAML files are validated against.
`,
};

const OPTIONS = {
  out: { type: 'string', default: 'out' },
  mirror: { type: 'string' },
  'cache-dir': { type: 'string' },
  'install-host-tools': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  debug: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function sourceDateEpoch(): number {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env && /^\d+$/.test(env)) return parseInt(env, 10);
  const day = 86_400;
  return Math.floor(Date.now() / 1000 / day) * day;
}

async function planFor(registry: Registry, recipe: string | undefined, values: Values, command: string): Promise<Plan> {
  if (!recipe) throw new UsageError(`${command}: missing <recipe>\n\n${HELP[command]}`);
  const { image, file } = await loadRecipe(recipe, registry);
  return resolvePlan(image, file, registry, { outDir: resolve(values.out!), mirror: values.mirror, sourceDateEpoch: sourceDateEpoch() });
}

class UsageError extends Error {}

const seconds = (ms: number) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`);

function humanRenderer(verbose: boolean): { listener: (e: BuildEvent) => void; stop: () => void } {
  let current: { step: string; since: number; last: string } | null = null;
  const heartbeat = setInterval(() => {
    if (current) process.stderr.write(`  … ${current.step} running for ${seconds(Date.now() - current.since)}${current.last ? `: ${current.last.slice(0, 100)}` : ''}\n`);
  }, 30_000);
  heartbeat.unref();
  const listener = (e: BuildEvent) => {
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
        await buildImage(plan, { cacheDir: values['cache-dir'], events, signal: controller.signal });
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
