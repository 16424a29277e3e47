/**
 * The real-repository path of the YunoHost tests: when CLIC_TEST_YUNOHOST_REPO_URL names a
 * YunoHost apt repository, the yunohost integration and boot tests build and boot the lab
 * against it and against an app catalog, instead of the local stand-ins
 * (test/support/yunohost-image.ts). A maintainer with internet points them at YunoHost's own
 * servers (README, "Against YunoHost's real repository"); a local rebuild of YunoHost served on
 * the loopback works the same way.
 *
 *   CLIC_TEST_YUNOHOST_REPO_URL          the repository (its presence turns the path on)
 *   CLIC_TEST_YUNOHOST_REPO_KEY          its signing key: a URL, or an absolute file path
 *   CLIC_TEST_YUNOHOST_REPO_FINGERPRINT  the key's fingerprint (40 hex digits, spaces allowed)
 *   CLIC_TEST_YUNOHOST_REPO_SUITE        default bookworm
 *   CLIC_TEST_YUNOHOST_REPO_COMPONENTS   default stable (several: separated by spaces or commas)
 *   CLIC_TEST_APP_CATALOG                v3 apps.json; default YunoHost's default catalog
 *   CLIC_TEST_APPS                       JSON list of apps as a lab writes them; default ["my_webapp"]
 *
 *   const real = realYunohost();   // null: the stand-ins; else what the lab is built with
 */
import { isAbsolute } from 'node:path';
import { DEFAULT_APP_CATALOG } from '../../builder/apps/catalog.ts';

export interface RealApp {
  id: string;
  args: Record<string, string>;
}

export interface RealYunohost {
  repository: { url: string; suite: string; components: string[]; key: string; fingerprint: string };
  catalog: string;
  apps: RealApp[];
}

const PREFIX = 'CLIC_TEST_';

/** Refuses a half-given configuration in one sentence naming the variable and what it wants. */
function refuse(name: string, wants: string, got?: string): never {
  throw new Error(`${PREFIX}${name} ${got === undefined ? 'is not set' : `is ${JSON.stringify(got)}`}: ${wants}`);
}

function appsFrom(text: string): RealApp[] {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    refuse('APPS', 'it must be a JSON list of app ids or { "id": …, "args": { … } } objects', text);
  }
  if (!Array.isArray(list) || list.length === 0) refuse('APPS', 'it must be a non-empty JSON list of apps', text);
  return list.map((item: unknown) => {
    if (typeof item === 'string' && item) return { id: item, args: {} };
    const app = item as { id?: unknown; args?: unknown } | null;
    if (typeof app?.id !== 'string' || (app.args !== undefined && (typeof app.args !== 'object' || app.args === null))) {
      refuse('APPS', 'each app must be an id or { "id": "…", "args": { "question": "answer" } }', JSON.stringify(item));
    }
    return { id: app.id, args: Object.fromEntries(Object.entries((app.args ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)])) };
  });
}

export function realYunohost(env: NodeJS.ProcessEnv = process.env): RealYunohost | null {
  const url = env[`${PREFIX}YUNOHOST_REPO_URL`];
  if (!url) return null;
  if (!/^https?:\/\//.test(url)) refuse('YUNOHOST_REPO_URL', 'it must be an http:// or https:// URL of an apt repository', url);
  const key = env[`${PREFIX}YUNOHOST_REPO_KEY`];
  if (!key || !(/^https?:\/\//.test(key) || isAbsolute(key))) refuse('YUNOHOST_REPO_KEY', "it must be the URL or the absolute path of the repository's signing key", key);
  const fingerprint = env[`${PREFIX}YUNOHOST_REPO_FINGERPRINT`]?.replace(/\s+/g, '').toUpperCase();
  if (!fingerprint || !/^[0-9A-F]{40}$/.test(fingerprint)) refuse('YUNOHOST_REPO_FINGERPRINT', "it must be the key's fingerprint, 40 hexadecimal digits", env[`${PREFIX}YUNOHOST_REPO_FINGERPRINT`]);
  const components = (env[`${PREFIX}YUNOHOST_REPO_COMPONENTS`] ?? 'stable').split(/[\s,]+/).filter(Boolean);
  if (!components.length) refuse('YUNOHOST_REPO_COMPONENTS', 'it must name at least one component, e.g. stable', env[`${PREFIX}YUNOHOST_REPO_COMPONENTS`]);
  const catalog = env[`${PREFIX}APP_CATALOG`] || DEFAULT_APP_CATALOG;
  if (!/^https?:\/\//.test(catalog)) refuse('APP_CATALOG', 'it must be the http:// or https:// URL of a v3 apps.json', catalog);
  return {
    repository: { url, suite: env[`${PREFIX}YUNOHOST_REPO_SUITE`] || 'bookworm', components, key, fingerprint },
    catalog,
    apps: appsFrom(env[`${PREFIX}APPS`] || '["my_webapp"]'),
  };
}
