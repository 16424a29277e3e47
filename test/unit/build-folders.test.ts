/**
 * The build's folders checked before any work: a file where a folder is expected, a folder that
 * cannot be made, too little room (counted on the file system the folders share); each problem
 * one sentence naming the path. Read-only and full file systems: test/integration/folders.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFolder, checkFolders, plannedImageBytes, ROOT_TREE_FLOOR_BYTES } from '../../builder/build-folders.ts';
import { planOf } from '../support/plans.ts';
import { cli, stackLines } from './helpers/cli.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clic-folders-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const failure = (p: Promise<unknown>) => p.then(() => null, (e: Error) => e.message);

describe('build folders', () => {
  it('an existing folder, or one that can be made, passes and names the folder it will be made in', async () => {
    expect(await checkFolder(dir, 'output folder')).toBe(dir);
    expect(await checkFolder(join(dir, 'a/b/c'), 'output folder')).toBe(dir);
  });

  it('a file where a folder is expected, or in its path', async () => {
    await writeFile(join(dir, 'file'), '');
    expect(await failure(checkFolder(join(dir, 'file'), 'cache folder'))).toBe(`cache folder ${dir}/file: is a file, not a folder`);
    expect(await failure(checkFolder(join(dir, 'file/out'), 'output folder'))).toBe(`output folder ${dir}/file/out: cannot be made, ${dir}/file is a file, not a folder`);
    expect(await failure(checkFolder(join(dir, 'file/a/b'), 'output folder'))).toBe(`output folder ${dir}/file/a/b: cannot be made, ${dir}/file is a file, not a folder`);
  });

  it('counts the image in the output folder and twice it in the cache folder, together on one file system', async () => {
    const plan = await planOf('clic-pc-x86_64', join(dir, 'out'));
    const image = plannedImageBytes(plan);
    expect(image).toBeGreaterThan(ROOT_TREE_FLOOR_BYTES);
    await expect(checkFolders(plan, join(dir, 'cache'))).resolves.toBeUndefined();
    const fs = statfsSync(dir);
    const free = fs.bavail * fs.bsize;
    // as much content as the file system has room for: both folders are on it
    const content = { partition: plan.partitions[0], sets: [], resolved: [{ size: free, layer: 'kiwix', dir: 'kiwix' }] } as unknown as typeof plan.content;
    const message = await failure(checkFolders({ ...plan, content }, join(dir, 'cache')));
    expect(message).toMatch(new RegExp(`^output folder ${dir}/out and cache folder ${dir}/cache: not enough free space, the image and the root tree and the partition files need at least [0-9.]+ GiB and [0-9.]+ GiB is free$`));
  });

  it('the CLI says it in one line, before any work', async () => {
    await writeFile(join(dir, 'file'), '');
    await mkdir(join(dir, 'out'));
    const r = await cli(['build', 'clic-pc-x86_64', '--out', join(dir, 'out'), '--cache-dir', join(dir, 'file')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: cache folder ${dir}/file: is a file, not a folder`);
    expect(stackLines(r.stderr)).toEqual([]);
  });
});
