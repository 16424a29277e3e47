/**
 * hotspot — the kit's own wifi access point: hostapd on the first wifi interface found at boot
 * (WPA2-PSK, or an open network when the passphrase is empty), a static address, and dnsmasq's
 * DHCP server on it. The variables are the image's defaults; the deployer's settings file
 * overrides SSID, passphrase, country and channel per device (they are written to
 * /etc/clic/defaults.d/hotspot.conf for the settings service). The boot script
 * (/usr/lib/clic/hotspot-setup) writes hostapd's configuration from the effective settings;
 * with no wifi hardware it logs one line and the rest of the kit runs as usual, and a wifi
 * adapter that appears later (USB, slow firmware) starts the hotspot then.
 *
 * Clients reach the kit only, not each other (`clientIsolation`, hostapd's ap_isolate): a phone
 * on the kit's wifi is not exposed to the others.
 *
 * dnsmasq listens on the hotspot address only (bind-dynamic), so wired networks never see its
 * DHCP server and systemd-resolved keeps its stub listener on 127.0.0.53; DNSMASQ_EXCEPT="lo"
 * keeps dnsmasq from registering itself as the kit's own resolver (its resolvconf hook).
 */
import { defineLayer } from '../../builder/recipe/define.ts';
import { hotspotFiles } from '../../builder/portal/hotspot.ts';

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';

export default defineLayer({
  name: 'hotspot',
  description: 'Wifi hotspot: hostapd and DHCP on the first wifi interface',
  requires: ['firstboot'],
  packages: ['hostapd', 'dnsmasq', 'iw', 'wireless-regdb'],
  vars: {
    wifiSsid: { type: 'string', default: 'CLIC', minLength: 1, maxLength: 32, pattern: '^[^\\u0000-\\u001f\\u007f]+$', description: 'wifi network name (SSID), 32 bytes at most' },
    wifiPassphrase: {
      type: 'string',
      default: '',
      pattern: '^([ -~]{8,63})?$',
      description: 'WPA2 passphrase, 8 to 63 printable ASCII characters; empty for an open network',
    },
    wifiCountry: { type: 'string', default: 'FR', pattern: '^[A-Z]{2}$', description: 'country code of the radio regulations (ISO 3166 alpha-2)' },
    wifiChannel: { type: 'int', default: 6, min: 1, max: 13, description: '2.4 GHz wifi channel' },
    clientIsolation: {
      type: 'bool',
      default: true,
      description: 'hotspot clients cannot reach each other, only the kit (hostapd ap_isolate); false lets them talk, e.g. for a local game or file sharing',
    },
    address: {
      type: 'string',
      default: '10.42.0.1',
      pattern: `^(10\\.${OCTET}\\.${OCTET}|172\\.(1[6-9]|2[0-9]|3[01])\\.${OCTET}|192\\.168\\.${OCTET})\\.1$`,
      description: 'address of the kit on its hotspot network, a private x.y.z.1 (clients get x.y.z.10-250)',
    },
  },
  generate: (_plan, layer) => hotspotFiles(layer.vars),
  commands: [
    'ln -sf /run/clic/hotspot/hostapd.conf /etc/hostapd/hostapd.conf',
    'sed -i "s/^#* *DNSMASQ_EXCEPT=.*/DNSMASQ_EXCEPT=\\"lo\\"/" /etc/default/dnsmasq',
    'grep -qx \'DNSMASQ_EXCEPT="lo"\' /etc/default/dnsmasq || echo \'DNSMASQ_EXCEPT="lo"\' >> /etc/default/dnsmasq',
    'systemctl unmask hostapd.service',
    'systemctl enable clic-hotspot.service hostapd.service dnsmasq.service',
  ],
});
