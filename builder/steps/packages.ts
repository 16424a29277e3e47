/**
 * packages — resolves the image's package set before anything is installed: mmdebstrap with
 * `--simulate` runs apt's dependency resolution against the mirror's current indices, for the
 * same variant, architecture, components and packages as the bootstrap, and prints every
 * package it would install with its exact version. That list (not the names in the recipe) is
 * what the bootstrap's cache key holds, so a new version of any installed package, and nothing
 * else, makes the next build bootstrap again.
 *
 * It also dates the build: unless SOURCE_DATE_EPOCH was given, the image's file dates are the
 * `Date:` of the suite's Release file (e.g. bookworm's last point release), which changes only
 * when the suite does: two builds from the same package set get the same date.
 *
 * With a pinned package list (`--pin-packages`, e.g. the `<image>.packages` file of an earlier
 * build), the build goes on only if apt resolves exactly those versions, and otherwise says
 * which differ: point `--mirror` at a dated snapshot of the archive to get them back.
 *
 * The layers' extra apt repositories (apt-sources step) take part in the resolution, and so do
 * the Debian suites they need beside the image's own (`bookworm-backports`): mmdebstrap is
 * asked which sources it would write for the suite, and those lines, with the extra suites from
 * the same mirror, become the mirror arguments of the resolution and of the bootstrap.
 *
 * Options (from the plan): suite, architecture, components, packages, mirror, extra apt
 * repositories; pinned list.
 * Example: `Inst libc6 (2.36-9+deb12u13 Debian:12.13/oldstable [arm64])` → `libc6=2.36-9+deb12u13:arm64`
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { withSourceDate, type Plan } from '../recipe/plan.ts';
import type { Step } from '../step.ts';
import { simulateAptOptions } from './apt-sources.ts';

export interface ResolvedPackages {
  /** `name=version:arch`, sorted. */
  packages: string[];
  /** Date of the suite's Release file, in seconds since the epoch. */
  suiteDate: number;
  /** The Debian sources given to mmdebstrap as its mirror arguments (one-line format), when the
   *  plan needs suites beside its own (Plan.extraSuites); null: mmdebstrap's own choice. */
  debianSources: string[] | null;
}

/** mmdebstrap's mirror arguments: the resolved Debian sources, else the plan's mirror, else none. */
export function mirrorArgs(plan: Plan, debianSources: string[] | null): string[] {
  return debianSources ?? (plan.mirror ? [plan.mirror] : []);
}

export function simulateArgv(plan: Plan, target: string, workDir: string, debianSources: string[] | null = null): string[] {
  return [
    'mmdebstrap', '--simulate', '--verbose', '--mode=unshare', '--variant=minbase', '--skip=cleanup/apt/lists',
    `--architectures=${plan.board.arch}`, `--components=${plan.components.join(',')}`, `--include=${plan.packages.join(',')}`,
    '--aptopt=Acquire::Languages "none"', ...simulateAptOptions(plan, workDir), plan.suite, target, ...mirrorArgs(plan, debianSources),
  ];
}

/** What mmdebstrap writes as sources.list for the plan's suite and mirror, without downloading
 *  anything (the mirror is the plan's, or mmdebstrap's default with its updates and security
 *  suites), asked of mmdebstrap itself so that no mirror is named here. */
export function sourcesProbeArgv(plan: Plan, target: string): string[] {
  return [
    'mmdebstrap', '--simulate', '--mode=unshare', '--variant=custom', '--skip=update,cleanup',
    `--architectures=${plan.board.arch}`, `--components=${plan.components.join(',')}`, plan.suite, target, ...(plan.mirror ? [plan.mirror] : []),
  ];
}

/** Those sources, and each extra suite from the mirror of the suite's own line. */
export function withExtraSuites(sourcesList: string, suite: string, extraSuites: readonly string[]): string[] {
  const lines = sourcesList.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('deb '));
  const own = lines.map((l) => l.match(/^deb((?: \[[^\]]*\])?) (\S+) (\S+) (.+)$/)).find((m) => m && m[3] === suite);
  if (!own) throw new Error(`mmdebstrap's sources for ${suite} have no line of that suite: ${JSON.stringify(sourcesList)}`);
  const extra = extraSuites.map((s) => `deb${own[1]} ${own[2]} ${s} ${own[4]}`).filter((l) => !lines.includes(l));
  return [...lines, ...extra];
}

/** Every `Inst` line of apt's simulation, as `name=version:arch`, sorted and without repeats. */
export function parseSimulation(output: string): string[] {
  const found = new Set<string>();
  for (const m of output.matchAll(/^Inst (\S+) (?:\[\S+\] )?\((\S+) .*?\[(\S+)\]\)/gm)) found.add(`${m[1]}=${m[2]}:${m[3]}`);
  return [...found].sort();
}

/** The Date: field of a Release or InRelease file, in seconds. */
export function releaseDate(release: string): number | null {
  const m = release.match(/^Date: (.+)$/m);
  const ms = m ? Date.parse(m[1]) : NaN;
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

async function suiteDate(target: string, suite: string): Promise<number> {
  const lists = join(target, 'var/lib/apt/lists');
  const names = await readdir(lists);
  const release = names.find((n) => n.endsWith(`_dists_${suite}_InRelease`)) ?? names.find((n) => n.endsWith(`_dists_${suite}_Release`));
  const date = release ? releaseDate(await readFile(join(lists, release), 'utf8')) : null;
  if (date === null) throw new Error(`no dated Release file of suite "${suite}" among the downloaded indices (${names.join(', ')})`);
  return date;
}

/** Differences between a pinned package list and the resolved one, one line each. */
export function pinDifferences(pinned: readonly string[], resolved: readonly string[]): string[] {
  const byName = (list: readonly string[]) => new Map(list.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  const want = byName(pinned);
  const got = byName(resolved);
  const lines: string[] = [];
  for (const [name, version] of want) {
    const now = got.get(name);
    if (now === undefined) lines.push(`${name}: pinned ${version}, no longer installed`);
    else if (now !== version) lines.push(`${name}: pinned ${version}, resolved ${now}`);
  }
  for (const [name, version] of got) if (!want.has(name)) lines.push(`${name}: resolved ${version}, not in the pinned list`);
  return lines;
}

/** Reads a package list (`name=version:arch` lines, # comments) such as `<image>.packages`. */
export async function readPackageList(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${file}: cannot read the pinned package list (${err.code ?? err.message})`);
  });
  const list: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    if (!/^[a-z0-9][a-z0-9+.-]*=[^\s=]+:[a-z0-9-]+$/.test(line)) throw new Error(`${file}:${i + 1}: "${line}": expected name=version:arch, as in an <image>.packages file`);
    list.push(line);
  });
  if (!list.length) throw new Error(`${file}: no package in the pinned package list`);
  return list.sort();
}

export function packageListText(plan: Plan, resolved: ResolvedPackages): string {
  const date = new Date(resolved.suiteDate * 1000).toISOString();
  return `# Exact package set of ${plan.image} (${plan.suite}, ${plan.board.arch}; suite dated ${date}), written by clic-image.\n` +
    `# Give it to "clic-image build --pin-packages" to build with these versions or not at all.\n` +
    resolved.packages.join('\n') + '\n';
}

export function packagesStep(pinned: readonly string[] | null = null): Step {
  return {
    name: 'packages',
    async run(ctx) {
      const target = join(ctx.workDir, 'resolve');
      let debianSources: string[] | null = null;
      if (ctx.plan.extraSuites.length) {
        const probe = join(ctx.workDir, 'sources-probe');
        await ctx.run(sourcesProbeArgv(ctx.plan, probe), { env: { TMPDIR: ctx.workDir } });
        debianSources = withExtraSuites(await readFile(join(probe, 'etc/apt/sources.list'), 'utf8'), ctx.plan.suite, ctx.plan.extraSuites);
        await rm(probe, { recursive: true, force: true });
      }
      const lines: string[] = [];
      // apt's simulation goes to mmdebstrap's stderr
      await ctx.run(simulateArgv(ctx.plan, target, ctx.workDir, debianSources), { env: { TMPDIR: ctx.workDir }, onLine: (l) => lines.push(l) });
      const packages = parseSimulation(lines.join('\n'));
      if (!packages.length) throw new Error('apt resolved no package: mmdebstrap --simulate printed no "Inst" line');
      if (pinned) {
        const differences = pinDifferences(pinned, packages);
        if (differences.length) {
          throw new Error(
            `the mirror no longer gives the pinned package set (${differences.length} difference${differences.length > 1 ? 's' : ''}):\n  ` +
              differences.slice(0, 20).join('\n  ') + (differences.length > 20 ? `\n  … and ${differences.length - 20} more` : '') +
              '\nhint: build from a dated snapshot of the Debian archive that has these versions (--mirror URL), or drop --pin-packages',
          );
        }
      }
      ctx.resolved = { packages, suiteDate: await suiteDate(target, ctx.plan.suite), debianSources };
      if (ctx.plan.sourceDateEpoch === null) ctx.plan = withSourceDate(ctx.plan, ctx.resolved.suiteDate);
    },
  };
}
