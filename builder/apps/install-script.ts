/**
 * install-script — what an app's install script itself downloads, found before the build stages
 * it: YunoHost helpers that always fetch from the internet (composer and its PHP libraries,
 * Node.js, Go, Ruby, MongoDB, an extra apt repository). The manifest says nothing of them when a
 * package calls the helper from its script instead of declaring the resource (yeswiki_ynh
 * 4.4.4~ynh9 runs `ynh_composer_install` then `composer install` from scripts/install): on a
 * kit with no network that install stops there, in the field.
 *
 * Helper names are YunoHost's (helpers/helpers.v1.d and helpers.v2.1.d). Only scripts/install
 * is read, comments left out: _common.sh defines helpers an install may never call.
 *
 *   networkHelperCalls('ynh_composer_install\nynh_composer_exec install --no-dev\n');
 *   // [{ helper: 'ynh_composer_install', line: 1, fetches: 'composer from getcomposer.org' }]
 */
import { ManifestError } from './manifest.ts';

/** Each helper that downloads while installing, and what it downloads. */
const NETWORK_HELPERS: Record<string, string> = {
  ynh_install_composer: 'composer from getcomposer.org, then the PHP libraries from Packagist',
  ynh_composer_install: 'composer from getcomposer.org',
  ynh_install_nodejs: 'Node.js from nodejs.org',
  ynh_nodejs_install: 'Node.js from nodejs.org',
  ynh_install_go: 'goenv from GitHub and Go',
  ynh_go_install: 'goenv from GitHub and Go',
  ynh_install_ruby: 'rbenv from GitHub, to compile Ruby',
  ynh_ruby_install: 'rbenv from GitHub, to compile Ruby',
  ynh_install_mongo: "MongoDB from MongoDB's apt repository",
  ynh_install_extra_repo: 'packages from another apt repository',
  ynh_install_extra_app_dependencies: 'packages from another apt repository',
  ynh_apt_install_dependencies_from_extra_repository: 'packages from another apt repository',
};

export interface NetworkHelperCall {
  helper: string;
  /** 1-based line in scripts/install. */
  line: number;
  fetches: string;
}

const CALL = new RegExp(`(?:^|[\\s;&|(\`])(${Object.keys(NETWORK_HELPERS).join('|')})(?=$|[\\s;&|)\`])`);

/** The calls to downloading helpers in an install script, in order, one per line at most. */
export function networkHelperCalls(script: string): NetworkHelperCall[] {
  const calls: NetworkHelperCall[] = [];
  script.split('\n').forEach((text, index) => {
    const code = text.replace(/(^|\s)#.*$/, '');
    const match = CALL.exec(code);
    if (match) calls.push({ helper: match[1], line: index + 1, fetches: NETWORK_HELPERS[match[1]] });
  });
  return calls;
}

/** A ManifestError naming each call and what it fetches, when the script downloads (the
 *  caller names the app and its revision). */
export function refuseNetworkHelpers(script: string): void {
  const calls = networkHelperCalls(script);
  if (!calls.length) return;
  const listed = calls.map((c) => `${c.helper} (line ${c.line}: ${c.fetches})`).join(', ');
  throw new ManifestError(`its scripts/install calls ${listed}, ${calls.length > 1 ? 'which download' : 'which downloads'} while installing: it cannot be staged offline yet`);
}
