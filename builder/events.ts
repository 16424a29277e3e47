/**
 * Typed build events. The library emits them; the CLI renders them for humans or as JSON lines;
 * tests assert on them rather than on screen text.
 *
 *   const events = new BuildEvents();
 *   events.on((e) => { if (e.type === 'step:end') console.log(e.step, e.ms); });
 */

import type { DownloadEvent } from './download/index.ts';

export type BuildEvent =
  | { type: 'build:start'; image: string; board: string; steps: string[] }
  | { type: 'step:start'; step: string; description: string }
  | { type: 'step:skip'; step: string; reason: string; key?: string }
  /** A cached step's stored changes replayed onto the tree (restore), a step's changes stored, or
   *  not stored because another build stored the same key first (lost: its entry is kept). */
  | { type: 'cache'; step: string; action: 'restore' | 'store' | 'lost'; key: string; ms: number }
  | { type: 'cmd'; step: string; argv: string[] }
  | { type: 'output'; step: string; line: string }
  | { type: 'step:end'; step: string; ms: number }
  | { type: 'step:fail'; step: string; ms: number; message: string }
  | { type: 'cleanup'; step: string; what: string }
  | { type: 'build:end'; image: string; outputs: string[]; ms: number }
  /** Downloads (builder/download): start, throttled progress, retries, end (cached: no network). */
  | (DownloadEvent & { step: string });

export type Listener = (event: BuildEvent) => void;

export class BuildEvents {
  private listeners: Listener[] = [];
  on(listener: Listener): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }
  emit(event: BuildEvent): void {
    for (const l of this.listeners) l(event);
  }
}
