/**
 * The step cache: keys made of everything a step depends on, chained; an atomic store that a
 * killed writer or a concurrent one cannot corrupt; snapshots that replay a step's changes
 * (new, changed, deleted and retyped entries, modes, links, xattrs) onto another copy of its input.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheKey, canonicalJson, hashTree } from '../../builder/cache/keys.ts';
import { StepCache } from '../../builder/cache/store.ts';
import { indexTree, restoreSnapshot, treeOrder, writeSnapshot } from '../../builder/cache/snapshot.ts';
import { runCommand } from '../../builder/exec.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clic-cache-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tree(root: string, files: Record<string, string>): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

describe('cache keys', () => {
  it('do not depend on the order of an object\'s keys, and do on every value', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe(canonicalJson({ a: [2, { c: 4, d: 3 }], b: 1 }));
    const k = cacheKey('p', 'layer:x', { commands: ['a'], env: { A: '1' } });
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey('p', 'layer:x', { env: { A: '1' }, commands: ['a'] })).toBe(k);
    expect(cacheKey('q', 'layer:x', { commands: ['a'], env: { A: '1' } })).not.toBe(k);
    expect(cacheKey('p', 'layer:y', { commands: ['a'], env: { A: '1' } })).not.toBe(k);
    expect(cacheKey('p', 'layer:x', { commands: ['a'], env: { A: '2' } })).not.toBe(k);
    expect(cacheKey('p', 'x', { file: new Uint8Array([1, 2]) })).not.toBe(cacheKey('p', 'x', { file: new Uint8Array([1, 3]) }));
  });

  it('hash a folder by content: same content elsewhere, same hash; a byte, a mode or a name changed, another', async () => {
    const a = await tree(join(dir, 'a'), { 'etc/x.conf': 'one\n', 'usr/bin/tool': '#!/bin/sh\n' });
    const b = await tree(join(dir, 'b'), { 'usr/bin/tool': '#!/bin/sh\n', 'etc/x.conf': 'one\n' });
    const h = await hashTree(a);
    expect(await hashTree(b)).toBe(h);
    await writeFile(join(b, 'etc/x.conf'), 'one!\n');
    expect(await hashTree(b)).not.toBe(h);
    await writeFile(join(b, 'etc/x.conf'), 'one\n');
    await chmod(join(b, 'usr/bin/tool'), 0o755);
    expect(await hashTree(b)).not.toBe(h);
    await chmod(join(b, 'usr/bin/tool'), 0o644);
    await symlink('x.conf', join(b, 'etc/y.conf'));
    expect(await hashTree(b)).not.toBe(h);
    await utimes(join(a, 'etc/x.conf'), 1, 1); // times are not content
    expect(await hashTree(a)).toBe(h);
  });
});

describe('StepCache', () => {
  const info = { step: 'layer:x', image: 'img', parent: null };
  const key = (c: string) => c.repeat(64);

  it('finds an entry only once it is complete, with its size', async () => {
    const cache = new StepCache(join(dir, 'steps'));
    expect(await cache.get(key('a'))).toBeNull();
    let seenDuringFill: unknown = 'unset';
    await cache.put(key('a'), info, async (d) => {
      await writeFile(join(d, 'data'), 'x'.repeat(1000));
      seenDuringFill = await cache.get(key('a'));
    });
    expect(seenDuringFill).toBeNull();
    const entry = await cache.get(key('a'));
    expect(entry).toMatchObject({ key: key('a'), step: 'layer:x', image: 'img' });
    expect(entry!.bytes).toBe(1000);
    expect(await readFile(join(entry!.dir, 'data'), 'utf8')).toHaveLength(1000);
  });

  it('keeps nothing of a write that fails, and rethrows', async () => {
    const cache = new StepCache(join(dir, 'steps'));
    await expect(cache.put(key('b'), info, async () => { throw new Error('disk full'); })).rejects.toThrow('disk full');
    expect(await readdir(join(dir, 'steps'))).toEqual([]);
  });

  it('two writers of the same key: the first one wins, the second drops its copy', async () => {
    const cache = new StepCache(join(dir, 'steps'));
    let release!: () => void;
    const slow = cache.put(key('c'), info, async (d) => {
      await new Promise<void>((r) => (release = r));
      await writeFile(join(d, 'data'), 'slow');
    });
    expect(await cache.put(key('c'), info, (d) => writeFile(join(d, 'data'), 'fast'))).toBe(true);
    release();
    expect(await slow).toBe(false);
    expect(await readFile(join((await cache.get(key('c')))!.dir, 'data'), 'utf8')).toBe('fast');
    expect(await readdir(join(dir, 'steps'))).toEqual([key('c')]);
  });

  it('a writer killed with SIGKILL leaves a temporary folder, named after its lease, that is never read', async () => {
    const root = join(dir, 'steps');
    const cache = new StepCache(root, '4242-0000abcd');
    let tmp = '';
    await cache.put(key('d'), info, async (d) => {
      tmp = d;
      throw new Error('killed');
    }).catch(() => {});
    expect(tmp).toMatch(/\/\.tmp-[0-9a-f]{16}-[0-9a-f]{8}\.4242-0000abcd$/);
    // what a kill leaves: the folder half written
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, 'changes.tar.zst'), 'half');
    expect(await cache.get(key('d'))).toBeNull();
    expect((await cache.list()).map((e) => e.key)).toEqual([]);
  });

  it('prunes least recently used entries first, down to a size; or those unused for long; or all', async () => {
    const cache = new StepCache(join(dir, 'steps'));
    for (const c of ['1', '2', '3']) await cache.put(key(c), info, (d) => writeFile(join(d, 'data'), 'x'.repeat(1000)));
    const old = new Date(Date.now() - 10 * 86_400_000);
    await utimes(join(dir, 'steps', key('2'), 'meta.json'), old, old);
    await utimes(join(dir, 'steps', key('1'), 'meta.json'), new Date(Date.now() - 5 * 86_400_000), new Date(Date.now() - 5 * 86_400_000));
    expect((await cache.list()).map((e) => e.key)).toEqual([key('2'), key('1'), key('3')]);
    expect((await cache.prune({ unusedForMs: 7 * 86_400_000 })).map((e) => e.key)).toEqual([key('2')]);
    const size = (await cache.list())[0].bytes;
    expect((await cache.prune({ maxBytes: size + 10 })).map((e) => e.key)).toEqual([key('1')]);
    expect(await cache.get(key('3'))).not.toBeNull();
    expect((await cache.prune({ all: true })).map((e) => e.key)).toEqual([key('3')]);
    expect(await readdir(join(dir, 'steps'))).toEqual([]);
  });
});

describe('root file system snapshots', () => {
  it('list a folder\'s entries right after it, as tar writes a tree', () => {
    expect(['a/c', 'a-b', 'a', '', 'a/c/d', 'b'].sort(treeOrder)).toEqual(['', 'a', 'a/c', 'a/c/d', 'a-b', 'b']);
  });

  const run = (argv: readonly string[]) => runCommand(argv);
  const listing = (root: string) =>
    execFileSync('find', [root, '-mindepth', '1', '-printf', '%P %y %m %U:%G %s %l %T@\\n']).toString().split('\n').sort().join('\n');

  it('replay a step\'s new, changed, deleted and retyped entries, with modes, owners, links and xattrs', async () => {
    const root = await tree(join(dir, 'root'), { 'etc/keep': 'k', 'etc/change': 'old', 'etc/gone': 'g', 'etc-x/f': 'f', 'var/lib/dir/f': 'f', 'retype': 'file' });
    const copy = join(dir, 'copy');
    await runCommand(['cp', '-a', root, copy]);
    const before = await indexTree(root);
    await new Promise((r) => setTimeout(r, 20)); // a later modification time than the copy's
    // the "step"
    await writeFile(join(root, 'etc/change'), 'new and longer');
    await writeFile(join(root, 'etc-x/new'), 'n'); // sorts between etc/ and its entries as plain strings
    await utimes(join(root, 'etc'), 1_700_000_000, 1_700_000_000); // dated, as finalize does
    await rm(join(root, 'etc/gone'));
    await rm(join(root, 'var/lib/dir'), { recursive: true });
    await rm(join(root, 'retype'));
    await mkdir(join(root, 'retype'));
    await writeFile(join(root, 'retype/inside'), 'i');
    await writeFile(join(root, 'usr-bin-tool'), '#!/bin/sh\n');
    await chmod(join(root, 'usr-bin-tool'), 0o4755);
    await symlink('/etc/keep', join(root, 'link'));
    execFileSync('chown', ['1234:5678', join(root, 'etc/keep')]);
    execFileSync('setfattr', ['-n', 'user.clic', '-v', 'cached', join(root, 'usr-bin-tool')]);
    execFileSync('setcap', ['cap_net_raw+ep', join(root, 'etc/change')]); // as ping has in the image

    const entry = join(dir, 'entry');
    await mkdir(entry);
    const stats = await writeSnapshot(run, root, before, entry);
    expect((await readFile(join(entry, 'deleted'), 'utf8')).split('\0')).toEqual(['etc/gone', 'retype', 'var/lib/dir', 'var/lib/dir/f']);
    expect(stats.deleted).toBe(4);
    expect(await readdir(entry)).toEqual(['changes.tar.zst', 'deleted']);
    await restoreSnapshot(run, entry, copy);
    expect(listing(copy)).toBe(listing(root));
    expect(await readFile(join(copy, 'etc/change'), 'utf8')).toBe('new and longer');
    expect(await readlink(join(copy, 'link'))).toBe('/etc/keep');
    expect((await stat(join(copy, 'usr-bin-tool'))).mode & 0o7777).toBe(0o4755);
    expect(execFileSync('getfattr', ['--only-values', '-n', 'user.clic', join(copy, 'usr-bin-tool')]).toString()).toBe('cached');
    expect(execFileSync('getcap', [join(copy, 'etc/change')]).toString()).toContain('cap_net_raw=ep');
  });

  it('of a step that starts from nothing hold the whole tree', async () => {
    const before = await indexTree(join(dir, 'absent'));
    expect(before.size).toBe(0);
    const root = await tree(join(dir, 'absent'), { 'a/b': 'b', c: 'c' });
    const entry = join(dir, 'entry');
    await mkdir(entry);
    await writeSnapshot(run, root, before, entry);
    await restoreSnapshot(run, entry, join(dir, 'fresh'));
    expect(listing(join(dir, 'fresh'))).toBe(listing(root));
  });
});
