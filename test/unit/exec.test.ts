/**
 * runCommand: a failed command reports its exit code and the tail of its output; aborting ends
 * the command and everything it started (its whole process group).
 */
import { describe, expect, it } from 'vitest';
import { AbortedError, CommandError } from '../../builder/errors.ts';
import { runCommand } from '../../builder/exec.ts';
import { alive, until } from './helpers/processes.ts';

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('the command succeeded'); }, (e: unknown) => e);

describe('runCommand', () => {
  it('returns stdout and passes input, env and cwd', async () => {
    const { stdout } = await runCommand(['sh', '-c', 'cat; echo "$CLIC_X"; pwd'], { input: 'in\n', env: { CLIC_X: 'x' }, cwd: '/' });
    expect(stdout).toBe('in\nx\n/\n');
  });

  it('keeps the last lines of stdout and stderr of a failed command', async () => {
    const err = await failure(runCommand(['sh', '-c', 'for i in $(seq 1 40); do echo "line $i" >&2; done; exit 3']));
    expect(err).toBeInstanceOf(CommandError);
    const { exitCode, signal, stderrTail, message } = err as CommandError;
    expect({ exitCode, signal, message }).toEqual({ exitCode: 3, signal: null, message: 'sh exited with code 3' });
    const lines = stderrTail.split('\n');
    expect(lines).toHaveLength(25);
    expect(lines[0]).toBe('line 16');
    expect(lines.at(-1)).toBe('line 40');
  });

  it('keeps tailLines lines, and a last line with no newline', async () => {
    const err = (await failure(runCommand(['sh', '-c', 'echo a; echo b >&2; printf c >&2; exit 1'], { tailLines: 2 }))) as CommandError;
    expect(err.stderrTail).toBe('b\nc');
  });

  it('reports a command killed by a signal', async () => {
    const err = (await failure(runCommand(['sh', '-c', 'kill -KILL $$']))) as CommandError;
    expect(err).toBeInstanceOf(CommandError);
    expect(err.exitCode).toBeNull();
    expect(err.signal).toBe('SIGKILL');
    expect(err.message).toBe('sh was killed by SIGKILL');
  });

  it('reports a command that does not exist', async () => {
    const err = (await failure(runCommand(['/nonexistent/clic-tool']))) as CommandError;
    expect(err).toBeInstanceOf(CommandError);
    expect(err.stderrTail).toContain('ENOENT');
  });

  it('does not start anything when already aborted', async () => {
    const c = new AbortController();
    c.abort('SIGINT');
    const started: string[] = [];
    const err = await failure(runCommand(['sh', '-c', 'echo started'], { signal: c.signal, onLine: (l) => started.push(l) }));
    expect(err).toBeInstanceOf(AbortedError);
    expect((err as AbortedError).signal).toBe('SIGINT');
    expect(started).toEqual([]);
  });

  it('on abort, kills the whole process group, not just the shell', async () => {
    const c = new AbortController();
    const pids: number[] = [];
    // the shell prints its own pid and both sleeps', then waits for them
    const run = runCommand(['sh', '-c', 'echo $$; sleep 30 & echo $!; sleep 30 & echo $!; wait'], {
      signal: c.signal,
      onLine: (l) => pids.push(Number(l)),
    });
    expect(await until(() => pids.length === 3, 5000)).toBe(true);
    expect(pids.every(alive)).toBe(true);
    const started = Date.now();
    c.abort('SIGTERM');
    const err = await failure(run);
    expect(err).toBeInstanceOf(AbortedError);
    expect(Date.now() - started).toBeLessThan(5000); // SIGTERM was enough: no SIGKILL grace wait
    // once reparented, a killed sleep may need a moment to be reaped
    expect(await until(() => !pids.some(alive), 2000), `still alive: ${pids.filter(alive).join(' ')}`).toBe(true);
  });
});
