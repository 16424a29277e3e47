/**
 * Typed layer variables: their JSON schema (for ajv and the lab YAML schema), their defaults and
 * how commands receive them (CLIC_<NAME> environment variables).
 *
 *   varSchema({ type: 'int', min: 1, max: 13, default: 6, description: 'wifi channel' })
 *   // → { type: 'integer', minimum: 1, maximum: 13, default: 6, description: 'wifi channel' }
 */
import type { VarSpec, VarValue, VarValues } from './define.ts';

export function varSchema(spec: VarSpec): Record<string, unknown> {
  const common = { description: spec.description, default: spec.default };
  switch (spec.type) {
    case 'string':
      return {
        type: 'string',
        ...common,
        ...(spec.pattern ? { pattern: spec.pattern } : {}),
        ...(spec.minLength !== undefined ? { minLength: spec.minLength } : {}),
        ...(spec.maxLength !== undefined ? { maxLength: spec.maxLength } : {}),
      };
    case 'bool':
      return { type: 'boolean', ...common };
    case 'int':
      return {
        type: 'integer',
        ...common,
        ...(spec.min !== undefined ? { minimum: spec.min } : {}),
        ...(spec.max !== undefined ? { maximum: spec.max } : {}),
      };
    case 'enum':
      return { type: 'string', enum: [...spec.values], ...common };
    case 'list':
      return { type: 'array', items: { type: 'string', ...(spec.itemPattern ? { pattern: spec.itemPattern } : {}) }, ...common };
    case 'zims':
      return { type: 'array', items: ZIM_REQUEST_SCHEMA, ...common };
    case 'apt-source':
      return { ...APT_SOURCE_SCHEMA, ...common };
    case 'apps':
      return { type: 'array', items: APP_REQUEST_SCHEMA, ...common };
  }
}

/** Variables the build host uses (downloads, repositories), not the layer's commands: kept out
 *  of their environment, so that changing them does not make the layer run again. */
export const HOST_SIDE_TYPES: ReadonlySet<VarSpec['type']> = new Set(['zims', 'apt-source', 'apps']);

const FINGERPRINT_PATTERN = '^\\s*([0-9A-Fa-f]{4}\\s*){10}$';

export const APT_SOURCE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'suite', 'components', 'key', 'fingerprint'],
  properties: {
    url: { type: 'string', pattern: '^(https?|file)://', description: 'root URL of the repository' },
    suite: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]*$', description: 'suite (distribution) name, e.g. bookworm' },
    components: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }, description: 'components, e.g. [stable]' },
    key: { type: 'string', minLength: 1, description: 'the repository key: an http(s) URL or a file path (relative to the recipe)' },
    fingerprint: { type: 'string', pattern: FINGERPRINT_PATTERN, description: 'fingerprint of that key, 40 hex digits (spaces allowed)' },
  },
};

const APP_ID = { type: 'string', pattern: '^[a-z0-9][a-z0-9_]*$', description: 'app id in the YunoHost catalog, e.g. yeswiki' };

/** One app: its id, or `{ id, args }` with the answers to its install questions. */
export const APP_REQUEST_SCHEMA = {
  if: { type: 'string' },
  then: APP_ID,
  else: {
    type: 'object',
    additionalProperties: false,
    required: ['id'],
    properties: {
      id: APP_ID,
      args: {
        type: 'object',
        description: 'answers to the app’s install questions (path, init_main_permission, …)',
        additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
        propertyNames: { pattern: '^[a-z][a-z0-9_]*$' },
      },
    },
  },
};

const ZIM_NAME = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'book name in the kiwix catalog, e.g. wikipedia_fr_all_mini (add _YYYY-MM to pin a version)' };

/** One ZIM file: a catalog name, `{ name }`, or a URL with its sha256 (and optionally its name
 *  and size). if/then/else rather than anyOf: a wrong entry is reported against the form it
 *  was meant to have, not against all three. */
export const ZIM_REQUEST_SCHEMA = {
  if: { type: 'string' },
  then: ZIM_NAME,
  else: {
    if: { type: 'object', required: ['url'], properties: { url: true } },
    then: {
      type: 'object',
      additionalProperties: false,
      required: ['url', 'sha256'],
      properties: {
        url: { type: 'string', pattern: '^https?://', description: 'where to download the .zim file' },
        sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: 'sha256 of the file (64 hex digits)' },
        name: ZIM_NAME,
        size: { type: 'integer', minimum: 1, description: 'size in bytes, when known (progress, disk space check)' },
      },
    },
    else: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: ZIM_NAME } },
  },
};

export function defaultsOf(vars: Record<string, VarSpec> | undefined): VarValues {
  return Object.fromEntries(Object.entries(vars ?? {}).map(([k, spec]) => [k, spec.default]));
}

/** `apSsid` → `CLIC_AP_SSID` */
export function envName(varName: string): string {
  return 'CLIC_' + varName.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toUpperCase();
}

export function envValue(value: VarValue): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return value.every((v) => typeof v === 'string') ? value.join(' ') : JSON.stringify(value);
  return String(value);
}

/** One-line rendering of a variable's type, for `clic-image list` and docs. */
export function describeType(spec: VarSpec): string {
  switch (spec.type) {
    case 'int':
      return `int${spec.min !== undefined || spec.max !== undefined ? `:${spec.min ?? ''}-${spec.max ?? ''}` : ''}`;
    case 'enum':
      return spec.values.join('|');
    default:
      return spec.type;
  }
}
