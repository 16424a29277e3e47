/**
 * The command line as users meet it: one located `error:` line per problem, no stack trace
 * (unless --debug), exit codes 0 / 1 (recipe or build error) / 2 (usage), help that needs no
 * root and no registry.
 */
import { join } from 'node:path';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { labSchema } from '../../builder/recipe/schema.ts';
import { cli, SPAWN_TIMEOUT, stackLines } from './helpers/cli.ts';
import { expectedProblems } from './helpers/expect-comments.ts';
import { LABS } from './helpers/paths.ts';
import { projectRegistry } from './helpers/registries.ts';

describe.concurrent('clic-image plan <invalid lab>', { timeout: SPAWN_TIMEOUT }, () => {
  it.each(['hostname-not-string.yaml', 'board-unknown.yaml', 'yaml-syntax.yaml'])('%s: one located error line, no stack trace', async (f) => {
    const file = join(LABS, 'invalid', f);
    const [want] = expectedProblems(file);
    const { code, stdout, stderr } = await cli(['plan', file]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    const errors = stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0].startsWith(`error: ${file}:${want.line}: ${want.path ? `${want.path}: ` : ''}`), errors[0]).toBe(true);
    expect(errors[0]).toContain(want.text);
    expect(stackLines(stderr)).toEqual([]);
  });

  it('--debug adds the stack trace', async () => {
    const { code, stderr } = await cli(['plan', join(LABS, 'invalid/board-unknown.yaml'), '--debug']);
    expect(code).toBe(1);
    expect(stackLines(stderr).length).toBeGreaterThan(0);
  });

  it('--json also prints the error as one JSON object on stdout', async () => {
    const { code, stdout } = await cli(['plan', join(LABS, 'invalid/board-unknown.yaml'), '--json']);
    expect(code).toBe(1);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ type: 'error', code: 1, message: expect.stringContaining('/board') });
  });

  it('an unknown image name suggests the close ones', async () => {
    const { code, stderr } = await cli(['plan', 'clic-rpi5']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: clic-rpi5: .*did you mean clic-rpi3 or clic-rpi4\?$/m);
  });
});

describe.concurrent('clic-image usage', { timeout: SPAWN_TIMEOUT }, () => {
  it('--help lists the commands', async () => {
    const { code, stdout, stderr } = await cli(['--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    for (const c of ['build', 'plan', 'list', 'schema']) expect(stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  });

  it.each([
    ['build', ['--out', '--mirror', '--cache-dir', '--install-host-tools', '--json', '--verbose', '--debug', '--compress', '--sign', '--all', '--jobs']],
    ['plan', ['--json', '--out', '--mirror']],
  ])('%s --help shows its usage and options', async (command, options) => {
    const { code, stdout } = await cli([command, '--help']);
    expect(code).toBe(0);
    expect(stdout.startsWith(`usage: clic-image ${command} <recipe>`)).toBe(true);
    for (const o of options) expect(stdout).toContain(o);
  });

  it('list names every board, layer (with its variables) and image', async () => {
    const registry = await projectRegistry();
    const { code, stdout } = await cli(['list']);
    expect(code).toBe(0);
    const names = (section: string) => {
      const lines = stdout.split('\n');
      const start = lines.indexOf(section) + 1;
      const end = lines.findIndex((l, i) => i >= start && /^\S/.test(l));
      return lines.slice(start, end === -1 ? undefined : end).filter((l) => /^  \S/.test(l)).map((l) => l.trim().split(/\s+/)[0]);
    };
    expect(names('boards')).toEqual([...registry.boards.keys()]);
    expect(names('layers')).toEqual([...registry.layers.keys()]);
    expect(names('images')).toEqual([...registry.images.keys()]);
    for (const layer of registry.layers.values()) for (const v of Object.keys(layer.vars ?? {})) expect(stdout).toMatch(new RegExp(`^ {6}${v} \\(`, 'm'));
  });

  it('list --json is the registry', async () => {
    const registry = await projectRegistry();
    const { code, stdout } = await cli(['list', '--json']);
    expect(code).toBe(0);
    const listed = JSON.parse(stdout) as Record<'boards' | 'layers' | 'images', { name: string }[]>;
    expect(listed.boards.map((b) => b.name)).toEqual([...registry.boards.keys()]);
    expect(listed.layers.map((b) => b.name)).toEqual([...registry.layers.keys()]);
    expect(listed.images.map((b) => b.name)).toEqual([...registry.images.keys()]);
  });

  it('schema prints the lab schema', async () => {
    const { code, stdout } = await cli(['schema']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(JSON.parse(JSON.stringify(labSchema(await projectRegistry()))));
  });

  it.each([['frob'], ['constructor'], ['toString']])('unknown command "%s" exits 2 with the usage', async (command) => {
    const { code, stdout, stderr } = await cli([command]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.split('\n')[0]).toBe(`unknown command "${command}"`);
    expect(stderr).toContain('usage: clic-image <command>');
    expect(stackLines(stderr)).toEqual([]);
  });

  it('help <command> prints that command\'s help, help <unknown> the main one', async () => {
    expect((await cli(['help', 'plan'])).stdout).toMatch(/^usage: clic-image plan /);
    const other = await cli(['help', 'constructor']);
    expect(other.code).toBe(0);
    expect(other.stdout).toMatch(/^clic-image — /);
  });

  it('plan without a recipe exits 2 with the plan usage', async () => {
    const { code, stderr } = await cli(['plan']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^plan: missing <recipe>/);
    expect(stderr).toContain('usage: clic-image plan <recipe>');
  });

  it.each([
    ['release', 'usage: clic-image release <dir>', ['--base-url', '--sign', 'os_list_clic.json', 'images.json', 'index.html']],
    ['verify', 'usage: clic-image verify <dir>', ['--key', '--ignore-missing']],
  ])('%s --help shows its usage and options', async (command, usage, words) => {
    const { code, stdout } = await cli([command, '--help']);
    expect(code).toBe(0);
    expect(stdout.startsWith(usage)).toBe(true);
    for (const w of words) expect(stdout).toContain(w);
  });

  it.each([
    [['build', 'clic-rpi4', '--compress', 'gzip'], /^--compress "gzip": expected xz, zst, xz,zst or none$/m],
    [['build', '--all', 'clic-rpi4'], /^build: give recipes or --all, not both$/m],
    [['build', 'clic-rpi4', '--jobs', '0'], /^--jobs "0": expected a whole number, 1 or more$/m],
    [['build', 'clic-rpi4', 'clic-rpi3', '--pin-packages', 'x.packages'], /^--pin-packages: one image at a time/m],
    [['verify'], /^verify: missing <dir>/],
    [['release'], /^release: missing <dir>/],
  ])('%j exits 2 and says what is expected', async (args, message) => {
    const { code, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stackLines(stderr)).toEqual([]);
  });

  it('a signing key spec it does not know is an error naming the forms it takes', async () => {
    const { code, stderr } = await cli(['build', 'clic-rpi4', '--sign', 'ssh:id_ed25519']);
    expect(code).toBe(1);
    expect(stderr).toBe('error: --sign "ssh:id_ed25519": expected gpg:<key id> or minisign:<secret key file>\n');
  });

  it('verify of a folder without SHA256SUMS exits 1 and says what is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clic-cli-verify-'));
    try {
      const { code, stderr } = await cli(['verify', dir]);
      expect(code).toBe(1);
      expect(stderr).toContain(`✗ sums      SHA256SUMS: missing in ${dir}: a build writes it beside the images`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unknown option or an extra argument exits 2', async () => {
    expect((await cli(['plan', 'clic-rpi4', '--frob'])).code).toBe(2);
    const extra = await cli(['plan', 'clic-rpi4', 'clic-rpi3']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('unexpected arguments: clic-rpi3');
  });
});

describe('clic-image cache', () => {
  it('ls on an empty cache says so; bad values exit 2; a killed build\'s leftovers are listed, and removed by a plain prune', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clic-cli-cache-'));
    try {
      const ls = await cli(['cache', 'ls', '--cache-dir', dir]);
      expect(ls.code).toBe(0);
      expect(ls.stdout).toMatch(/^0 entries, 0\.0 MiB in /m);
      expect(ls.stdout).toMatch(/^0 downloaded files \(ZIM…\), 0\.0 MiB in .*downloads\/sha256$/m);
      expect(ls.stdout).toMatch(/^0 content partitions, 0\.0 MiB in .*content$/m);
      expect(JSON.parse((await cli(['cache', 'ls', '--json', '--cache-dir', dir])).stdout)).toEqual({ entries: [], leftovers: [] });
      for (const args of [['cache'], ['cache', 'frob'], ['cache', 'prune', '--max-size', 'lots'], ['cache', 'prune', '--unused-for', 'soon']]) {
        const r = await cli([...args, '--cache-dir', dir]);
        expect(r.code, args.join(' ')).toBe(2);
        expect(stackLines(r.stderr)).toEqual([]);
      }
      // the scratch folder of a build whose lease nobody holds (killed)
      const scratch = join(dir, 'work', 'clic-pc-x86_64.4242-0000abcd');
      mkdirSync(join(scratch, 'rootfs/etc'), { recursive: true });
      const listed = await cli(['cache', 'ls', '--cache-dir', dir]);
      expect(listed.stdout).toContain(`left by builds that were killed (cache prune removes them):\n  scratch folder of a build: ${scratch}`);
      const swept = await cli(['cache', 'prune', '--cache-dir', dir]);
      expect([swept.code, swept.stdout]).toEqual([0, 'removed 1 leftover of killed builds\n']);
      expect(existsSync(scratch)).toBe(false);
      const pruned = await cli(['cache', 'prune', '--max-size', '20G', '--cache-dir', dir]);
      expect(pruned.code).toBe(0);
      expect(pruned.stdout).toContain('removed 0 entries');
      // --all takes the downloads and content partitions too
      mkdirSync(join(dir, 'downloads/sha256'), { recursive: true });
      writeFileSync(join(dir, 'downloads/sha256', 'a'.repeat(64)), 'zim');
      mkdirSync(join(dir, 'content'));
      writeFileSync(join(dir, 'content', `${'b'.repeat(64)}.ext4`), 'partition');
      expect((await cli(['cache', 'ls', '--cache-dir', dir])).stdout).toMatch(/^1 downloaded files \(ZIM…\), 0\.0 MiB/m);
      const all = await cli(['cache', 'prune', '--all', '--cache-dir', dir]);
      expect(all.stdout).toContain('the downloads and the content partitions');
      expect(existsSync(join(dir, 'downloads'))).toBe(false);
      expect(existsSync(join(dir, 'content'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, SPAWN_TIMEOUT * 8);
});
