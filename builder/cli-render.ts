/**
 * Human rendering of build events for the CLI (stderr): one line per step, cache replays,
 * download bars (redrawn in place on a terminal), a heartbeat for long steps, the outputs on
 * stdout at the end. Only the CLI uses it.
 *
 *   const human = humanRenderer(false);
 *   events.on(human.listener); … human.stop();
 */
import { DownloadProgress, isDownloadEvent } from './progress.ts';
import type { BuildEvent } from './events.ts';

export const seconds = (ms: number) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`);

/** prefix: set when several builds share the screen (build --all): every line names its image,
 *  and download bars are printed as lines instead of redrawn in place. */
const CACHE_ACTIONS: Record<'restore' | 'store' | 'lost', (step: string) => string> = {
  restore: (step) => `replayed cached ${step}`,
  store: (step) => `stored ${step} in the cache`,
  lost: (step) => `not stored: another build stored ${step} first, its entry is kept`,
};

export function humanRenderer(verbose: boolean, prefix = ''): { listener: (e: BuildEvent) => void; stop: () => void } {
  const write = (text: string) => process.stderr.write(prefix ? text.replace(/^(?=.)/gm, `[${prefix}] `) : text);
  let current: { step: string; since: number; last: string } | null = null;
  // download bars: redrawn in place on a terminal (at most 5 times a second); elsewhere, one line per file
  const tty = process.stderr.isTTY === true && !prefix;
  const progress = new DownloadProgress();
  let drawn = 0;
  let lastDraw = 0;
  const clearBars = () => {
    if (drawn) write(`\x1b[${drawn}F\x1b[0J`);
    drawn = 0;
  };
  const drawBars = () => {
    const lines = progress.lines(process.stderr.columns ?? 100);
    write(lines.join('\n') + '\n');
    drawn = lines.length;
    lastDraw = Date.now();
  };
  const heartbeat = setInterval(() => {
    if (current) write(`  … ${current.step} running for ${seconds(Date.now() - current.since)}${current.last ? `: ${current.last.slice(0, 100)}` : ''}\n`);
  }, 30_000);
  heartbeat.unref();
  const listener = (e: BuildEvent) => {
    if (isDownloadEvent(e)) {
      const line = progress.update(e);
      if (!tty) {
        if (line) write(line + '\n');
        return;
      }
      if (!line && e.type === 'download:progress' && Date.now() - lastDraw < 200) return;
      clearBars();
      if (line) write(line + '\n');
      drawBars();
      return;
    }
    if (drawn && (e.type !== 'output' || verbose) && (e.type !== 'cmd' || verbose)) clearBars();
    switch (e.type) {
      case 'build:start':
        write(`building ${e.image} for board ${e.board} (${e.steps.length} steps)\n`);
        break;
      case 'step:start':
        current = { step: e.step, since: Date.now(), last: '' };
        write(`▶ ${e.step}${e.description ? ` — ${e.description}` : ''}\n`);
        break;
      case 'output':
        if (current) current.last = e.line;
        if (verbose) write(`    ${e.line}\n`);
        break;
      case 'cmd':
        if (verbose) write(`  $ ${e.argv.join(' ').slice(0, 300)}\n`);
        break;
      case 'step:skip':
        write(`↷ ${e.step} — ${e.reason}${e.key ? ` (${e.key.slice(0, 12)})` : ''}\n`);
        break;
      case 'cache':
        write(`  ${CACHE_ACTIONS[e.action](e.step)} (${seconds(e.ms)})\n`);
        break;
      case 'step:end':
        current = null;
        write(`✓ ${e.step} (${seconds(e.ms)})\n`);
        break;
      case 'step:fail':
        current = null;
        write(`✗ ${e.step} (${seconds(e.ms)})\n`);
        break;
      case 'build:end':
        process.stdout.write(`${e.outputs.join('\n')}\n`);
        write(`built ${e.image} in ${seconds(e.ms)}\n`);
        break;
    }
  };
  return { listener, stop: () => clearInterval(heartbeat) };
}
