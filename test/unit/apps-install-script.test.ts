/**
 * What an app's install script downloads by itself: YunoHost helpers that fetch from the
 * internet are found by name, on code lines only, and refused with the line and what they
 * fetch. The script text below is the shape of yeswiki_ynh 4.4.4~ynh9's scripts/install.
 */
import { describe, expect, it } from 'vitest';
import { networkHelperCalls, refuseNetworkHelpers } from '../../builder/apps/install-script.ts';
import { ManifestError } from '../../builder/apps/manifest.ts';

const YESWIKI_LIKE = [
  '#!/bin/bash',
  'source _common.sh',
  'source /usr/share/yunohost/helpers',
  'ynh_setup_source --dest_dir="$install_dir"',
  'ynh_script_progression --message="Installing composer dependencies..."',
  'ynh_composer_install',
  'ynh_composer_exec install --no-dev',
].join('\n');

describe('networkHelperCalls', () => {
  it('finds the helpers that download, with their line, and nothing in comments or longer names', () => {
    expect(networkHelperCalls(YESWIKI_LIKE)).toEqual([{ helper: 'ynh_composer_install', line: 6, fetches: 'composer from getcomposer.org' }]);
    expect(networkHelperCalls('# ynh_nodejs_install would be needed\nynh_nodejs_install_wrapper\nmy_ynh_go_install\necho ynh_setup_source\n')).toEqual([]);
    expect(networkHelperCalls('true && ynh_nodejs_install; (ynh_install_extra_repo --repo="deb https://x y z")\n').map((c) => [c.helper, c.line])).toEqual([['ynh_nodejs_install', 1]]);
    expect(networkHelperCalls('\n\nynh_install_extra_app_dependencies --repo=x --package=y # needs the repository\n')).toEqual([
      { helper: 'ynh_install_extra_app_dependencies', line: 3, fetches: 'packages from another apt repository' },
    ]);
  });
});

describe('refuseNetworkHelpers', () => {
  it('lets an offline-able script through, and refuses one that downloads, saying what and where', () => {
    expect(() => refuseNetworkHelpers('#!/bin/bash\nynh_setup_source --dest_dir="$install_dir"\nynh_add_nginx_config\n')).not.toThrow();
    expect(() => refuseNetworkHelpers(YESWIKI_LIKE)).toThrow(
      new ManifestError('its scripts/install calls ynh_composer_install (line 6: composer from getcomposer.org), which downloads while installing: it cannot be staged offline yet'),
    );
    expect(() => refuseNetworkHelpers('ynh_install_nodejs --nodejs_version=20\nynh_install_go --go_version=1.22\n')).toThrow(/ynh_install_nodejs \(line 1: Node\.js from nodejs\.org\), ynh_install_go \(line 2: goenv from GitHub and Go\), which download while/);
  });
});
