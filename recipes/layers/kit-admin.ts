/**
 * kit-admin — the kit admin page on the portal, http://<kit>/clic/admin/: from a phone or a laptop
 * on the kit's wifi, its administrator changes the wifi name, passphrase (or an open network),
 * channel and country, the kit's host name, the portal's language and the admin SSH key; the page
 * also shows the devices on the wifi and the hardware's known limit (docs/wifi-clients.md).
 * A change is written to clic-settings.txt on the FAT partition — the card stays the one source
 * of the settings — and applied at once, as at boot.
 *
 * Who may: the settings file's `admin_password_hash` (a crypt hash: `mkpasswd -m yescrypt`,
 * `openssl passwd -6`, `htpasswd -B`; the example settings file says how on Linux, macOS and
 * Windows) turns the page on, user `admin`; empty (the image's default: no password ships in an
 * image) the page is off and answers 404. nginx checks the password (basic auth), so the wifi
 * passphrase alone never opens it; 30 tries a minute per client at most. On a YunoHost kit it is
 * the same password: YunoHost's own admin accounts (its LDAP) are not asked — not done yet, see
 * README ("The kit admin page").
 *
 * How (overlays/kit-admin/usr/lib/clic/):
 * - `clic-kit-admin.service` (kit-admin-setup, every boot after clic-settings, before nginx):
 *   /run/clic/admin/htpasswd (root:www-data 0640) from the hash, or none; settings.json, what
 *   the page shows (no secret); the request folders.
 * - `/clic/admin/api` → its own fcgiwrap (clic-kit-admin-cgi.socket/.service, confined by
 *   systemd to writing /run/clic/admin; Debian's shared fcgiwrap.socket is left as it is) →
 *   kit-admin.cgi as www-data: GET, the settings, clients, limit and last result as JSON; POST,
 *   the form, checked for its origin (Origin or Referer must be this host), size and control
 *   characters, then dropped as a request file. Nothing run as www-data writes the card or
 *   restarts a service.
 * - `clic-kit-admin-apply.path` → kit-admin-apply (root): checks the new values with
 *   `clic-settings --check` (the boot's own rules), rewrites only their lines of
 *   clic-settings.txt (comments, CRLF and encoding kept), renames it into place, restarts
 *   clic-settings, the portal's language and the hotspot as needed, writes the result.
 * - the page and its 401 page, in French and English, and the nginx location: generated
 *   (builder/portal/kit-admin.ts, kit-admin-page.ts). "About this kit" links to the page when it
 *   is on.
 *
 * No variables: the admin password is per kit (settings file), and the clients limits are the
 * board's (WIFI_CLIENT_LIMITS).
 *
 *   # lab.yaml: the release images have it already, after portal
 *   layers: [base, firstboot, hotspot, captive-portal, portal, kit-admin, kiwix]
 *   # clic-settings.txt, on the card
 *   admin_password_hash = $y$j9T$…
 */
import { defineLayer } from '../../builder/recipe/define.ts';
import { kitAdminFiles } from '../../builder/portal/kit-admin.ts';

export default defineLayer({
  name: 'kit-admin',
  description: 'Kit admin page on the portal: wifi, name, language and SSH key, written to the settings file',
  requires: ['portal'],
  // Debian's small FastCGI server for CGI scripts: the page's API runs under its own instance
  packages: ['fcgiwrap'],
  generate: (plan, layer) => kitAdminFiles(plan, layer),
  commands: [
    'ln -sf ../sites-available/clic-kit-admin-limits /etc/nginx/sites-enabled/clic-kit-admin-limits',
    'nginx -t -q',
    'systemctl enable clic-kit-admin.service clic-kit-admin-apply.path clic-kit-admin-cgi.socket',
  ],
});
