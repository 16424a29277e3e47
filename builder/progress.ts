/**
 * Download progress as text, for the CLI: one bar per file in flight plus a total line, from the
 * `download:*` build events. Pure: it keeps the state and returns lines; the CLI decides how to
 * print them (redrawn in place on a terminal, a line per finished file otherwise).
 *
 *   const progress = new DownloadProgress();
 *   progress.update(event);
 *   progress.lines(80); // ['wikipedia_fr_all_mini_2024-05.zim  [#####-----]  48%  1.9/4.1 GiB  12.3 MiB/s', …, 'total …']
 */
import type { BuildEvent } from './events.ts';
import { formatBytes } from './download/index.ts';

type DownloadEvent = Extract<BuildEvent, { type: `download:${string}` }>;

interface FileState {
  bytes: number;
  size: number | null;
  started: number;
  /** bytes and time of the start of the current attempt, for the rate */
  fromBytes: number;
  note: string;
}

export const isDownloadEvent = (e: BuildEvent): e is DownloadEvent => e.type.startsWith('download:');

const size = formatBytes;

function bar(fraction: number, width: number): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export class DownloadProgress {
  private files = new Map<string, FileState>();
  private total = { bytes: 0, size: null as number | null };
  private done = 0;
  private cached = 0;

  constructor(private now: () => number = Date.now) {}

  /** Updates the state; returns a line worth printing on its own (a file done, a retry), if any. */
  update(e: DownloadEvent): string | null {
    switch (e.type) {
      case 'download:start':
        this.files.set(e.name, { bytes: e.resumeFrom, size: e.size, started: this.now(), fromBytes: e.resumeFrom, note: e.resumeFrom ? `resumed at ${size(e.resumeFrom)}` : '' });
        return null;
      case 'download:progress': {
        const f = this.files.get(e.name);
        if (f) Object.assign(f, { bytes: e.bytes, size: e.size ?? f.size });
        this.total = { bytes: e.totalBytes, size: e.totalSize };
        return null;
      }
      case 'download:retry': {
        const f = this.files.get(e.name);
        if (f) f.note = `retry ${e.attempt} in ${(e.delayMs / 1000).toFixed(1)} s`;
        return `  ${e.name}: ${e.error} — retry ${e.attempt} in ${(e.delayMs / 1000).toFixed(1)} s`;
      }
      case 'download:end': {
        this.files.delete(e.name);
        this.done++;
        if (e.cached) {
          this.cached++;
          return `  ${e.name}: already downloaded and verified (cache)`;
        }
        const rate = e.ms > 0 ? ` at ${size((e.bytes * 1000) / e.ms)}/s` : '';
        return `  ${e.name}: ${size(e.bytes)} in ${(e.ms / 1000).toFixed(1)} s${rate}, sha256 verified`;
      }
    }
    return null;
  }

  /** The files in flight, then the total; each line at most `width` characters. */
  lines(width: number): string[] {
    const out: string[] = [];
    const nameWidth = Math.max(12, Math.min(40, width - 52));
    for (const [name, f] of this.files) {
      const fraction = f.size ? f.bytes / f.size : 0;
      const seconds = (this.now() - f.started) / 1000;
      const rate = seconds > 0.5 ? `${size((f.bytes - f.fromBytes) / seconds)}/s` : '';
      const shown = name.length > nameWidth ? `…${name.slice(-(nameWidth - 1))}` : name.padEnd(nameWidth);
      const amount = f.size ? `${size(f.bytes)}/${size(f.size)}` : size(f.bytes);
      const line = `  ${shown} ${bar(fraction, 20)} ${f.size ? `${Math.floor(fraction * 100)}%`.padStart(4) : '   ?'}  ${amount}  ${rate}${f.note ? `  (${f.note})` : ''}`;
      out.push(line.slice(0, width));
    }
    const totalFraction = this.total.size ? this.total.bytes / this.total.size : 0;
    const totals = this.total.size ? `${size(this.total.bytes)}/${size(this.total.size)}` : size(this.total.bytes);
    out.push(`  total ${bar(totalFraction, 20)} ${totals}, ${this.done} file${this.done === 1 ? '' : 's'} done${this.cached ? ` (${this.cached} from the cache)` : ''}`.slice(0, width));
    return out;
  }
}
