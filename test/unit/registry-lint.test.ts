/**
 * Lint of the project's recipes: names resolve, every image plans, variable defaults satisfy
 * their own types, overlays belong to layers, every recipe file opens with its documentation.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { bootloaders } from '../../builder/bootloaders/index.ts';
import { resolvePlan } from '../../builder/recipe/plan.ts';
import { IMAGE_NAME_PATTERN, labSchema } from '../../builder/recipe/schema.ts';
import { envName, varSchema } from '../../builder/recipe/vars.ts';
import { ROOT } from './helpers/paths.ts';
import { hasUnpinnedBlobs, OPTIONS, projectRegistry } from './helpers/registries.ts';
import { RecipeError } from '../../builder/errors.ts';

const registry = await projectRegistry();
const images = [...registry.images.values()];
const layers = [...registry.layers.values()];
const boards = [...registry.boards.values()];
const recipeFiles = ['boards', 'layers', 'images'].flatMap((kind) =>
  readdirSync(join(ROOT, 'recipes', kind)).filter((f) => f.endsWith('.ts')).map((f) => [kind, f] as const),
);

describe('images', () => {
  it.each(images.map((i) => [i.name, i] as const))('%s: board and layers exist, and it plans', (_, img) => {
    expect(img.name).toMatch(new RegExp(IMAGE_NAME_PATTERN));
    expect([...registry.boards.keys()]).toContain(img.board);
    for (const l of img.layers) expect([...registry.layers.keys()]).toContain(l);
    if (hasUnpinnedBlobs(registry.boards.get(img.board)!)) {
      // waits for its bootloader to be pinned: refused with what to pin, left out of the release set
      // one problem per unpinned file, however many regions take bytes from it
      let err: unknown;
      try {
        resolvePlan(img, `${img.name}.ts`, registry, OPTIONS);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RecipeError);
      expect((err as RecipeError).problems.map((p) => p.message)).toEqual([expect.stringMatching(/no file is pinned for it yet — pin /)]);
      expect(img.release).toBe(false);
    } else {
      expect(() => resolvePlan(img, `${img.name}.ts`, registry, OPTIONS)).not.toThrow();
    }
  });
});

describe('layers', () => {
  it.each(layers.map((l) => [l.name, l] as const))('%s: requires known layers; defaults valid; distinct env names', (_, layer) => {
    for (const r of layer.requires ?? []) expect([...registry.layers.keys()], `requires ${r}`).toContain(r);
    expect(layer.requires ?? []).not.toContain(layer.name);
    const ajv = new Ajv({ strict: true });
    for (const [name, spec] of Object.entries(layer.vars ?? {})) {
      const validate = ajv.compile(varSchema(spec));
      expect(validate(spec.default), `${layer.name}.${name} default ${JSON.stringify(spec.default)}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      expect(spec.description.trim(), `${layer.name}.${name} has no description`).not.toBe('');
      expect(envName(name)).toMatch(/^CLIC_[A-Z][A-Z0-9_]*$/);
    }
    const env = Object.keys(layer.vars ?? {}).map(envName);
    expect(new Set(env).size).toBe(env.length);
  });

  it('the lab schema built from them compiles in strict mode', () => {
    expect(() => new Ajv({ strict: true, allErrors: true }).compile(labSchema(registry))).not.toThrow();
  });
});

describe('boards', () => {
  it.each(boards.map((b) => [b.name, b] as const))('%s: one root, fitting labels and types, a known bootloader', (_, b) => {
    expect(Object.keys(bootloaders)).toContain(b.bootloader);
    expect(b.partitions.filter((p) => p.mountpoint === '/')).toHaveLength(1);
    expect(new Set(b.partitions.map((p) => p.label)).size).toBe(b.partitions.length);
    expect(new Set(b.partitions.map((p) => p.mountpoint)).size).toBe(b.partitions.length);
    for (const p of b.partitions) {
      // FAT labels: 11 characters, upper case (mkfs.vfat); ext4 labels: 16 bytes
      if (p.fs === 'vfat') expect(p.label).toMatch(/^[A-Z0-9_-]{1,11}$/);
      else expect(p.label).toMatch(/^[A-Za-z0-9_-]{1,16}$/);
      if (p.mountpoint !== '/') expect(p.sizeMiB, `${p.label} needs a size`).toBeGreaterThan(0);
      if (b.partitionTable === 'dos') expect(p.type).toMatch(/^[0-9a-f]{1,2}$/);
      else expect(p.type).toMatch(/^(U|L|[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})$/);
      if (p.bootable) expect(b.partitionTable).toBe('dos');
    }
  });
});

describe('files', () => {
  it('every overlays/<name>/ folder belongs to a layer, and the registry found it', () => {
    const dirs = readdirSync(join(ROOT, 'overlays')).filter((d) => statSync(join(ROOT, 'overlays', d)).isDirectory());
    for (const d of dirs) {
      expect([...registry.layers.keys()], `overlays/${d}/ has no layer`).toContain(d);
      expect(registry.overlays.get(d)).toBe(join(ROOT, 'overlays', d));
    }
    expect([...registry.overlays.keys()].sort()).toEqual(dirs.sort());
  });

  it.each(recipeFiles)('recipes/%s/%s opens with a header comment and is named after its recipe', async (kind, f) => {
    const file = join(ROOT, 'recipes', kind, f);
    const text = readFileSync(file, 'utf8').trimStart();
    const header = text.startsWith('/*') ? text.slice(0, text.indexOf('*/') + 2) : (/^(\/\/[^\n]*\n)+/.exec(text)?.[0] ?? '');
    expect(header.replace(/^\s*(\/\*+|\*|\/\/)|\*\/$/gm, '').trim().length, 'header comment').toBeGreaterThanOrEqual(20);
    const mod = (await import(pathToFileURL(file).href)) as { default: { name: string } };
    expect(mod.default.name).toBe(basename(f, '.ts'));
  });
});
