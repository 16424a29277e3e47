/**
 * JSON schema of a lab's YAML file, generated from the registry's declarations (image names,
 * board names, every layer variable with its type, description and default), and the function
 * that turns ajv's errors into located, readable problems.
 *
 *   # my-lab.yaml
 *   extends: clic-rpi4
 *   vars:
 *     base: { hostname: atelier }
 */
import type { ErrorObject } from 'ajv';
import type { Registry } from './registry.ts';
import { COMPRESSIONS } from './define.ts';
import type { RecipeProblem } from '../errors.ts';
import { APP_REQUEST_SCHEMA, varSchema } from './vars.ts';

export const IMAGE_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';

export function labSchema(registry: Registry): Record<string, unknown> {
  const layerVars: Record<string, unknown> = {};
  // lab files name their apps at the top level (`apps:`), the apps layer's variable
  for (const layer of registry.layers.values()) {
    layerVars[layer.name] = {
      type: 'object',
      description: layer.description,
      additionalProperties: false,
      properties: Object.fromEntries(Object.entries(layer.vars ?? {}).map(([k, v]) => [k, varSchema(v)])),
    };
  }
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'clic-image lab recipe',
    type: 'object',
    additionalProperties: false,
    required: ['extends'],
    properties: {
      extends: { type: 'string', enum: [...registry.images.keys()], description: 'the image this lab build starts from' },
      name: { type: 'string', pattern: IMAGE_NAME_PATTERN, description: 'name of the output image (default: the file name)' },
      description: { type: 'string', description: 'one line about this image' },
      board: { type: 'string', enum: [...registry.boards.keys()], description: 'build for another board than the image’s' },
      suite: { type: 'string', enum: ['bookworm', 'trixie'], description: 'Debian suite', default: 'bookworm' },
      apps: {
        type: 'array',
        items: APP_REQUEST_SCHEMA,
        description: 'YunoHost apps installed at first boot, in order: catalog ids (yeswiki) or { id, args } (the image needs the apps layer; same as vars.apps.apps)',
      },
      compress: {
        type: 'array',
        items: { type: 'string', enum: [...COMPRESSIONS] },
        uniqueItems: true,
        description: 'compressed copies of the image written beside it (xz, zst; [] for none)',
        default: [...COMPRESSIONS],
      },
      vars: {
        type: 'object',
        description: 'variable values, by layer',
        additionalProperties: false,
        properties: layerVars,
      },
    },
  };
}

export function closeMatches(word: string, candidates: Iterable<string>, max = 3): string[] {
  return [...candidates]
    .map((c) => ({ c, d: editDistance(word.toLowerCase(), c.toLowerCase()) }))
    .filter(({ c, d }) => d <= Math.max(2, Math.floor(c.length / 3)))
    .sort((a, b) => a.d - b.d)
    .slice(0, max)
    .map(({ c }) => c);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** JSON schema type names in YAML words: a lab author writes mappings and lists. */
function expectedType(type: string): string {
  return type === 'object' ? 'a mapping' : type === 'array' ? 'a list' : type;
}

const alternatives = (words: string[]) => (words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}` : words[0] ?? '?');

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** ajv errors → one readable problem per location (the most specific error wins). */
export function ajvProblems(errors: ErrorObject[], data: unknown): RecipeProblem[] {
  const byPath = new Map<string, RecipeProblem>();
  // anyOf alternatives of types fail one by one: name them all in one problem
  const typesAt = new Map<string, string[]>();
  for (const e of errors) {
    if (e.keyword === 'type') typesAt.set(e.instancePath, [...(typesAt.get(e.instancePath) ?? []), expectedType((e.params as { type: string }).type)]);
  }
  for (const e of errors) {
    // "must match then/else schema": the branch's own errors say what is wrong
    if (e.keyword === 'if') continue;
    let path = e.instancePath;
    let message: string;
    const got = valueAt(data, path);
    switch (e.keyword) {
      case 'additionalProperties': {
        const prop = (e.params as { additionalProperty: string }).additionalProperty;
        path = `${path}/${pointerEscape(prop)}`;
        const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
        const close = closeMatches(prop, allowed);
        message = `unknown field "${prop}"` + (close.length ? ` — did you mean ${close.map((c) => `"${c}"`).join(' or ')}?` : allowed.length ? ` — expected one of: ${allowed.join(', ')}` : ' — this layer has no variables');
        break;
      }
      case 'enum': {
        const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
        const close = typeof got === 'string' ? closeMatches(got, allowed) : [];
        message = `${JSON.stringify(got)} is not allowed — expected one of: ${allowed.join(', ')}` + (close.length ? ` (did you mean ${close.map((c) => `"${c}"`).join(' or ')}?)` : '');
        break;
      }
      case 'type':
        message = `expected ${alternatives(typesAt.get(path) ?? [])}, got ${typeName(got)}`;
        break;
      case 'required':
        path = `${path}/${pointerEscape((e.params as { missingProperty: string }).missingProperty)}`;
        message = 'is required';
        break;
      default:
        message = `${e.message ?? 'is invalid'} (got ${typeName(got)})`;
    }
    if (!byPath.has(path)) byPath.set(path, { path, message });
  }
  return [...byPath.values()];
}

/** `a/b` → `a~1b`: one key as a JSON pointer segment. */
export const pointerEscape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** `/vars/a~1b` → `['vars', 'a/b']` */
export const pointerKeys = (pointer: string) =>
  pointer.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));

function valueAt(data: unknown, pointer: string): unknown {
  let cur: unknown = data;
  for (const key of pointerKeys(pointer)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}
