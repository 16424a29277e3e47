/**
 * Runs external commands for the build: each in its own process group so that an interrupted
 * build can end it and everything it started; the last lines of its output are kept for the
 * error message. Within withCommandEnv (a build), every command also gets that environment
 * (the build's lease id, by which a killed build's commands are found and ended).
 *
 *   await runCommand(['sfdisk', img], { input: table, signal, onLine });
 *   await withCommandEnv({ CLIC_IMAGE_BUILD: id }, () => runCommand(['mmdebstrap', …]));
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn } from 'node:child_process';
import { AbortedError, CommandError } from './errors.ts';

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  signal?: AbortSignal;
  onLine?: (line: string) => void;
  /** Lines of combined output kept for the error message. */
  tailLines?: number;
}

const KILL_GRACE_MS = 10_000;

const commandEnv = new AsyncLocalStorage<Record<string, string>>();

/** Runs fn with env added to the environment of every command it starts, however deep. */
export function withCommandEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  return commandEnv.run({ ...commandEnv.getStore(), ...env }, fn);
}

export function runCommand(argv: readonly string[], opts: RunOptions = {}): Promise<{ stdout: string }> {
  const { signal, tailLines = 25 } = opts;
  if (signal?.aborted) return Promise.reject(new AbortedError(String(signal.reason ?? 'abort')));
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: opts.cwd,
      env: { ...process.env, ...commandEnv.getStore(), ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const tail: string[] = [];
    let stdout = '';
    let pending = { out: '', err: '' };
    const takeLines = (chunk: string, which: 'out' | 'err') => {
      const text = pending[which] + chunk;
      const lines = text.split('\n');
      pending[which] = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line);
        if (tail.length > tailLines) tail.shift();
        opts.onLine?.(line);
      }
    };
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      takeLines(c, 'out');
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => takeLines(c, 'err'));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');

    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new CommandError(argv, null, null, err.message, `cannot run ${argv[0]}: ${err.message}`));
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      for (const which of ['out', 'err'] as const) if (pending[which]) takeLines('\n', which);
      if (signal?.aborted) return reject(new AbortedError(String(signal.reason ?? 'abort')));
      if (code === 0) return resolve({ stdout });
      reject(new CommandError(argv, code, sig, tail.join('\n')));
    });
  });
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals) {
  if (!pid) return;
  try {
    process.kill(-pid, sig);
  } catch {
    // already gone
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
