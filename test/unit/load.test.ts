/**
 * loadRecipe for what is not a lab YAML file: registry names, .ts recipes, missing files.
 * (Lab YAML files: lab-fixtures.test.ts.)
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecipeError } from '../../builder/errors.ts';
import { loadRecipe } from '../../builder/recipe/load.ts';
import { LABS, ROOT } from './helpers/paths.ts';
import { projectRegistry } from './helpers/registries.ts';

const registry = await projectRegistry();
const rejection = (arg: string) =>
  loadRecipe(arg, registry).then(
    () => { throw new Error(`${arg} was accepted`); },
    (e: unknown) => {
      expect(e).toBeInstanceOf(RecipeError);
      return e as RecipeError;
    },
  );

describe('loadRecipe', () => {
  it.each([...registry.images.keys()])('%s: the registry\'s image, from its recipe file', async (name) => {
    const { image, file } = await loadRecipe(name, registry);
    expect(image).toBe(registry.images.get(name));
    expect(file).toBe(join(ROOT, 'recipes/images', `${name}.ts`));
  });

  it('an unknown name: close matches', async () => {
    const err = await rejection('clic-rpi');
    expect(err.file).toBe('clic-rpi');
    expect(err.problems).toEqual([{ path: '', message: expect.stringMatching(/did you mean (clic-rpi3 or clic-rpi4|clic-rpi4 or clic-rpi3)\?$/) }]);
  });

  it('an unknown name far from all: the list of images', async () => {
    const err = await rejection('zzzzzzzzzzzzzzzzzz');
    expect(err.problems[0].message).toContain(`images: ${[...registry.images.keys()].join(', ')}`);
  });

  it('a .ts recipe', async () => {
    const file = join(ROOT, 'test/fixtures/recipes/my-image.ts');
    const { image, file: where } = await loadRecipe(file, registry);
    expect(where).toBe(file);
    expect(image).toMatchObject({ name: 'my-image', board: 'rpi3' });
  });

  it('a .ts file that is not an image recipe', async () => {
    const file = join(ROOT, 'test/fixtures/recipes/not-an-image.ts');
    const err = await rejection(file);
    expect(err.file).toBe(file);
    expect(err.problems[0].message).toContain('defineImage');
  });

  it.each(['nope.yaml', 'nope.yml', 'nope.ts'])('a missing file (%s)', async (f) => {
    const file = join(LABS, f);
    const err = await rejection(file);
    expect(err.problems).toEqual([{ path: '', message: 'cannot read: ENOENT' }]);
  });
});
