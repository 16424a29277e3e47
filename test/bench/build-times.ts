/**
 * Benchmark (not a test): cold build time of each shipped image, measured on this machine.
 * "Cold" = an empty cache directory, so packages are downloaded again; pass --warm to reuse the
 * default apt cache and measure the build work alone. Prints one line per image and the step
 * durations, from the build's own events.
 *
 *   npm run bench:times                 # every image, cold
 *   npm run bench:times -- clic-pc-x86_64 --warm
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuild } from '../support/images.ts';

const args = process.argv.slice(2);
const warm = args.includes('--warm');
const images = args.filter((a) => !a.startsWith('--'));
const names = images.length ? images : ['clic-pc-x86_64', 'clic-rpi3', 'clic-rpi4'];

const fmt = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

for (const name of names) {
  const out = mkdtempSync(join(tmpdir(), 'clic-bench-out-'));
  const cache = warm ? undefined : mkdtempSync(join(tmpdir(), 'clic-bench-cache-'));
  const started = Date.now();
  const run = await runBuild(name, out, { cacheDir: cache });
  const total = Date.now() - started;
  const steps = run.events.filter((e) => e.type === 'step:end').map((e) => `${e.step} ${fmt(e.ms as number)}`);
  console.log(`${name}: ${run.code === 0 ? 'built' : `FAILED (exit ${run.code})`} in ${fmt(total)} (${warm ? 'warm apt cache' : 'cold'})`);
  console.log(`  ${steps.join(', ')}`);
  if (run.code !== 0) console.log(run.stderr.split('\n').slice(-15).join('\n'));
  rmSync(out, { recursive: true, force: true });
  if (cache) rmSync(cache, { recursive: true, force: true });
}
