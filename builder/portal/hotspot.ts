/**
 * Build-time files of the hotspot layer, from its variables: the image's wifi defaults for the
 * settings service (`/etc/clic/defaults.d/hotspot.conf`), the hotspot network for the boot
 * script (`/etc/clic/hotspot.env`) and dnsmasq's DHCP server on that network
 * (`/etc/dnsmasq.d/clic-hotspot`: no dot in the name, YunoHost deletes dotted files there).
 * What depends on the device (interface, SSID, passphrase from the settings file) is written at
 * boot by `/usr/lib/clic/hotspot-setup`.
 *
 *   hotspotFiles({ wifiSsid: 'CLIC', wifiPassphrase: '', wifiCountry: 'FR', wifiChannel: 6, clientIsolation: true, address: '10.42.0.1' })
 */
import type { GeneratedFiles, VarValues } from '../recipe/define.ts';
import type { Plan } from '../recipe/plan.ts';

export interface HotspotNetwork {
  address: string;
  prefix: number;
  dhcpFirst: string;
  dhcpLast: string;
}

/** The hotspot's /24 from the kit's address x.y.z.1: clients get x.y.z.10 to x.y.z.250. */
export function hotspotNetwork(address: string): HotspotNetwork {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.1$/.exec(address);
  if (!m || m.slice(1).some((o) => Number(o) > 255)) throw new Error(`hotspot address "${address}": expected an IPv4 address ending in .1`);
  const net = m.slice(1, 4).join('.');
  return { address, prefix: 24, dhcpFirst: `${net}.10`, dhcpLast: `${net}.250` };
}

/** The hotspot layer's variables in a plan (the captive portal and portal layers need its address). */
export function hotspotVars(plan: Plan): VarValues {
  const layer = plan.layers.find((l) => l.name === 'hotspot');
  if (!layer) throw new Error('the hotspot layer is not part of this image');
  return layer.vars;
}

export function hotspotFiles(vars: VarValues): GeneratedFiles {
  const ssid = String(vars.wifiSsid);
  if (Buffer.byteLength(ssid) > 32) throw new Error(`hotspot wifiSsid "${ssid}" is ${Buffer.byteLength(ssid)} bytes long in UTF-8: 32 at most`);
  const net = hotspotNetwork(String(vars.address));
  return {
    '/etc/clic/defaults.d/hotspot.conf': [
      '# Wifi hotspot defaults of this image (clic-image, layer hotspot). The settings file on the',
      '# boot partition overrides them on each device; an empty passphrase means an open network.',
      `wifi_ssid = ${ssid}`,
      `wifi_passphrase = ${String(vars.wifiPassphrase)}`,
      `wifi_country = ${String(vars.wifiCountry)}`,
      `wifi_channel = ${String(vars.wifiChannel)}`,
      '',
    ].join('\n'),
    '/etc/clic/hotspot.env': [
      '# The hotspot network of this image (clic-image, layer hotspot), read by /usr/lib/clic/hotspot-setup.',
      `CLIC_HOTSPOT_ADDRESS=${net.address}`,
      `CLIC_HOTSPOT_PREFIX=${net.prefix}`,
      // 1: hostapd does not bridge frames between clients (clientIsolation)
      `CLIC_HOTSPOT_ISOLATE=${vars.clientIsolation === false ? 0 : 1}`,
      '',
    ].join('\n'),
    '/etc/dnsmasq.d/clic-hotspot': [
      '# DHCP and DNS for the wifi hotspot only (clic-image, layer hotspot).',
      '# dnsmasq listens on the hotspot address alone, which the boot script puts on the first wifi',
      '# interface: wired networks never see this DHCP server, and the kit\'s own resolver',
      '# (systemd-resolved) is left alone (DNSMASQ_EXCEPT="lo" in /etc/default/dnsmasq).',
      'bind-dynamic',
      `listen-address=${net.address}`,
      `dhcp-range=${net.dhcpFirst},${net.dhcpLast},255.255.255.0,12h`,
      `dhcp-option=option:router,${net.address}`,
      `dhcp-option=option:dns-server,${net.address}`,
      'dhcp-authoritative',
      '',
    ].join('\n'),
  };
}
