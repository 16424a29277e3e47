/**
 * Watching real processes in tests: whether one still runs, and waiting (bounded) for a condition.
 *
 *   expect(await until(() => !alive(pid), 5000)).toBe(true);
 */
import { readFileSync } from 'node:fs';

/** Alive and not a zombie waiting to be reaped. */
export function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls cond until it holds or ms have passed; its last answer. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (cond()) return true;
  return cond();
}
