/**
 * Typed layer variables: the JSON schema each type becomes (checked by validating values with
 * ajv, not by comparing schemas), their CLIC_* environment names and values, close matches.
 */
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import type { VarSpec } from '../../builder/recipe/define.ts';
import { closeMatches } from '../../builder/recipe/schema.ts';
import { defaultsOf, describeType, envName, envValue, varSchema } from '../../builder/recipe/vars.ts';

const accepts = (spec: VarSpec, value: unknown) => new Ajv({ strict: true }).compile(varSchema(spec))(value);

describe('varSchema', () => {
  it.each<[VarSpec, unknown[], unknown[]]>([
    [{ type: 'string', default: 'a', pattern: '^[a-z]+$', minLength: 1, maxLength: 3, description: 's' }, ['a', 'abc'], ['', 'abcd', 'A', 1]],
    [{ type: 'bool', default: true, description: 'b' }, [true, false], ['true', 1, null]],
    [{ type: 'int', default: 6, min: 1, max: 13, description: 'i' }, [1, 13], [0, 14, 2.5, '6']],
    [{ type: 'enum', default: 'g', values: ['a', 'g'], description: 'e' }, ['a', 'g'], ['b', 1]],
    [{ type: 'list', default: [], itemPattern: '^x', description: 'l' }, [[], ['x1', 'x2']], ['x', ['y'], [1]]],
  ])('%j', (spec, good, bad) => {
    for (const v of good) expect(accepts(spec, v), JSON.stringify(v)).toBe(true);
    for (const v of bad) expect(accepts(spec, v), JSON.stringify(v)).toBe(false);
    expect(accepts(spec, spec.default)).toBe(true);
  });
});

describe('environment', () => {
  it.each([
    ['hostname', 'CLIC_HOSTNAME'],
    ['apSsid', 'CLIC_AP_SSID'],
    ['defaultLocale', 'CLIC_DEFAULT_LOCALE'],
    ['wifi2gChannel', 'CLIC_WIFI2G_CHANNEL'],
    ['admin-user', 'CLIC_ADMIN_USER'],
  ])('%s → %s', (name, env) => expect(envName(name)).toBe(env));

  it('renders values as shell words', () => {
    expect([envValue(true), envValue(false), envValue(6), envValue(['a', 'b']), envValue('x y')]).toEqual(['true', 'false', '6', 'a b', 'x y']);
  });

  it('takes defaults and describes types', () => {
    const vars: Record<string, VarSpec> = { n: { type: 'int', default: 3, min: 1, description: 'n' }, e: { type: 'enum', default: 'a', values: ['a', 'b'], description: 'e' } };
    expect(defaultsOf(vars)).toEqual({ n: 3, e: 'a' });
    expect(defaultsOf(undefined)).toEqual({});
    expect([describeType(vars.n), describeType(vars.e)]).toEqual(['int:1-', 'a|b']);
  });
});

describe('closeMatches', () => {
  it('suggests the nearest names, nearest first, and nothing for far ones', () => {
    expect(closeMatches('hostnam', ['timezone', 'hostname', 'locales'])).toEqual(['hostname']);
    expect(closeMatches('rpi5', ['pc-x86_64', 'rpi3', 'rpi4'])).toEqual(['rpi3', 'rpi4']);
    expect(closeMatches('RPI4', ['rpi4'])).toEqual(['rpi4']);
    expect(closeMatches('kiwix', ['base', 'hotspot'])).toEqual([]);
    expect(closeMatches('ab', ['a', 'b', 'ab', 'abc', 'abcd'], 2)).toEqual(['ab', 'a']);
  });
});
