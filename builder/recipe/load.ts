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
import { LineCounter, parseDocument, isMap, isNode, isScalar, isSeq } from 'yaml';
import type { Compression, ImageDef, VarValues } from './define.ts';
import type { AppRequest } from '../apps/types.ts';
import type { Registry } from './registry.ts';
import { RecipeError, type RecipeProblem } from '../errors.ts';
import { ajvProblems, closeMatches, IMAGE_NAME_PATTERN, labSchema, pointerEscape, pointerKeys } from './schema.ts';

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
  compress?: Compression[];
  vars?: Record<string, VarValues>;
  apps?: AppRequest[];
}

async function loadLabYaml(file: string, registry: Registry): Promise<LoadedRecipe> {
  const text = await readText(file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    // With prettyErrors off the errors carry only offsets: the line comes from the line counter.
    // One problem per line: a syntax error often yields a second, consequential one on its line.
    const byLine = new Map<number, RecipeProblem>();
    for (const e of doc.errors) {
      const line = lineCounter.linePos(e.pos[0]).line;
      if (!byLine.has(line)) byLine.set(line, { path: '', line, message: `YAML syntax error: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}` });
    }
    throw new RecipeError(file, [...byLine.values()]);
  }
  const data = doc.toJS() as unknown;
  // verbose: ajvProblems reads parentSchema to suggest the allowed field names
  const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
  const validate = ajv.compile(labSchema(registry));
  if (!validate(data)) {
    const problems = ajvProblems(validate.errors ?? [], data).map((p) => withLine(p, doc, lineCounter));
    throw new RecipeError(file, problems);
  }
  const lab = data as LabFile;
  const base = registry.images.get(lab.extends)!;
  const located: RecipeProblem[] = [];
  // A lab cannot change the layer list: values for a layer the image does not have would be
  // rejected by resolvePlan, without a line; say it here, where the line is known.
  for (const layer of Object.keys(lab.vars ?? {})) {
    if (!base.layers.includes(layer)) {
      located.push({ path: `/vars/${pointerEscape(layer)}`, message: `layer "${layer}" is not part of image "${base.name}" (its layers: ${base.layers.join(', ')})` });
    }
  }
  const appsLayer = base.layers.map((name) => registry.layers.get(name)).find((l) => l?.apps);
  if (lab.apps && !appsLayer) {
    located.push({ path: '/apps', message: `image "${base.name}" has no apps layer, so it cannot install apps — extend an image that has one (${[...registry.images.values()].filter((i) => i.layers.some((n) => registry.layers.get(n)?.apps)).map((i) => i.name).join(', ') || 'none'})` });
  }
  if (lab.apps && appsLayer && lab.vars?.[appsLayer.name]?.[appsLayer.apps!.appsVar] !== undefined) {
    located.push({ path: '/apps', message: `apps are given twice: here and in vars.${appsLayer.name}.${appsLayer.apps!.appsVar} — keep one` });
  }
  const fileName = basename(file, extname(file));
  if (lab.name === undefined && !new RegExp(IMAGE_NAME_PATTERN).test(fileName)) {
    located.push({ path: '', message: `the image is named after the file, and "${fileName}" is not a valid image name (lower-case letters, digits, dashes, underscores) — rename the file or add a "name:" field` });
  }
  if (located.length) throw new RecipeError(file, located.map((p) => withLine(p, doc, lineCounter)));
  const vars: Record<string, VarValues> = {};
  for (const [layer, values] of Object.entries(base.vars ?? {})) vars[layer] = { ...values };
  for (const [layer, values] of Object.entries(lab.vars ?? {})) vars[layer] = { ...vars[layer], ...values };
  if (lab.apps && appsLayer) vars[appsLayer.name] = { ...vars[appsLayer.name], [appsLayer.apps!.appsVar]: lab.apps };
  const image: ImageDef = {
    ...base,
    name: lab.name ?? fileName,
    description: lab.description ?? `${base.description} (lab build of ${base.name})`,
    board: lab.board ?? base.board,
    suite: lab.suite ?? base.suite,
    compress: lab.compress ?? base.compress,
    vars,
  };
  return { image, file };
}

/** The line of the deepest node the problem's path reaches: the key of a mapping entry (where
 *  a wrong or unknown field is written, even when its value is on the next lines), or a list item. */
function withLine(p: RecipeProblem, doc: ReturnType<typeof parseDocument>, lc: LineCounter): RecipeProblem {
  const keys = pointerKeys(p.path);
  for (let n = keys.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(keys.slice(0, n - 1), true);
    const key = keys[n - 1];
    let node: unknown;
    if (isMap(parent)) node = parent.items.find((it) => isScalar(it.key) && String(it.key.value) === key)?.key;
    else if (isSeq(parent)) node = parent.items[Number(key)];
    if (isNode(node) && node.range) return { ...p, line: lc.linePos(node.range[0]).line };
  }
  return p;
}
