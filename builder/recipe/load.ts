/**
 * Loads what the user named on the command line: an image name from the registry
 * (`clic-rpi4`), a TypeScript image recipe (`my-image.ts`, default export of defineImage) or a
 * lab's YAML file (`extends:` an image, overrides validated against the generated schema).
 * Every problem is reported as a RecipeError naming the file, the field path and the line.
 *
 *   const { image, file } = await loadRecipe('labs/atelier.yaml', registry);
 */
import { readFile } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv } from 'ajv';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { ImageDef, VarValues } from './define.ts';
import type { Registry } from './registry.ts';
import { RecipeError, type RecipeProblem } from '../errors.ts';
import { ajvProblems, closeMatches, labSchema } from './schema.ts';

export interface LoadedRecipe {
  image: ImageDef;
  /** The file the recipe came from, or `recipes/images/<name>.ts` for a registry name. */
  file: string;
}

export async function loadRecipe(arg: string, registry: Registry): Promise<LoadedRecipe> {
  const ext = extname(arg).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') return loadLabYaml(resolve(arg), registry);
  if (ext === '.ts') return loadImageTs(resolve(arg));
  const image = registry.images.get(arg);
  if (image) return { image, file: resolve(registry.root, 'recipes/images', `${arg}.ts`) };
  const close = closeMatches(arg, registry.images.keys());
  throw new RecipeError(arg, [
    {
      path: '',
      message:
        `no image named "${arg}" and not a .ts or .yaml file` +
        (close.length ? ` — did you mean ${close.join(' or ')}?` : ` — images: ${[...registry.images.keys()].join(', ')}`),
    },
  ]);
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new RecipeError(file, [{ path: '', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? err}` }]);
  }
}

async function loadImageTs(file: string): Promise<LoadedRecipe> {
  await readText(file);
  let mod: { default?: ImageDef };
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    throw new RecipeError(file, [{ path: '', message: `cannot load TypeScript recipe: ${(err as Error).message.split('\n')[0]}` }]);
  }
  if (!mod.default || typeof mod.default !== 'object' || !mod.default.name) {
    throw new RecipeError(file, [{ path: '', message: 'expected a default export made with defineImage({...})' }]);
  }
  return { image: mod.default, file };
}

interface LabFile {
  extends: string;
  name?: string;
  description?: string;
  board?: string;
  suite?: string;
  vars?: Record<string, VarValues>;
}

async function loadLabYaml(file: string, registry: Registry): Promise<LoadedRecipe> {
  const text = await readText(file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw new RecipeError(
      file,
      doc.errors.map((e) => ({
        path: '',
        line: e.linePos?.[0]?.line,
        message: `YAML syntax error: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    );
  }
  const data = doc.toJS() as unknown;
  const ajv = new Ajv({ allErrors: true, strict: true });
  const validate = ajv.compile(labSchema(registry));
  if (!validate(data)) {
    const problems = ajvProblems(validate.errors ?? [], data).map((p) => withLine(p, doc, lineCounter));
    throw new RecipeError(file, problems);
  }
  const lab = data as LabFile;
  const base = registry.images.get(lab.extends)!;
  const vars: Record<string, VarValues> = {};
  for (const [layer, values] of Object.entries(base.vars ?? {})) vars[layer] = { ...values };
  for (const [layer, values] of Object.entries(lab.vars ?? {})) vars[layer] = { ...vars[layer], ...values };
  const image: ImageDef = {
    ...base,
    name: lab.name ?? basename(file, extname(file)),
    description: lab.description ?? `${base.description} (lab build of ${base.name})`,
    board: lab.board ?? base.board,
    suite: lab.suite ?? base.suite,
    vars,
  };
  return { image, file };
}

function withLine(p: RecipeProblem, doc: ReturnType<typeof parseDocument>, lc: LineCounter): RecipeProblem {
  const keys = p.path.split('/').slice(1);
  for (let n = keys.length; n > 0; n--) {
    const node = doc.getIn(keys.slice(0, n), true);
    if (isNode(node) && node.range) return { ...p, line: lc.linePos(node.range[0]).line };
    if (n === keys.length) {
      // an unknown key has no value node we can ask for by path: find the key itself
      const parent = doc.getIn(keys.slice(0, n - 1), true) as { items?: { key: { value?: unknown; range?: number[] } }[] } | undefined;
      const pair = parent?.items?.find((it) => it.key?.value === keys[n - 1]);
      if (pair?.key.range) return { ...p, line: lc.linePos(pair.key.range[0]).line };
    }
  }
  return p;
}
