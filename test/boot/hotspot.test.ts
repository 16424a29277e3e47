/**
 * The hotspot, captive portal and portal of the x86_64 image, end to end under QEMU, as a phone
 * would meet them. Each scenario boots a copy of the shared image whose settings file was edited
 * on its FAT partition (mtools, no mount). Inside the guest (script on a test drive, see
 * hotspot-kit.ts): no wifi at boot (one journal line, no failed unit), then mac80211_hwsim's two
 * radios appear: the kit serves one, a wpa_supplicant client on the other (own network
 * namespace) scans, associates, gets a DHCP lease, scans every TCP and UDP port of the kit
 * (IPv4 and IPv6 link-local), and fetches every OS probe and the portal.
 * Then headless Chromium opens the portal at phone size through a port forward, records every
 * request, and keeps a screenshot next to the shared images (test/.artifacts/<stamp>/).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../builder/index.ts';
import { PROBES } from '../../builder/portal/probes.ts';
import { imagesDir } from '../support/images.ts';
import { planOf } from '../support/plans.ts';
import { bootKit, settingsFile, type AdminChange, type Kit } from './hotspot-kit.ts';
import { visitPortal, type PortalVisit } from './portal-browser.ts';

const IMAGE = 'clic-pc-x86_64';
const plan = await planOf(IMAGE);
const hotspot = plan.layers.find((l) => l.name === 'hotspot')!.vars;
const ADDRESS = String(hotspot.address);
const PORTAL = `http://${ADDRESS}/`;
const SERVICE_IDS = plan.services.map((s) => s.id);
/** What a hotspot client may reach on a kit without YunoHost (issue P2): SSH 22, DNS 53 (UDP and
 *  TCP, dnsmasq on the hotspot address), the portal 80, DHCP 67; nothing else, on any address. */
const REACHABLE = { tcp4: [22, 53, 80], udp4: [53, 67], tcp6: [22, 80], udp6: [] as number[] };

interface Scenario {
  name: string;
  settings: Record<string, string>;
  /** What the kit must serve: the settings' values, or the recipe's defaults. */
  ssid: string;
  passphrase: string;
  country: string;
  channel: string;
  language: 'fr' | 'en';
  errorKeys: string[];
  wifiAtBoot: boolean;
  /** Scan every port of the kit from the client (once: minutes under TCG). */
  scan: boolean;
  /** Drive the admin page: the settings file sets its password's hash, the client renames the network. */
  admin?: AdminChange;
}

async function runScenario(s: Scenario): Promise<{ kit: Kit; visit: PortalVisit; ms: Record<string, number> }> {
  const registry = await loadRegistry();
  const dir = await imagesDir();
  const scratchDir = mkdtempSync(join(tmpdir(), 'clic-hotspot-'));
  const started = Date.now();
  const kit = await bootKit({
    image: join(dir, `${IMAGE}.img`),
    board: registry.boards.get(plan.board.name)!,
    scratchDir,
    settings: settingsFile(s.settings),
    expect: { ssid: s.ssid, passphrase: s.passphrase },
    wifiAtBoot: s.wifiAtBoot,
    scan: s.scan,
    admin: s.admin,
  });
  try {
    await kit.vm.waitFor(/^CLIC-TEST begin/, 600_000);
    const booted = Date.now();
    await kit.vm.waitFor(/^CLIC-TEST done/, 600_000);
    const guestDone = Date.now();
    const visit = await visitPortal({ url: `http://127.0.0.1:${kit.httpPort}/`, screenshot: join(dir, `portal-${s.name}-390x844.png`), expectErrors: s.errorKeys.length > 0 });
    const ms = { boot: booted - started, guestChecks: guestDone - booted, chromium: Date.now() - guestDone };
    writeFileSync(join(dir, `hotspot-${s.name}.json`), JSON.stringify({ accel: kit.vm.accel, ms, visit }, null, 2));
    return { kit, visit, ms };
  } finally {
    await kit.vm.stop();
    writeFileSync(join(dir, `hotspot-${s.name}.console.log`), kit.vm.console);
    rmSync(scratchDir, { recursive: true, force: true });
  }
}

/** The one value the guest reported for a key (a missing or repeated report fails, with the console's end). */
function oneMark(kit: Kit, key: string): string {
  const values = kit.marks(key);
  expect(values, `${key}\n${kit.vm.console.slice(-4000)}`).toHaveLength(1);
  return values[0];
}

function checkKit(kit: Kit, s: Scenario) {
  const one = (key: string) => oneMark(kit, key);
  expect(kit.marks('error'), kit.vm.console.slice(-4000)).toEqual([]);

  const security = s.passphrase ? 'WPA2, passphrase from the settings' : 'open';
  const serving = (ap: string) => `hotspot on ${ap}: SSID "${s.ssid}" (${security}), country ${s.country}, channel ${s.channel}, address ${ADDRESS}`;
  // the system is up with no failed unit; without wifi: one clear line, hostapd skipped (not failed)
  expect(one('system-state')).toBe('running');
  expect(one('failed-units')).toBe('[]');
  if (s.wifiAtBoot) {
    expect(kit.marks('hotspot-log-before')).toEqual([serving('wlan0')]);
    expect(one('hostapd-before')).toBe('active');
  } else {
    expect(kit.marks('hotspot-log-before')).toEqual(['no wifi interface found: the hotspot is off until a wifi adapter appears; the rest of the kit works without it']);
    expect(one('hostapd-before')).toBe('inactive');
  }
  expect(one('dnsmasq-before')).toBe('active');
  expect(one('nginx')).toBe('active');
  // the kit's own resolver is untouched: resolved's stub, no dnsmasq registered for lo
  expect(one('kit-resolv-conf')).toBe('nameserver 127.0.0.53');
  expect(one('kit-dns-lo')).toBe('[]');

  // the radios appeared: the hotspot picked the first one up, with the effective settings
  const ap = one('ap-interface');
  expect(ap).toMatch(/^wlan\d$/);
  expect(one('ap-type')).toBe('AP');
  expect(one('hostapd')).toBe('active');
  expect(kit.marks('hotspot-log')).toContain(serving(ap));

  // the client: sees the SSID, associates (WPA2 handshake when there is a passphrase), gets a lease
  expect(kit.marks('scan-ssid')).toEqual([s.ssid]);
  expect(one('associated-ssid')).toBe(s.ssid);
  expect(kit.marks('wpa-key-negotiated')).toEqual(s.passphrase ? ['yes'] : []);
  const lease = one('lease');
  expect(lease).toMatch(new RegExp(`^ip=${ADDRESS.replace(/1$/, '').replace(/\./g, '\\.')}(\\d+) mask=24 router=${ADDRESS} dns=${ADDRESS}$`));
  const host = Number(/^ip=\S+\.(\d+) /.exec(lease)![1]);
  expect(host).toBeGreaterThanOrEqual(10);
  expect(host).toBeLessThanOrEqual(250);

  // what a client reaches on the kit, every port scanned: SSH (by key), DNS and the web server;
  // DHCP over IPv4; the IPv6 link-local address carries nothing but SSH and the web server
  if (s.scan) {
    expect(one('kit-link-local')).toMatch(/^fe80::/);
    for (const [key, ports] of Object.entries(REACHABLE)) expect(one(`scan-${key}`), key).toBe(ports.join(','));
  }

  // every OS probe: the name resolves to the kit, the answer is a never-cached 302 to the
  // portal (not the "online" answer), and the popup lands on the portal's service list
  const probes = kit.marks('probe');
  expect(probes).toHaveLength(PROBES.length);
  for (const p of PROBES) {
    const seen = probes.find((line) => line.startsWith(`${p.os} ${p.url} `));
    expect(seen, p.url).toBe(`${p.os} ${p.url} resolved=${ADDRESS} status=302 location=${PORTAL} cache=no-store landing-status=200 landing-services=${SERVICE_IDS.join(',')}`);
  }
  expect(one('other-host')).toBe(`status=302 location=${PORTAL}`);
  expect(one('portal')).toBe(`status=200 lang=${s.language} services=${SERVICE_IDS.join(',')}`);
  const errors = JSON.parse(one('settings-errors') || '[]') as { key: string }[];
  expect(errors.map((e) => e.key).sort()).toEqual([...s.errorKeys].sort());

  // "Continue": the client is marked by its MAC; its probes get their "online" answer, and a
  // device the kit did not mark still gets the popup
  expect(one('continue')).toBe('status=303 location=/?connected');
  expect(kit.marks('captive-log').join('\n')).toMatch(/^client ([0-9a-f]{2}:){5}[0-9a-f]{2} \(10\.42\.0\.\d+\) pressed Continue/m);
  const after = kit.marks('probe-after');
  expect(after).toHaveLength(PROBES.length);
  for (const p of PROBES) {
    const seen = after.find((line) => line.startsWith(`${p.os} ${p.url} `));
    expect(seen, p.url).toMatch(new RegExp(`status=${p.online.status} body=`));
    if (p.online.body) expect(seen!.slice(seen!.indexOf(' body=') + 6), p.url).toContain(p.online.body);
  }
  expect(one('probe-other')).toBe(`status=302 location=${PORTAL}`);
  if (s.admin) checkAdmin(kit, s, s.admin);
}

/** The kit admin page, driven from the hotspot client: closed without its password, the wifi
 *  passphrase included; the client renames the network through it and joins the new one. */
function checkAdmin(kit: Kit, s: Scenario, admin: AdminChange) {
  const one = (key: string) => oneMark(kit, key);
  expect(one('admin-state')).toBe('204');
  expect(one('admin-anonymous')).toMatch(/^status=401 authenticate=Basic realm="/);
  expect(one('admin-passphrase')).toBe('status=401');
  expect(one('admin-page')).toBe('status=200 csp=yes');
  expect(one('admin-api-ssid')).toBe(s.ssid);
  expect(one('admin-api-clients')).toBe('1');
  expect(one('admin-api-secrets')).toBe('0');
  expect(one('admin-foreign')).toBe('status=403');
  expect(one('admin-change')).toBe('status=202');
  expect(one('admin-hostapd')).toBe(`ssid=${admin.newSsid} channel=${admin.newChannel}`);
  expect(one('admin-associated')).toBe(admin.newSsid);
  expect(one('admin-last')).toBe('ok');
  expect(one('admin-secrets-journal')).toBe('0');
  // the card stays the one source of truth: the file on the FAT partition has the new values,
  // every other line as the deployer wrote it, CRLF line ends kept
  const before = settingsFile(s.settings).replace(/\r?\n/g, '\r\n').split('\r\n');
  const after = Buffer.from(one('admin-settings-file'), 'base64').toString('utf8').split('\r\n');
  expect(after).toHaveLength(before.length);
  after.forEach((line, i) => {
    if (before[i].startsWith('wifi_ssid = ')) expect(line).toMatch(new RegExp(`^wifi_ssid = "?${admin.newSsid}"?$`));
    else if (before[i].startsWith('wifi_channel = ')) expect(line).toBe(`wifi_channel = ${admin.newChannel}`);
    else expect(line).toBe(before[i]);
  });
}

function checkVisit(visit: PortalVisit, kit: Kit, s: Scenario) {
  // nothing but the kit: every request the browser made went to the forwarded kit address
  const origin = `http://127.0.0.1:${kit.httpPort}/`;
  expect(visit.requests.length).toBeGreaterThan(0);
  expect(visit.requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:'))).toEqual([]);
  expect(visit.lang).toBe(s.language);
  expect(visit.services.map((x) => x.id)).toEqual(SERVICE_IDS);
  expect(visit.services.map((x) => x.name)).toEqual(plan.services.map((x) => x.name[s.language]));
  expect(visit.services.map((x) => x.href)).toEqual(plan.services.map((x) => x.path));
  // this image carries no ZIM file: the library's check finds an empty catalog and its card
  // stays hidden; the cards without a check show
  expect(plan.layers.find((l) => l.name === 'kiwix')?.vars.zims).toEqual([]);
  expect(visit.visibleServices).toEqual(plan.services.filter((x) => !x.availability).map((x) => x.id));
  // readable on a phone: no sideways scrolling, body text at 16 px
  expect(visit.overflows).toBe(false);
  expect(visit.fontSizePx).toBeGreaterThanOrEqual(16);
  const other = s.language === 'fr' ? 'en' : 'fr';
  expect(visit.switched).toEqual({ lang: other, services: plan.services.map((x) => x.name[other]) });
  expect(visit.about.lang).toBe(other);
  expect(visit.about.title).toBe(plan.services.find((x) => x.id === 'about')!.name[other]);
  expect(visit.errorsVisible).toBe(s.errorKeys.length > 0);
  expect(visit.errors).toHaveLength(s.errorKeys.length);
  for (const key of s.errorKeys) expect(visit.errors.some((e) => e.startsWith(`${key} : `)), key).toBe(true);
}

describe('hotspot, captive portal and portal in the booted x86_64 image', () => {
  it("a deployer's settings file: its SSID and WPA2 passphrase are served on wifi that appears after boot, every probe pops up the portal; the admin page renames the network", async () => {
    const password = 'mot de passe du formateur';
    const hash = execFileSync('openssl', ['passwd', '-6', '-salt', 'clicboottest', password], { encoding: 'utf8' }).trim();
    const s: Scenario = {
      name: 'settings',
      settings: { wifi_ssid: 'Atelier 42', wifi_passphrase: 'correct horse battery', wifi_country: 'DE', wifi_channel: '11', language: 'en', admin_password_hash: hash },
      ssid: 'Atelier 42',
      passphrase: 'correct horse battery',
      country: 'DE',
      channel: '11',
      language: 'en',
      errorKeys: [],
      wifiAtBoot: false,
      scan: true,
      admin: { password, hash, newSsid: 'Salle 12', newChannel: '1' },
    };
    const { kit, visit } = await runScenario(s);
    checkKit(kit, s);
    checkVisit(visit, kit, s);
  });

  // (a bad passphrase leaves the hotspot off rather than open: test/unit/hotspot.test.ts and
  // firstboot-settings.test.ts run the image's own scripts on it)
  it('a settings file with bad values, wifi present at boot: the hotspot comes up with the defaults, the errors are on the portal', async () => {
    const s: Scenario = {
      name: 'bad-settings',
      settings: { wifi_ssid: 'This SSID is far longer than thirty-two bytes', wifi_country: 'XX', wifi_channel: '99' },
      ssid: String(hotspot.wifiSsid),
      passphrase: String(hotspot.wifiPassphrase),
      country: String(hotspot.wifiCountry),
      channel: String(hotspot.wifiChannel),
      language: String(plan.layers.find((l) => l.name === 'firstboot')?.vars.language ?? 'en') as 'fr' | 'en',
      errorKeys: ['wifi_ssid', 'wifi_country', 'wifi_channel'],
      wifiAtBoot: true,
      scan: false,
    };
    const { kit, visit } = await runScenario(s);
    checkKit(kit, s);
    checkVisit(visit, kit, s);
  });
});
