/**
 * Ctrl-C (SIGINT) during bootstrap, disk assembly and compression: the build stops, says so,
 * and leaves no partial output, no mount, no loop device, no process and no scratch folder; the
 * next build succeeds.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuild, TEST_CACHE } from '../support/images.ts';

const RECIPE = 'clic-pc-x86_64';

function loopDevices(): string {
  return execFileSync('losetup', ['--list', '--noheadings']).toString();
}

function processesMentioning(text: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        return '';
      }
    })
    .filter((cmd) => cmd.includes(text));
}

function mountsMentioning(text: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(text));
}

async function interruptAt(step: string, delayMs: number) {
  // the bootstrap must really run to be interrupted: no step cache; compression comes after the
  // cached steps, replayed from the tests' cache
  const cache = step === 'bootstrap' ? { noCache: true } : { cacheDir: TEST_CACHE };
  const out = mkdtempSync(join(tmpdir(), 'clic-interrupt-'));
  const loopsBefore = loopDevices();
  let workDir = '';
  let sent = false;
  const run = await runBuild(RECIPE, out, {
    ...cache,
    extraArgs: step === 'compress' ? ['--compress', 'xz'] : [],
    onEvent: (e, child) => {
      if (e.type === 'cmd' && !workDir) {
        // the build's scratch folder: <cache>/work/<image>.<lease id>
        const scratch = new RegExp(`^(.*/work/${RECIPE}\\.\\d+-[0-9a-f]{8})(/|$)`);
        for (const arg of e.argv as string[]) workDir ||= scratch.exec(arg)?.[1] ?? '';
      }
      if (e.type === 'step:start' && e.step === step && !sent) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), delayMs);
      }
    },
  });
  return { run, out, workDir, loopsBefore };
}

describe('interrupting a build with SIGINT', () => {
  for (const [step, delayMs] of [
    ['bootstrap', 15_000],
    ['disk', 0],
    ['compress', 5_000],
  ] as const) {
    it(`during ${step} leaves nothing behind`, async () => {
      const { run, out, workDir, loopsBefore } = await interruptAt(step, delayMs);
      expect(run.code).toBe(130);
      expect(run.stderr).toMatch(/interrupted by SIGINT/);
      expect(run.stderr).not.toMatch(/^\s+at /m);
      const started = run.events.filter((e) => e.type === 'step:start').map((e) => e.step);
      expect(started).toContain(step);
      if (step === 'compress') expect(processesMentioning('xz --threads')).toEqual([]);
      expect(run.events.some((e) => e.type === 'build:end')).toBe(false);
      expect(readdirSync(out)).toEqual([]);
      rmdirSync(out);
      expect(workDir).not.toBe('');
      expect(existsSync(workDir)).toBe(false);
      expect(mountsMentioning(workDir)).toEqual([]);
      expect(processesMentioning(workDir)).toEqual([]);
      expect(loopDevices()).toBe(loopsBefore);
    });
  }

  it('does not stop the next build from succeeding', async () => {
    const out = mkdtempSync(join(tmpdir(), 'clic-after-interrupt-'));
    // in the cache the interrupted builds used: what they left there must not stand in its way
    const run = await runBuild(RECIPE, out, { cacheDir: TEST_CACHE });
    expect(run.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['SHA256SUMS', `${RECIPE}.img`, `${RECIPE}.img.bmap`, `${RECIPE}.img.sha256`, `${RECIPE}.manifest.json`, `${RECIPE}.packages`]);
    execFileSync('rm', ['-rf', out]);
  });
});
