/**
 * Build-time files of the captive-portal layer: dnsmasq answers every name with the kit's
 * hotspot address (for hotspot clients only: dnsmasq listens on that address alone), and nginx
 * redirects (302) the OS connectivity probes and every host name that is not the kit to the
 * portal, so each OS shows its sign-in popup and the popup opens the portal.
 *
 * Once a client has pressed "Continue" on the portal (POST /clic/continue, logged by nginx),
 * /usr/lib/clic/captive-pass marks it, by its MAC address, and lists its current address in
 * /run/clic/captive/passed-clients.conf: from then on, and until the mark expires (`passHours`)
 * or the client joins the wifi again, every probe gets its "online" answer for that client
 * only, so its OS keeps the kit's wifi as its network instead of falling back to mobile data.
 *
 *   captiveFiles('10.42.0.1', 12)['/etc/nginx/sites-available/clic-captive-portal'];
 */
import type { GeneratedFiles } from '../recipe/define.ts';
import { PROBES, probeHosts, type Probe } from './probes.ts';

/** nginx's server_names_hash_bucket_size, set once for the whole http block (here). */
export const SERVER_NAMES_BUCKET = 128;

/** Where nginx logs each "Continue" (on disk: nginx opens it before /run is prepared, and at build time). */
export const CONTINUE_LOG = '/var/log/nginx/clic-continue.log';
/** The addresses of the clients that pressed "Continue", written by captive-pass, read by nginx. */
export const PASSED_CLIENTS = '/run/clic/captive/passed-clients.conf';

export const portalUrl = (address: string) => `http://${address}/`;

/** The answer each probe's OS takes for "online", as the real servers give it. */
export function onlineAnswer(p: Probe): { status: number; body?: string; type: string } {
  if (p.os === 'Apple') return { status: 200, body: '<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>', type: 'text/html' };
  if (p.online.status === 204) return { status: 204, type: 'text/plain' };
  const withNewline = p.os === 'NetworkManager' || p.path === '/success.txt';
  return { status: p.online.status, body: `${p.online.body ?? ''}${withNewline ? '\n' : ''}`, type: p.path.endsWith('.html') ? 'text/html' : 'text/plain' };
}

/** nginx's quoting of a `return` text (double quotes; \\ \" \n escaped; no variables in these texts). */
function nginxText(s: string): string {
  if (s.includes('$')) throw new Error(`probe answer ${JSON.stringify(s)}: nginx would read "$" as a variable`);
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export function captiveNginx(address: string): string {
  const portal = portalUrl(address);
  const paths = [...new Set(PROBES.map((p) => p.path))];
  const locations = paths.flatMap((path) => {
    const p = PROBES.find((x) => x.path === path)!;
    const answer = onlineAnswer(p);
    const online = answer.body === undefined ? `return ${answer.status};` : `return ${answer.status} ${nginxText(answer.body)};`;
    return [
      `    location = ${path} {`,
      `        default_type ${answer.type};`,
      `        if ($clic_passed) { ${online} }`,
      `        return 302 ${portal};`,
      '    }',
    ];
  });
  const probes = PROBES.map((p) => `#   ${p.os.padEnd(15)} ${p.url} (online: ${p.online.status}${p.online.body ? ' with its body' : ''})`);
  return [
    '# Captive portal (clic-image, layer captive-portal). Hotspot clients resolve every name to',
    `# the kit (${address}); any host name that is not the kit gets a temporary redirect to the`,
    '# portal, never cached, so that phones and laptops show their sign-in popup on the portal.',
    '',
    '# The probe host names are long: nginx\'s default bucket size (the CPU\'s cache line, 32 bytes',
    '# on some ARM systems and under emulation) cannot hold them.',
    `server_names_hash_bucket_size ${SERVER_NAMES_BUCKET};`,
    '',
    '# The clients that pressed "Continue" on the portal (/usr/lib/clic/captive-pass keeps the list,',
    '# by MAC address, and writes their current addresses here): their probes get the "online"',
    '# answer, so that their OS keeps the kit\'s wifi.',
    'map $remote_addr $clic_passed {',
    '    default 0;',
    `    include ${PASSED_CLIENTS.replace(/\.conf$/, '*.conf')};`,
    '}',
    'log_format clic_continue \'$msec $remote_addr\';',
    '',
    '# Connectivity probes of the operating systems: a redirect to the portal, or "online" once passed.',
    ...probes,
    'server {',
    '    listen 80;',
    '    listen [::]:80;',
    `    server_name ${probeHosts().join(' ')};`,
    '    access_log off;',
    // per server: YunoHost sets it in its http block already, and nginx refuses it twice there
    '    server_tokens off;',
    '    add_header Cache-Control "no-store" always;',
    ...locations,
    `    location / { return 302 ${portal}; }`,
    '}',
    '',
    '# Any other host name.',
    'server {',
    '    listen 80 default_server;',
    '    listen [::]:80 default_server;',
    '    server_name _;',
    '    access_log off;',
    '    server_tokens off;',
    '    add_header Cache-Control "no-store" always;',
    `    location / { return 302 ${portal}; }`,
    '}',
    '',
  ].join('\n');
}

/** The portal's "Continue" (a location of the portal's server, from the layers' service folder). */
export function continueLocation(): string {
  return [
    '# "Continue" on the portal (clic-image, layer captive-portal): logged for /usr/lib/clic/captive-pass,',
    '# which marks the client; then back to the portal, which says the client is connected.',
    'location = /clic/continue {',
    `    access_log ${CONTINUE_LOG} clic_continue;`,
    '    add_header Cache-Control "no-store" always;',
    '    return 303 /?connected;',
    '}',
    '',
  ].join('\n');
}

export function captiveFiles(address: string, passHours: number): GeneratedFiles {
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
    '/etc/nginx/clic-services/captive-continue.conf': continueLocation(),
    '/etc/clic/captive.env': [
      '# The captive portal of this image (clic-image, layer captive-portal), read by /usr/lib/clic/captive-pass:',
      '# hours a client that pressed "Continue" keeps its probes answered "online" (also ended when it joins again).',
      `CLIC_CAPTIVE_PASS_HOURS=${passHours}`,
      '',
    ].join('\n'),
  };
}
