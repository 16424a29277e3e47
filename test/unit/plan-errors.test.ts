/**
 * resolvePlan on invalid recipes: every problem reported at once, each with its path and,
 * where one exists, a close-match suggestion.
 */
import { describe, expect, it } from 'vitest';
import { RecipeError } from '../../builder/errors.ts';
import type { ImageDef } from '../../builder/recipe/define.ts';
import { resolvePlan } from '../../builder/recipe/plan.ts';
import { board, image, OPTIONS, testRegistry } from './helpers/registries.ts';

function problems(img: ImageDef, r = testRegistry()) {
  try {
    resolvePlan(img, 'recipes/images/test-image.ts', r, OPTIONS);
  } catch (err) {
    expect(err).toBeInstanceOf(RecipeError);
    expect((err as RecipeError).file).toBe('recipes/images/test-image.ts');
    return (err as RecipeError).problems.map(({ path, message }) => ({ path, message }));
  }
  throw new Error('resolvePlan accepted the recipe');
}

describe('resolvePlan rejects', () => {
  it('a layer listed before one it requires', () => {
    expect(problems(image({ layers: ['hotspot', 'base'] }))).toEqual([
      { path: '/layers/0', message: 'layer "hotspot" requires layer "base" earlier in the list' },
    ]);
  });

  it('a required layer missing from the list, once per missing layer', () => {
    expect(problems(image({ layers: ['base', 'portal'] }))).toEqual([
      { path: '/layers/1', message: 'layer "portal" requires layer "hotspot" earlier in the list' },
    ]);
  });

  it('a layer listed twice', () => {
    expect(problems(image({ layers: ['base', 'hotspot', 'base'] }))).toEqual([{ path: '/layers/2', message: 'layer "base" is listed twice' }]);
  });

  it('an unknown layer, with the close match', () => {
    expect(problems(image({ layers: ['base', 'hotpsot'] }))).toEqual([{ path: '/layers/1', message: 'unknown layer "hotpsot" — did you mean hotspot?' }]);
    expect(problems(image({ layers: ['base', 'zzzzzzzzzz'] }))[0].message).toBe('unknown layer "zzzzzzzzzz"');
  });

  it('an unknown board, with the close match or the list', () => {
    expect(problems(image({ board: 'tb-gtp' }))).toEqual([{ path: '/board', message: 'unknown board "tb-gtp" — did you mean tb-gpt?' }]);
    expect(problems(image({ board: 'raspberry' }))[0].message).toBe('unknown board "raspberry" — boards: tb, tb-gpt');
  });

  it('values for a layer that is not in the image', () => {
    expect(problems(image({ layers: ['base'], vars: { hotspot: { channel: 1 } } }))).toEqual([
      { path: '/vars/hotspot', message: 'layer "hotspot" is not part of this image (layers: base)' },
    ]);
  });

  it('an unknown variable, with the close match', () => {
    expect(problems(image({ vars: { hotspot: { chanel: 1 } } }))).toEqual([
      { path: '/vars/hotspot/chanel', message: 'layer "hotspot" has no variable "chanel" — did you mean channel?' },
    ]);
  });

  it.each([
    ['channel', 14, 'must be <= 13'],
    ['channel', 2.5, 'must be integer'],
    ['open', 'yes', 'must be boolean'],
    ['band', 'b', 'must be equal to one of the allowed values'],
    ['apSsid', '', 'must NOT have fewer than 1 characters'],
  ])('a value of the wrong type or range (%s = %j)', (key, value, why) => {
    const [p] = problems(image({ vars: { hotspot: { [key]: value } } }));
    expect(p.path).toBe(`/vars/hotspot/${key}`);
    expect(p.message).toContain(why);
    expect(p.message).toContain(`(${testRegistry().layers.get('hotspot')!.vars![key].description})`);
  });

  it('an invalid image name', () => {
    expect(problems(image({ name: 'Test Image' }))[0].path).toBe('/name');
  });

  it('a board without exactly one root partition', () => {
    const noRoot = board({ name: 'tb', partitions: [{ label: 'B', fs: 'vfat', mountpoint: '/boot', sizeMiB: 64, type: 'c' }] });
    expect(problems(image(), testRegistry({ boards: [noRoot] }))).toEqual([{ path: '/board', message: 'board "tb" must have exactly one partition mounted at /' }]);
  });

  it('everything at once', () => {
    const found = problems(image({ name: 'X', board: 'nope', layers: ['hotspot', 'nope', 'base'], vars: { base: { hostname: 'UPPER' }, portal: {} } }));
    expect(found.map((p) => p.path).sort()).toEqual(['/board', '/layers/0', '/layers/1', '/name', '/vars/base/hostname', '/vars/portal']);
  });
});
