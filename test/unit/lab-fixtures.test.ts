/**
 * Lab YAML fixtures: every file in test/fixtures/labs/invalid/ is rejected by loadRecipe with
 * exactly the located errors its `# expect:` comments name; every file in valid/ loads and
 * resolves to a plan.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRecipe } from '../../builder/recipe/load.ts';
import { resolvePlan } from '../../builder/recipe/plan.ts';
import { RecipeError } from '../../builder/errors.ts';
import { expectedProblems } from './helpers/expect-comments.ts';
import { LABS } from './helpers/paths.ts';
import { OPTIONS, registryWithUnusedLayer } from './helpers/registries.ts';

const yamlIn = (dir: string) => readdirSync(join(LABS, dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
const byPlace = (a: { line?: number; path: string }, b: { line?: number; path: string }) =>
  (a.line ?? 0) - (b.line ?? 0) || a.path.localeCompare(b.path);

describe('invalid lab fixtures', () => {
  const files = yamlIn('invalid');

  it('are there, and each says what it expects', () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const f of files) expect(expectedProblems(join(LABS, 'invalid', f)), f).not.toHaveLength(0);
  });

  it.each(files)('%s gives exactly its expected errors', async (f) => {
    const file = join(LABS, 'invalid', f);
    const registry = await registryWithUnusedLayer();
    const err = await loadRecipe(file, registry).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err, 'loadRecipe accepted it').toBeInstanceOf(RecipeError);
    const { file: where, problems } = err as RecipeError;
    expect(where).toBe(file);
    const expected = expectedProblems(file).sort(byPlace);
    const got = [...problems].sort(byPlace);
    expect(got.map((p) => ({ line: p.line, path: p.path }))).toEqual(expected.map((p) => ({ line: p.line, path: p.path })));
    got.forEach((p, i) => expect(p.message).toContain(expected[i].text));
  });
});

describe('valid lab fixtures', () => {
  it.each(yamlIn('valid'))('%s loads and resolves', async (f) => {
    const registry = await registryWithUnusedLayer();
    const { image, file } = await loadRecipe(join(LABS, 'valid', f), registry);
    expect(file).toBe(join(LABS, 'valid', f));
    const plan = resolvePlan(image, file, registry, OPTIONS);
    expect(plan.image).toBe(image.name);
  });

  it('atelier.yaml: clic-rpi4 with its own host name and locales', async () => {
    const registry = await registryWithUnusedLayer();
    const base = registry.images.get('clic-rpi4')!;
    const baseLayer = registry.layers.get('base')!;
    const { image, file } = await loadRecipe(join(LABS, 'valid/atelier.yaml'), registry);

    expect(image.name).toBe('atelier'); // from the file name
    expect(image.board).toBe(base.board);
    expect(image.layers).toEqual(base.layers);
    expect(image.suite).toBe(base.suite);
    expect(image.description).toContain(base.name);
    expect(image.vars?.base).toEqual({ ...base.vars?.base, hostname: 'atelier', locales: ['fr_FR.UTF-8', 'en_GB.UTF-8'] });
    // the registry's image is not modified by a lab extending it
    expect(base.vars?.base?.hostname).not.toBe('atelier');

    const plan = resolvePlan(image, file, registry, OPTIONS);
    const layer = plan.layers.find((l) => l.name === 'base')!;
    const defaults = Object.fromEntries(Object.entries(baseLayer.vars!).map(([k, v]) => [k, v.default]));
    expect(layer.vars).toEqual({ ...defaults, hostname: 'atelier', locales: ['fr_FR.UTF-8', 'en_GB.UTF-8'] });
    expect(layer.env).toMatchObject({
      CLIC_HOSTNAME: 'atelier',
      CLIC_LOCALES: 'fr_FR.UTF-8 en_GB.UTF-8',
      CLIC_DEFAULT_LOCALE: String(defaults.defaultLocale),
      CLIC_TIMEZONE: String(defaults.timezone),
    });
    expect(Object.keys(layer.env)).toEqual(expect.arrayContaining(Object.keys(baseLayer.vars!).map((k) => `CLIC_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`)));
    expect(layer.env.CLIC_IMAGE).toBe('atelier');
    expect(plan.board.name).toBe(base.board);
    expect(plan.output.img).toBe('atelier.img');
  });

  it('ecole-pi3.yaml: another name, board and suite', async () => {
    const registry = await registryWithUnusedLayer();
    const { image, file } = await loadRecipe(join(LABS, 'valid/ecole-pi3.yaml'), registry);
    expect(image).toMatchObject({ name: 'ecole-rpi3', board: 'rpi3', suite: 'trixie', description: 'CLIC kit of the school, Raspberry Pi 3' });
    const plan = resolvePlan(image, file, registry, OPTIONS);
    expect(plan.board).toBe(registry.boards.get('rpi3'));
    expect(plan.suite).toBe('trixie');
    expect(plan.layers[0].env).toMatchObject({ CLIC_TIMEZONE: 'Europe/Paris', CLIC_DEFAULT_LOCALE: 'fr_FR.UTF-8', CLIC_HOSTNAME: 'clic' });
    expect(plan.steps.find((s) => s.name === 'bootstrap')?.description).toContain('trixie');
  });
});
