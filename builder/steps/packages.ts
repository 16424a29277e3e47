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
 * Options (from the plan): suite, architecture, components, packages, mirror.
 * Example: `Inst libc6 (2.36-9+deb12u13 Debian:12.13/oldstable [arm64])` → `libc6=2.36-9+deb12u13:arm64`
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withSourceDate, type Plan } from '../recipe/plan.ts';
import type { Step } from '../step.ts';

export interface ResolvedPackages {
  /** `name=version:arch`, sorted. */
  packages: string[];
  /** Date of the suite's Release file, in seconds since the epoch. */
  suiteDate: number;
}

export function simulateArgv(plan: Plan, target: string): string[] {
  return [
    'mmdebstrap', '--simulate', '--verbose', '--mode=unshare', '--variant=minbase', '--skip=cleanup/apt/lists',
    `--architectures=${plan.board.arch}`, `--components=${plan.components.join(',')}`, `--include=${plan.packages.join(',')}`,
    '--aptopt=Acquire::Languages "none"', plan.suite, target, ...(plan.mirror ? [plan.mirror] : []),
  ];
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

export const packagesStep: Step = {
  name: 'packages',
  async run(ctx) {
    const target = join(ctx.workDir, 'resolve');
    const lines: string[] = [];
    // apt's simulation goes to mmdebstrap's stderr
    await ctx.run(simulateArgv(ctx.plan, target), { env: { TMPDIR: ctx.workDir }, onLine: (l) => lines.push(l) });
    const packages = parseSimulation(lines.join('\n'));
    if (!packages.length) throw new Error('apt resolved no package: mmdebstrap --simulate printed no "Inst" line');
    ctx.resolved = { packages, suiteDate: await suiteDate(target, ctx.plan.suite) };
    if (ctx.plan.sourceDateEpoch === null) ctx.plan = withSourceDate(ctx.plan, ctx.resolved.suiteDate);
  },
};
