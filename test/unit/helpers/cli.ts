/** Runs the real command line (`node bin/clic-image.js …`) and collects what it printed. */
import { execFile } from 'node:child_process';
import { CLI, ROOT } from './paths.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Per-test timeout for tests that spawn the CLI: a busy machine (an image build next door) slows them. */
export const SPAWN_TIMEOUT = 30_000;

export function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, timeout: SPAWN_TIMEOUT - 5_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Lines that look like a JavaScript stack frame. */
export const stackLines = (text: string) => text.split('\n').filter((l) => /^\s+at /.test(l));
