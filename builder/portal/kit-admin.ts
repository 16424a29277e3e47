/**
 * Build-time files of the kit-admin layer: the admin page in French and English and its 401 page
 * (kit-admin-page.ts), the nginx location that guards and serves it, nginx's rate limit for it,
 * and /etc/clic/kit-admin.env (the FAT partition's mount point, the board's known wifi client
 * limits) for the page's scripts.
 *
 * nginx (a location of the portal's server, from SERVICE_LOCATIONS):
 * - `/clic/admin/` and `/clic/admin/api` exist only while /run/clic/admin/htpasswd does (written
 *   at boot from the settings' admin_password_hash): without it, 404 — the portal's own page —
 *   before any password is asked; `nginx -t` needs nothing at build time (an `if (!-f …)`
 *   checked at each request, not an include). With it, HTTP basic auth (user admin; nginx checks
 *   the password with the system's crypt), at most 30 requests a minute per client after a burst
 *   (online guessing), the portal's 401 page in the visitor's language.
 * - the page: a Content-Security-Policy that lets only its own inline style and script run
 *   (their sha256, computed here), nothing framed, forms posted only to the kit.
 * - `/clic/admin/api`: fcgiwrap runs /usr/lib/clic/kit-admin.cgi as www-data, with a body of at
 *   most MAX_BODY_BYTES (the script's own bound too) and without the Authorization header.
 * - `/clic/admin-state`: 204 when the page is on, 404 when it is off, with no password: the
 *   "About this kit" page links to the admin page only when it is on.
 *
 *   kitAdminFiles(plan, layer)['/etc/nginx/clic-services/kit-admin.conf'];
 */
import { createHash } from 'node:crypto';
import type { GeneratedFiles } from '../recipe/define.ts';
import type { Plan, PlannedLayer } from '../recipe/plan.ts';
import { ADMIN_API, adminPage, loginPage } from './kit-admin-page.ts';
import { ADMIN_PATH, ADMIN_STATE_PATH, ERROR_PAGES, ERRORS_PATH, LANGUAGES, SERVICE_LOCATIONS, WEB_ROOT } from './pages.ts';

/** Where kit-admin-setup writes the page's files at boot (htpasswd, settings.json, requests/…). */
export const ADMIN_RUN = '/run/clic/admin';
export const HTPASSWD = `${ADMIN_RUN}/htpasswd`;
export const ADMIN_CGI = '/usr/lib/clic/kit-admin.cgi';
/** The kit admin page's own fcgiwrap socket (clic-kit-admin-cgi.socket), for nginx only. */
export const FCGI_SOCKET = '/run/clic/kit-admin-cgi.socket';
/** The largest form the API takes (kit-admin.cgi's MAX_BODY too): an SSH key fits many times. */
export const MAX_BODY_BYTES = 8192;
/** nginx's rate limit of the admin page, per client address. */
export const RATE = { zone: 'clic_admin', perMinute: 30, burst: 30 };
/** The page nginx shows for a missing or wrong password, in ERRORS_PATH. */
export const LOGIN_PAGE = 'kit-admin-401';

/**
 * Known client limits of a board's built-in wifi radio with the firmware Debian gives it, by
 * device-tree model: about that many devices at once, or null where nobody measured it
 * (docs/wifi-clients.md, "What CLIC images do now"). They hold only when the hotspot runs on that
 * radio (driver `brcmfmac`), never for a USB adapter; boards not listed have no figure.
 */
export const WIFI_CLIENT_LIMITS: Record<string, { driver: string; models: Record<string, number | null> }> = {
  rpi3: { driver: 'brcmfmac', models: { 'raspberrypi,3-model-b': 10, 'raspberrypi,3-model-b-plus': 8 } },
  rpi4: { driver: 'brcmfmac', models: { 'raspberrypi,4-model-b': 8, 'raspberrypi,4-compute-module': 8, 'raspberrypi,400': null } },
};

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The Content-Security-Policy of the pages: only their own inline style and script. */
export function adminCsp(pages: readonly string[]): string {
  const inline = (tag: string) => [...new Set(pages.flatMap((p) => [...p.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => sha256(m[1]))))];
  return [
    "default-src 'none'",
    `script-src ${inline('script').join(' ')}`,
    `style-src ${inline('style').join(' ')}`,
    "connect-src 'self'",
    'img-src data:',
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** The guard both admin locations open with: off (404) without the password file, else basic auth. */
function guard(): string[] {
  return [
    `    if (!-f ${HTPASSWD}) { return 404; }`,
    `    limit_req zone=${RATE.zone} burst=${RATE.burst} nodelay;`,
    '    limit_req_status 429;',
    '    auth_basic "CLIC kit admin / administration du kit";',
    `    auth_basic_user_file ${HTPASSWD};`,
    // error_page here replaces the server's: its 404 and 50x pages again, and the 401 page
    `    error_page 401 ${ERRORS_PATH}/${LOGIN_PAGE}.$clic_lang.html;`,
    ...Object.entries(ERROR_PAGES).map(([name, { codes }]) => `    error_page ${codes.join(' ')} ${ERRORS_PATH}/${name}.$clic_lang.html;`),
    '    add_header Cache-Control "no-store" always;',
    '    add_header Vary "Cookie" always;',
    '    add_header X-Content-Type-Options "nosniff" always;',
    '    add_header Referrer-Policy "same-origin" always;',
  ];
}

export function kitAdminNginx(csp: string): string {
  return [
    '# The kit admin page (clic-image, layer kit-admin). Off (404, the portal\'s page, no password',
    `# asked) unless ${HTPASSWD} exists: kit-admin-setup writes it at boot from the`,
    '# settings file\'s admin_password_hash. On: basic auth, user admin; the wifi passphrase alone',
    '# never opens it.',
    `location = ${ADMIN_STATE_PATH} {`,
    `    if (!-f ${HTPASSWD}) { return 404; }`,
    '    add_header Cache-Control "no-store" always;',
    '    return 204;',
    '}',
    `location ^~ ${ADMIN_PATH} {`,
    ...guard(),
    `    add_header Content-Security-Policy "${csp}" always;`,
    '    add_header X-Frame-Options "DENY" always;',
    '}',
    '# its API: kit-admin.cgi as www-data (fcgiwrap); the password never reaches it',
    `location = ${ADMIN_API} {`,
    ...guard(),
    `    client_max_body_size ${MAX_BODY_BYTES};`,
    '    include fastcgi_params;',
    `    fastcgi_param SCRIPT_FILENAME ${ADMIN_CGI};`,
    '    fastcgi_param HTTP_AUTHORIZATION "";',
    `    fastcgi_pass unix:${FCGI_SOCKET};`,
    '}',
    '',
  ].join('\n');
}

/** nginx's http-level part: the shared memory of the rate limit (a sites-enabled file is read in
 *  the http block, as the portal's and the captive portal's are, on YunoHost kits too). */
export function kitAdminLimits(): string {
  return [
    '# Rate limit of the kit admin page (clic-image, layer kit-admin), per client address: it slows',
    '# down anyone on the wifi guessing the admin password.',
    `limit_req_zone $binary_remote_addr zone=${RATE.zone}:1m rate=${RATE.perMinute}r/m;`,
    '',
  ].join('\n');
}

export function kitAdminEnv(bootDir: string, board: string): string {
  const known = WIFI_CLIENT_LIMITS[board];
  const limits = Object.entries(known?.models ?? {}).map(([model, n]) => `${model}=${n ?? 'unknown'}`);
  for (const v of [bootDir, ...limits]) if (!/^[A-Za-z0-9_.,\/=+-]*$/.test(v)) throw new Error(`kit-admin: "${v}" cannot be written in /etc/clic/kit-admin.env`);
  return [
    '# The kit admin page of this image (clic-image, layer kit-admin), read by /usr/lib/clic/kit-admin.cgi',
    '# and kit-admin-apply.',
    '# Mount point of the FAT partition that holds clic-settings.txt.',
    `CLIC_ADMIN_BOOT_DIR=${bootDir}`,
    '# Known client limits of the board\'s built-in wifi radio with Debian\'s firmware, by device-tree',
    '# model (clic-image docs/wifi-clients.md): about that many devices at once, or unknown. Only when',
    '# the hotspot runs on that radio (its driver below), never for a USB adapter.',
    `CLIC_ADMIN_WIFI_DRIVER=${known?.driver ?? ''}`,
    `CLIC_ADMIN_WIFI_LIMITS='${limits.join(' ')}'`,
    '',
  ].join('\n');
}

/** Every file of the layer: pages in both languages, nginx's location and rate limit, the env file. */
export function kitAdminFiles(plan: Plan, layer: PlannedLayer): GeneratedFiles {
  const bootDir = layer.env.CLIC_BOOT_DIR;
  if (!bootDir) throw new Error(`kit-admin: board ${plan.board.name} has no FAT partition for clic-settings.txt`);
  const files: GeneratedFiles = {};
  const pages: string[] = [];
  for (const lang of LANGUAGES) {
    const html = adminPage(lang);
    pages.push(html);
    files[`${WEB_ROOT}${ADMIN_PATH}index.${lang}.html`] = html;
    files[`${WEB_ROOT}${ERRORS_PATH}/${LOGIN_PAGE}.${lang}.html`] = loginPage(lang);
  }
  files[`${SERVICE_LOCATIONS}/kit-admin.conf`] = kitAdminNginx(adminCsp(pages));
  files['/etc/nginx/sites-available/clic-kit-admin-limits'] = kitAdminLimits();
  files['/etc/clic/kit-admin.env'] = kitAdminEnv(bootDir, plan.board.name);
  return files;
}
