/**
 * captive-portal — every phone or laptop that joins the hotspot pops up the portal, and keeps
 * the kit's wifi once its user has pressed "Continue" there. dnsmasq answers every name with
 * the kit's hotspot address (for hotspot clients only: it listens on that address alone, and
 * the kit's own resolver is left alone) and gives an empty answer to every other question
 * (AAAA…); nginx redirects (302) the connectivity probes of Android, Apple, Windows, Firefox
 * and NetworkManager (builder/portal/probes.ts), and any host name that is not the kit, to the
 * portal, so each OS shows its sign-in popup.
 *
 * "Continue" on the portal (POST /clic/continue) marks the client by its MAC address
 * (/usr/lib/clic/captive-pass): its probes then get their "online" answer, so its OS keeps the
 * wifi as its network instead of mobile data, until the mark expires (`passHours`) or the
 * client joins the wifi again (hostapd's events). Other clients still get the popup.
 * docs/captive-portal.md: what each OS asks and gets, before and after.
 *
 *   # lab.yaml
 *   vars:
 *     captive-portal: { passHours: 8 }
 */
import { defineLayer } from '../../builder/recipe/define.ts';
import { captiveFiles } from '../../builder/portal/captive.ts';
import { hotspotVars } from '../../builder/portal/hotspot.ts';

export default defineLayer({
  name: 'captive-portal',
  description: 'Captive portal: DNS to the kit, OS connectivity probes answered with the portal, then online after Continue',
  requires: ['hotspot'],
  packages: ['nginx-light'],
  vars: {
    passHours: {
      type: 'int',
      default: 12,
      min: 1,
      max: 168,
      description: 'hours a client that pressed Continue on the portal keeps its probes answered "online" (also ended when it joins the wifi again)',
    },
  },
  generate: (plan, layer) => captiveFiles(String(hotspotVars(plan).address), Number(layer.vars.passHours)),
  commands: [
    'rm -f /etc/nginx/sites-enabled/default',
    'ln -sf ../sites-available/clic-captive-portal /etc/nginx/sites-enabled/clic-captive-portal',
    'dnsmasq --test --conf-file=/etc/dnsmasq.conf --conf-dir=/etc/dnsmasq.d,.dpkg-dist,.dpkg-old,.dpkg-new',
    'systemctl enable nginx.service clic-captive-pass.path clic-captive-pass.timer clic-captive-events.service',
  ],
});
