/**
 * The connectivity probes of the common operating systems, and what each expects when the
 * network is online. A CLIC kit never gives that answer: it redirects every probe (302) to its
 * portal, so the device shows its "sign in to network" popup and the popup opens the portal.
 * Used by the captive-portal layer (nginx server for these hosts) and by the tests, which check
 * every probe through a real wifi client.
 *
 *   PROBES.find((p) => p.os === 'Apple')!.url; // 'http://captive.apple.com/hotspot-detect.html'
 */

export interface Probe {
  os: string;
  host: string;
  path: string;
  url: string;
  /** The answer that means "online" (no popup): status and, when the OS checks it, the body. */
  online: { status: number; body?: string };
}

const probe = (os: string, host: string, path: string, online: Probe['online']): Probe => ({ os, host, path, url: `http://${host}${path}`, online });

export const PROBES: readonly Probe[] = [
  probe('Android', 'connectivitycheck.gstatic.com', '/generate_204', { status: 204 }),
  probe('Android', 'www.google.com', '/gen_204', { status: 204 }),
  probe('Android', 'clients3.google.com', '/generate_204', { status: 204 }),
  probe('Android', 'connectivitycheck.android.com', '/generate_204', { status: 204 }),
  probe('Apple', 'captive.apple.com', '/hotspot-detect.html', { status: 200, body: 'Success' }),
  probe('Apple', 'www.apple.com', '/library/test/success.html', { status: 200, body: 'Success' }),
  probe('Windows', 'www.msftconnecttest.com', '/connecttest.txt', { status: 200, body: 'Microsoft Connect Test' }),
  probe('Windows', 'www.msftncsi.com', '/ncsi.txt', { status: 200, body: 'Microsoft NCSI' }),
  probe('Firefox', 'detectportal.firefox.com', '/canonical.html', { status: 200, body: '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>' }),
  probe('Firefox', 'detectportal.firefox.com', '/success.txt', { status: 200, body: 'success' }),
  probe('NetworkManager', 'nmcheck.gnome.org', '/check_network_status.txt', { status: 200, body: 'NetworkManager is online' }),
];

/** Host names of every probe, sorted, without repeats. */
export const probeHosts = (): string[] => [...new Set(PROBES.map((p) => p.host))].sort();
