/**
 * Build-time files of the captive-portal layer: dnsmasq answers every name with the kit's
 * hotspot address (for hotspot clients only: dnsmasq listens on that address alone), and nginx
 * redirects (302) the OS connectivity probes and every host name that is not the kit to the
 * portal, so each OS shows its sign-in popup and the popup opens the portal.
 *
 *   captiveFiles('10.42.0.1')['/etc/nginx/sites-available/clic-captive-portal'];
 */
import type { GeneratedFiles } from '../recipe/define.ts';
import { PROBES, probeHosts } from './probes.ts';

/** nginx's server_names_hash_bucket_size, set once for the whole http block (here). */
export const SERVER_NAMES_BUCKET = 128;

export const portalUrl = (address: string) => `http://${address}/`;

export function captiveNginx(address: string): string {
  const portal = portalUrl(address);
  const probes = PROBES.map((p) => `#   ${p.os.padEnd(15)} ${p.url} (online: ${p.online.status}${p.online.body ? ' with its body' : ''})`);
  return [
    '# Captive portal (clic-image, layer captive-portal). Hotspot clients resolve every name to',
    `# the kit (${address}); any host name that is not the kit gets a temporary redirect to the`,
    '# portal, never cached, so that phones and laptops show their sign-in popup on the portal.',
    '',
    '# The probe host names are long: nginx\'s default bucket size (the CPU\'s cache line, 32 bytes',
    '# on some ARM systems and under emulation) cannot hold them.',
    `server_names_hash_bucket_size ${SERVER_NAMES_BUCKET};`,
    '# no nginx version in error pages and headers, for anyone on the hotspot',
    'server_tokens off;',
    '',
    '# Connectivity probes of the operating systems: never the "online" answer.',
    ...probes,
    'server {',
    '    listen 80;',
    '    listen [::]:80;',
    `    server_name ${probeHosts().join(' ')};`,
    '    access_log off;',
    '    add_header Cache-Control "no-store" always;',
    `    location / { return 302 ${portal}; }`,
    '}',
    '',
    '# Any other host name.',
    'server {',
    '    listen 80 default_server;',
    '    listen [::]:80 default_server;',
    '    server_name _;',
    '    access_log off;',
    '    add_header Cache-Control "no-store" always;',
    `    location / { return 302 ${portal}; }`,
    '}',
    '',
  ].join('\n');
}

export function captiveFiles(address: string): GeneratedFiles {
  return {
    '/etc/dnsmasq.d/clic-captive-portal': [
      '# Captive portal (clic-image, layer captive-portal): every name is the kit, for hotspot clients.',
      '# dnsmasq listens on the hotspot address only, so the kit\'s own resolver keeps working.',
      `address=/#/${address}`,
      '# every other question (AAAA, HTTPS, MX…) answered here, with no data: forwarded to no',
      '# upstream it got REFUSED, which phones take for a broken DNS server',
      'local=/#/',
      'no-resolv',
      'no-hosts',
      '',
    ].join('\n'),
    '/etc/nginx/sites-available/clic-captive-portal': captiveNginx(address),
  };
}
