/**
 * Errors are values with a place. The CLI alone turns them into text and an exit code.
 *
 *   throw new RecipeError('lab.yaml', [{ path: '/vars/base/hostname', message: 'must be string' }]);
 *   throw new StepError({ step: 'bootstrap', phase: 'run', message: 'mmdebstrap exited with 1', stderrTail });
 */

export interface RecipeProblem {
  /** JSON pointer into the file, e.g. `/vars/hotspot/ssid`; empty for the whole file. */
  path: string;
  message: string;
  line?: number;
}

export class RecipeError extends Error {
  constructor(
    readonly file: string,
    readonly problems: RecipeProblem[],
  ) {
    super(problems.map((p) => `${file}${p.line ? `:${p.line}` : ''}: ${p.path || '(file)'}: ${p.message}`).join('\n'));
    this.name = 'RecipeError';
  }
}

export class HostToolError extends Error {
  constructor(readonly missing: { tool: string; debianPackage: string }[]) {
    const pkgs = [...new Set(missing.map((m) => m.debianPackage))].join(' ');
    super(
      `missing host tools: ${missing.map((m) => m.tool).join(', ')} — install them with: apt-get install -y ${pkgs}`,
    );
    this.name = 'HostToolError';
  }
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly signal: string | null,
    /** The last lines the command printed (stdout and stderr, interleaved as they came). */
    readonly stderrTail: string,
    message?: string,
  ) {
    super(message ?? `${argv[0]} ${signal ? `was killed by ${signal}` : `exited with code ${exitCode}`}`);
    this.name = 'CommandError';
  }
}

export class AbortedError extends Error {
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
    this.name = 'AbortedError';
  }
}

export class StepError extends Error {
  readonly step: string;
  readonly phase: 'verify' | 'run' | 'cleanup';
  readonly hint?: string;
  constructor(opts: { step: string; phase: 'verify' | 'run' | 'cleanup'; cause: unknown; hint?: string }) {
    const cause = opts.cause instanceof Error ? opts.cause.message : String(opts.cause);
    super(`step "${opts.step}" failed (${opts.phase}): ${cause}`, { cause: opts.cause });
    this.name = 'StepError';
    this.step = opts.step;
    this.phase = opts.phase;
    this.hint = opts.hint;
  }
  get stderrTail(): string | undefined {
    return this.cause instanceof CommandError ? this.cause.stderrTail : undefined;
  }
}
