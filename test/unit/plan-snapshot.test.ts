/**
 * `clic-image plan --json` of the shipped images, snapshotted (paths made relative to the
 * project, a fixed SOURCE_DATE_EPOCH): a change to a package list, a step, a label or a derived
 * id shows up in review. Update with `npx vitest run --project unit -u` when the change is meant.
 */
import { describe, expect, it } from 'vitest';
import { cli, SPAWN_TIMEOUT } from './helpers/cli.ts';
import { ROOT } from './helpers/paths.ts';
import { hasUnpinnedBlobs, projectRegistry } from './helpers/registries.ts';

const registry = await projectRegistry();

describe.concurrent('clic-image plan --json', { timeout: SPAWN_TIMEOUT }, () => {
  // concurrent tests must snapshot through their own context's expect
  it.for([...registry.images.keys()])('%s', async (name, { expect }) => {
    const { code, stdout, stderr } = await cli(['plan', name, '--json', '--out', 'out'], { SOURCE_DATE_EPOCH: '1700000000' });
    if (hasUnpinnedBlobs(registry.boards.get(registry.images.get(name)!.board)!)) {
      // its bootloader waits to be pinned: one error line saying what to pin
      expect(code).toBe(1);
      expect(stderr).toMatch(/^error: .*no file is pinned for it yet — pin /);
      return;
    }
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const plan = JSON.parse(stdout.split(ROOT).join('<root>')) as { recipeFile: string; output: { dir: string } };
    expect(plan.recipeFile).toBe(`<root>/recipes/images/${name}.ts`);
    expect(plan.output.dir).toBe('<root>/out');
    expect(plan).toMatchSnapshot();
  });

  it('the human plan lists the same steps, in order', async () => {
    const [json, text] = await Promise.all([cli(['plan', 'clic-rpi4', '--json']), cli(['plan', 'clic-rpi4'])]);
    const steps = (JSON.parse(json.stdout) as { steps: { name: string }[] }).steps.map((s) => s.name);
    const listed = [...text.stdout.matchAll(/^ +\d+\. (\S+) — /gm)].map((m) => m[1]);
    expect(listed).toEqual(steps);
  });
});
