/**
 * portal-locations — the CLIC portal's links to the YunoHost apps the image installs. The portal
 * shows each app at its install path (http://<kit>/wiki/, a card that appears once the app is
 * installed); there nginx sends the browser on to the same path on YunoHost's domain, where
 * YunoHost serves the app over https, as /yunohost/ does for its user portal (the yunohost
 * layer's /etc/nginx/clic-services/yunohost.conf sets $clic_yunohost_domain: this file's name
 * sorts after it, as nginx wants a variable set before it is used).
 *
 *   appLocations(plan)['/etc/nginx/clic-services/yunohost_apps.conf'];
 *   // location ^~ /wiki/ { return 302 https://$clic_yunohost_domain$request_uri; }
 */
import { appPortalPath, SERVICE_LOCATIONS } from '../portal/pages.ts';
import type { GeneratedFiles } from '../recipe/define.ts';
import type { Plan } from '../recipe/plan.ts';

/** Paths the portal itself serves: an app there would hide them. */
const PORTAL_PATHS = ['/', '/about/', '/clic/', '/yunohost/'];

export function appLocations(plan: Plan): GeneratedFiles {
  const taken = new Map<string, string>([...PORTAL_PATHS.map((p) => [p, 'the portal'] as const), ...plan.services.map((s) => [s.path, `service "${s.id}" of layer ${s.layer}`] as const)]);
  const lines = ['# The YunoHost apps of this image, at their paths (clic-image apps layer): on to YunoHost\'s domain.'];
  for (const app of plan.apps?.resolved ?? []) {
    const path = appPortalPath(app.args.path);
    if (!path) continue;
    // (appPortalPath gives no root path: every other path is under "/")
    const holder = [...taken].find(([p]) => p !== '/' && path.startsWith(p))?.[1];
    if (holder) throw new Error(`app "${app.id}": its path ${app.args.path} is under ${holder}'s; give it another one in its args (path: /${app.id})`);
    taken.set(path, `app "${app.id}"`);
    lines.push(`location ^~ ${path} {`, '    return 302 https://$clic_yunohost_domain$request_uri;', '}');
  }
  return { [`${SERVICE_LOCATIONS}/yunohost_apps.conf`]: `${lines.join('\n')}\n` };
}
