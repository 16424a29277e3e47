/**
 * captive-portal — every phone or laptop that joins the hotspot pops up the portal. dnsmasq
 * answers every name with the kit's hotspot address (for hotspot clients only: it listens on
 * that address alone, and the kit's own resolver is systemd-resolved, untouched), and nginx
 * redirects (302) the connectivity probes of Android, Apple, Windows, Firefox and
 * NetworkManager (builder/portal/probes.ts), and any host name that is not the kit, to the
 * portal. The probes never get their "online" answer, so each OS shows its sign-in popup.
 */
import { defineLayer } from '../../builder/recipe/define.ts';
import { captiveFiles } from '../../builder/portal/captive.ts';
import { hotspotVars } from '../../builder/portal/hotspot.ts';

export default defineLayer({
  name: 'captive-portal',
  description: 'Captive portal: DNS to the kit, OS connectivity probes answered with the portal',
  requires: ['hotspot'],
  packages: ['nginx-light'],
  generate: (plan) => captiveFiles(String(hotspotVars(plan).address)),
  commands: [
    'rm -f /etc/nginx/sites-enabled/default',
    'ln -sf ../sites-available/clic-captive-portal /etc/nginx/sites-enabled/clic-captive-portal',
    'dnsmasq --test --conf-file=/etc/dnsmasq.conf --conf-dir=/etc/dnsmasq.d,.dpkg-dist,.dpkg-old,.dpkg-new',
    'systemctl enable nginx.service',
  ],
});
