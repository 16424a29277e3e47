/**
 * apps — YunoHost apps, chosen by the lab, staged in the image and installed at first boot with
 * no network (overlays/yunohost's clic-yunohost does the installing, after the postinstall).
 *
 * Each app is looked up in YunoHost's app catalog (v3) when the build is planned: an unknown id
 * gets close matches, an install question without a default and without an answer is named.
 * The build then stages the app's package at the catalog's pinned revision, every source its
 * manifest declares for the board's architecture (sha256-checked), its Debian dependencies (in
 * the image's local apt repository) and its install answers (builder/steps/apps.ts), and the
 * catalog entry YunoHost reads before an install. Each app's state and last error go to
 * /var/lib/clic/apps/status.json, which the portal shows: a card for each installed app at its
 * path (portal-locations.ts sends the browser on to YunoHost's domain), the failed ones in a box.
 *
 *   # lab.yaml
 *   extends: clic-pc-x86_64-yunohost
 *   apps:
 *     - yeswiki
 *     - { id: hedgedoc, args: { path: /pad, init_main_permission: visitors } }
 */
import { defineLayer } from '../../builder/recipe/define.ts';
import { DEFAULT_APP_CATALOG } from '../../builder/apps/catalog.ts';
import { appLocations } from '../../builder/apps/portal-locations.ts';

export default defineLayer({
  name: 'apps',
  description: 'YunoHost apps staged at build time, installed offline at first boot',
  requires: ['yunohost'],
  vars: {
    apps: {
      type: 'apps',
      default: [],
      description: 'YunoHost apps, in install order: catalog ids (yeswiki) or { id, args } with answers to the install questions',
    },
    catalog: { type: 'string', default: DEFAULT_APP_CATALOG, pattern: '^https?://', description: 'YunoHost app catalog (v3 apps.json) where ids are looked up' },
  },
  apps: { appsVar: 'apps', catalogVar: 'catalog' },
  // the portal's card of each app leads to its path there, and on to YunoHost's domain
  generate: (plan) => appLocations(plan),
  commands: [
    // others may only reach the files they know the name of (status.json, read by nginx); answers are 0600
    'if [ -d /var/lib/clic/apps ]; then chmod 0711 /var/lib/clic/apps; fi',
    'nginx -t -q',
  ],
});
