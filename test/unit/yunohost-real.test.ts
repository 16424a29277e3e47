/**
 * The switch of the YunoHost tests to a real repository (test/support/yunohost-real.ts): off
 * without CLIC_TEST_YUNOHOST_REPO_URL, its defaults, and a half-given setting refused in words.
 */
import { describe, expect, it } from 'vitest';
import { realYunohost } from '../support/yunohost-real.ts';
import { DEFAULT_APP_CATALOG } from '../../builder/apps/catalog.ts';

const FPR = 'E05E 7906 1221 D737 567D  3887 5D09 F227 3DAC 3BD5';
const base = { CLIC_TEST_YUNOHOST_REPO_URL: 'http://127.0.0.1:8765/apt/', CLIC_TEST_YUNOHOST_REPO_KEY: '/tmp/key.asc', CLIC_TEST_YUNOHOST_REPO_FINGERPRINT: FPR };

describe('realYunohost', () => {
  it('is off without a repository URL', () => {
    expect(realYunohost({})).toBeNull();
  });

  it('fills the suite, components, catalog and apps by default, and normalizes the fingerprint', () => {
    expect(realYunohost(base)).toEqual({
      repository: { url: base.CLIC_TEST_YUNOHOST_REPO_URL, suite: 'bookworm', components: ['stable'], key: '/tmp/key.asc', fingerprint: 'E05E79061221D737567D38875D09F2273DAC3BD5' },
      catalog: DEFAULT_APP_CATALOG,
      apps: [{ id: 'my_webapp', args: {} }],
    });
  });

  it('reads several components and apps with answers (as strings)', () => {
    const real = realYunohost({ ...base, CLIC_TEST_YUNOHOST_REPO_COMPONENTS: 'stable, testing', CLIC_TEST_APPS: '["my_webapp", {"id": "yeswiki", "args": {"path": "/wiki", "is_public": true}}]' });
    expect(real?.repository.components).toEqual(['stable', 'testing']);
    expect(real?.apps).toEqual([{ id: 'my_webapp', args: {} }, { id: 'yeswiki', args: { path: '/wiki', is_public: 'true' } }]);
  });

  it.each([
    [{ CLIC_TEST_YUNOHOST_REPO_KEY: undefined }, /CLIC_TEST_YUNOHOST_REPO_KEY is not set: it must be the URL or the absolute path/],
    [{ CLIC_TEST_YUNOHOST_REPO_KEY: 'key.asc' }, /CLIC_TEST_YUNOHOST_REPO_KEY is "key\.asc"/],
    [{ CLIC_TEST_YUNOHOST_REPO_FINGERPRINT: 'E05E' }, /FINGERPRINT is "E05E": it must be the key's fingerprint, 40 hexadecimal digits/],
    [{ CLIC_TEST_YUNOHOST_REPO_URL: 'forge/debian' }, /REPO_URL is "forge\/debian": it must be an http/],
    [{ CLIC_TEST_APPS: 'yeswiki' }, /CLIC_TEST_APPS is "yeswiki": it must be a JSON list/],
    [{ CLIC_TEST_APPS: '[]' }, /non-empty JSON list/],
    [{ CLIC_TEST_APPS: '[{"args": {}}]' }, /each app must be an id or/],
  ])('refuses %j in one sentence', (change, message) => {
    expect(() => realYunohost({ ...base, ...change })).toThrow(message);
  });
});
