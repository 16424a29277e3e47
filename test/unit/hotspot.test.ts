/**
 * The hotspot layer: its build-time files from the recipe variables, and its boot script
 * (overlays/hotspot/usr/lib/clic/hotspot-setup) run on the build host against a folder that
 * stands for the kit (CLIC_ROOT), with `ip` and `systemctl` replaced by recorders: the hostapd
 * configuration it writes for given settings, the interface it picks, what it does without wifi,
 * and how it falls back to the image defaults on values hostapd would refuse.
 */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { hotspotFiles, hotspotNetwork } from '../../builder/portal/hotspot.ts';
import { writeGenerated } from '../../builder/steps/layer.ts';
import { defaultsOf } from '../../builder/recipe/vars.ts';
import { ROOT } from './helpers/paths.ts';
import { projectRegistry } from './helpers/registries.ts';

const exec = promisify(execFile);
const registry = await projectRegistry();
const hotspot = registry.layers.get('hotspot')!;
const DEFAULTS = defaultsOf(hotspot.vars);

describe('hotspot build-time files', () => {
  it('writes the image defaults for the settings service, the network, and DHCP on the hotspot address only', () => {
    const files = hotspotFiles({ ...DEFAULTS, wifiSsid: 'Atelier', wifiPassphrase: 'correct horse', wifiChannel: 11 });
    expect(files['/etc/clic/defaults.d/hotspot.conf']).toMatch(/^wifi_ssid = Atelier$/m);
    expect(files['/etc/clic/defaults.d/hotspot.conf']).toMatch(/^wifi_passphrase = correct horse$/m);
    expect(files['/etc/clic/defaults.d/hotspot.conf']).toMatch(/^wifi_country = FR$/m);
    expect(files['/etc/clic/defaults.d/hotspot.conf']).toMatch(/^wifi_channel = 11$/m);
    expect(files['/etc/clic/hotspot.env']).toMatch(/^CLIC_HOTSPOT_ADDRESS=10\.42\.0\.1$/m);
    const dnsmasq = String(files['/etc/dnsmasq.d/clic-hotspot']);
    expect(dnsmasq).toMatch(/^bind-dynamic$/m);
    expect(dnsmasq).toMatch(/^listen-address=10\.42\.0\.1$/m);
    expect(dnsmasq).toMatch(/^dhcp-range=10\.42\.0\.10,10\.42\.0\.250,255\.255\.255\.0,12h$/m);
    // never every interface: no interface= line that a wired network could match
    expect(dnsmasq).not.toMatch(/^interface=/m);
  });

  it('an open network by default, and file names in /etc/dnsmasq.d/ without a dot (YunoHost deletes those)', () => {
    expect(DEFAULTS.wifiPassphrase).toBe('');
    expect(hotspotFiles(DEFAULTS)['/etc/clic/defaults.d/hotspot.conf']).toMatch(/^wifi_passphrase = $/m);
    for (const path of Object.keys(hotspotFiles(DEFAULTS)).filter((p) => p.startsWith('/etc/dnsmasq.d/'))) expect(path.split('/').pop()).not.toContain('.');
  });

  it('rejects an SSID over 32 bytes and addresses that are not x.y.z.1', () => {
    expect(() => hotspotFiles({ ...DEFAULTS, wifiSsid: 'é'.repeat(17) })).toThrow(/34 bytes/);
    expect(() => hotspotNetwork('10.42.0.2')).toThrow(/ending in \.1/);
    expect(hotspotNetwork('192.168.7.1')).toEqual({ address: '192.168.7.1', prefix: 24, dhcpFirst: '192.168.7.10', dhcpLast: '192.168.7.250' });
  });

  it('the address variable accepts private x.y.z.1 addresses only', async () => {
    const { Ajv } = await import('ajv');
    const { varSchema } = await import('../../builder/recipe/vars.ts');
    const validate = new Ajv().compile(varSchema(hotspot.vars!.address));
    for (const ok of ['10.42.0.1', '192.168.4.1', '172.20.9.1']) expect(validate(ok), ok).toBe(true);
    for (const bad of ['8.8.8.1', '10.42.0.2', '172.32.0.1', '10.300.0.1', '']) expect(validate(bad), bad).toBe(false);
    const pass = new Ajv().compile(varSchema(hotspot.vars!.wifiPassphrase));
    for (const ok of ['', '12345678', 'with spaces ok']) expect(pass(ok), ok).toBe(true);
    for (const bad of ['short', 'x'.repeat(64), 'accentué!']) expect(pass(bad), bad).toBe(false);
  });
});

// --- the boot script, on the host -------------------------------------------------------------

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Kit {
  root: string;
  calls: () => string[];
  run: (...args: string[]) => Promise<{ stdout: string; stderr: string; code: number }>;
  read: (path: string) => string;
}

/** A folder standing for the kit: the layer's overlay and generated files, fake sysfs interfaces. */
async function kit(opts: { interfaces: Record<string, 'wifi' | 'wired'>; vars?: Record<string, string | number | boolean>; settings?: string }): Promise<Kit> {
  const root = mkdtempSync(join(tmpdir(), 'clic-hotspot-'));
  dirs.push(root);
  cpSync(join(ROOT, 'overlays/hotspot'), root, { recursive: true });
  await writeGenerated(root, hotspotFiles({ ...DEFAULTS, ...opts.vars }), 0);
  for (const [name, kind] of Object.entries(opts.interfaces)) {
    mkdirSync(join(root, 'sys/class/net', name), { recursive: true });
    if (kind === 'wifi') mkdirSync(join(root, 'sys/class/net', name, 'phy80211'));
  }
  if (opts.settings !== undefined) {
    mkdirSync(join(root, 'run/clic'), { recursive: true });
    writeFileSync(join(root, 'run/clic/settings.env'), opts.settings);
  }
  const bin = join(root, 'test-bin');
  mkdirSync(bin);
  for (const tool of ['ip', 'systemctl']) {
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${root}/calls"\n`);
    chmodSync(join(bin, tool), 0o755);
  }
  return {
    root,
    calls: () => (existsSync(join(root, 'calls')) ? readFileSync(join(root, 'calls'), 'utf8').trim().split('\n') : []),
    read: (path) => readFileSync(join(root, path), 'utf8'),
    run: async (...args) => {
      try {
        const r = await exec('/bin/sh', [join(root, 'usr/lib/clic/hotspot-setup'), ...args], {
          env: { PATH: `${bin}:/usr/bin:/bin`, CLIC_ROOT: root },
        });
        return { ...r, code: 0 };
      } catch (err) {
        const e = err as { stdout: string; stderr: string; code: number };
        return { stdout: e.stdout, stderr: e.stderr, code: e.code };
      }
    },
  };
}

const conf = (text: string) => Object.fromEntries(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
const hex = (s: string) => Buffer.from(s).toString('hex');

describe('hotspot-setup (boot script)', () => {
  it('without wifi: one clear line, success, no hostapd configuration, nothing touched', async () => {
    const k = await kit({ interfaces: { eth0: 'wired', lo: 'wired' } });
    const r = await k.run();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^no wifi interface found: the hotspot is off until a wifi adapter appears/m);
    expect(existsSync(join(k.root, 'run/clic/hotspot/hostapd.conf'))).toBe(false);
    expect(k.read('run/clic/hotspot/state').trim()).toBe('none');
    expect(k.calls()).toEqual([]);
  });

  it('without settings.env: the image defaults (open network) on the first wifi interface, in name order', async () => {
    const k = await kit({ interfaces: { eth0: 'wired', wlan1: 'wifi', wlan0: 'wifi' } });
    const r = await k.run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/settings\.env is missing/);
    const c = conf(k.read('run/clic/hotspot/hostapd.conf'));
    expect(c).toMatchObject({ interface: 'wlan0', driver: 'nl80211', ssid2: hex('CLIC'), utf8_ssid: '1', country_code: 'FR', hw_mode: 'g', channel: '6' });
    expect(c.wpa).toBeUndefined();
    expect(c.wpa_passphrase).toBeUndefined();
    expect(k.read('run/clic/hotspot/interface').trim()).toBe('wlan0');
    expect(k.read('run/clic/hotspot/state').trim()).toBe('configured');
    expect(k.calls()).toEqual(['ip address replace 10.42.0.1/24 dev wlan0']);
    expect(r.stdout).toMatch(/^hotspot on wlan0: SSID "CLIC" \(open\), country FR, channel 6, address 10\.42\.0\.1$/m);
  });

  it('with settings.env: WPA2 with its passphrase, its SSID (UTF-8, quotes), country and channel; the passphrase never logged', async () => {
    const settings = [
      `CLIC_HOSTNAME='atelier'`,
      `CLIC_WIFI_SSID='Café "l'"'"'Atelier"'`,
      `CLIC_WIFI_PASSPHRASE='s3cret pass#word'`,
      `CLIC_WIFI_COUNTRY='DE'`,
      `CLIC_WIFI_CHANNEL='11'`,
      `CLIC_LANGUAGE='fr'`,
      '',
    ].join('\n');
    const k = await kit({ interfaces: { wlp2s0: 'wifi' }, settings });
    const r = await k.run();
    expect(r.code, r.stderr).toBe(0);
    const c = conf(k.read('run/clic/hotspot/hostapd.conf'));
    expect(Buffer.from(c.ssid2, 'hex').toString()).toBe(`Café "l'Atelier"`);
    expect(c).toMatchObject({ interface: 'wlp2s0', country_code: 'DE', channel: '11', wpa: '2', wpa_key_mgmt: 'WPA-PSK', rsn_pairwise: 'CCMP', wpa_passphrase: 's3cret pass#word' });
    expect(r.stdout + r.stderr).not.toContain('s3cret');
    expect(r.stdout).toMatch(/WPA2/);
  });

  it('clients reach the kit, not each other, unless the recipe says clientIsolation: false', async () => {
    expect(DEFAULTS.clientIsolation).toBe(true);
    const isolated = await kit({ interfaces: { wlan0: 'wifi' } });
    await isolated.run();
    expect(conf(isolated.read('run/clic/hotspot/hostapd.conf')).ap_isolate).toBe('1');
    const open = await kit({ interfaces: { wlan0: 'wifi' }, vars: { clientIsolation: false } });
    await open.run();
    expect(conf(open.read('run/clic/hotspot/hostapd.conf')).ap_isolate).toBe('0');
  });

  it('a 5 GHz channel selects hw_mode a', async () => {
    const k = await kit({ interfaces: { wlan0: 'wifi' }, settings: "CLIC_WIFI_CHANNEL='36'\n" });
    await k.run();
    expect(conf(k.read('run/clic/hotspot/hostapd.conf'))).toMatchObject({ hw_mode: 'a', channel: '36' });
  });

  it('values hostapd would refuse fall back to the image defaults, each said in the journal', async () => {
    const settings = "CLIC_WIFI_SSID=''\nCLIC_WIFI_PASSPHRASE='short'\nCLIC_WIFI_COUNTRY='fr'\nCLIC_WIFI_CHANNEL='99'\n";
    const k = await kit({ interfaces: { wlan0: 'wifi' }, vars: { wifiPassphrase: 'image default pass', wifiChannel: 3 }, settings });
    const r = await k.run();
    expect(r.code, r.stderr).toBe(0);
    const c = conf(k.read('run/clic/hotspot/hostapd.conf'));
    expect(c).toMatchObject({ ssid2: hex('CLIC'), wpa_passphrase: 'image default pass', country_code: 'FR', channel: '3' });
    expect(r.stdout).toMatch(/SSID "" is not 1 to 32 bytes/);
    expect(r.stdout).toMatch(/passphrase is not 8 to 63/);
    expect(r.stdout).toMatch(/country "fr" is not a two-letter code/);
    expect(r.stdout).toMatch(/channel 99 is not a 2\.4 or 5 GHz channel/);
  });

  it('never opens the network instead of a refused passphrase: off, with the reason, when clic-settings refused it or the image has no default', async () => {
    const reason = 'clic-settings.txt line 4: the wifi passphrase is invalid and there is no earlier one to keep: the hotspot stays off rather than open; correct it, or leave it empty for an open network';
    const refused = await kit({ interfaces: { wlan0: 'wifi' }, settings: `CLIC_WIFI_PASSPHRASE=''\nCLIC_WIFI_REFUSED='${reason}'\n` });
    const r = await refused.run('--hotplug');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').pop()).toBe(reason);
    expect(existsSync(join(refused.root, 'run/clic/hotspot/hostapd.conf'))).toBe(false);
    expect(refused.read('run/clic/hotspot/state').trim()).toBe('refused');
    expect(refused.calls()).toEqual([]);

    const noDefault = await kit({ interfaces: { wlan0: 'wifi' }, settings: "CLIC_WIFI_PASSPHRASE='short'\n" });
    const n = await noDefault.run();
    expect(n.stdout).toMatch(/the image has no default one: the hotspot stays off rather than open/);
    expect(n.stdout).not.toContain('short');
    expect(existsSync(join(noDefault.root, 'run/clic/hotspot/hostapd.conf'))).toBe(false);
    expect(noDefault.read('run/clic/hotspot/state').trim()).toBe('refused');
  });

  it('--hotplug (a wifi adapter appeared after boot) restarts hostapd and dnsmasq on it', async () => {
    const k = await kit({ interfaces: { wlx00c0ca000001: 'wifi' } });
    const r = await k.run('--hotplug');
    expect(r.code, r.stderr).toBe(0);
    expect(k.calls()).toEqual(['ip address replace 10.42.0.1/24 dev wlx00c0ca000001', 'systemctl --no-block restart hostapd.service dnsmasq.service']);
  });

  it('the hostapd configuration is readable by root only (it holds the passphrase)', async () => {
    const k = await kit({ interfaces: { wlan0: 'wifi' }, settings: "CLIC_WIFI_PASSPHRASE='12345678'\n" });
    await k.run();
    const { stdout } = await exec('stat', ['-c', '%a', join(k.root, 'run/clic/hotspot/hostapd.conf')]);
    expect(stdout.trim()).toBe('600');
  });
});

describe('read-settings.sh', () => {
  it('parses `key = value` defaults (comments, blanks, CRLF, = in values) and lets settings.env override them', async () => {
    const root = mkdtempSync(join(tmpdir(), 'clic-settings-'));
    dirs.push(root);
    const lib = join(root, 'usr/lib/clic/read-settings.sh');
    mkdirSync(dirname(lib), { recursive: true });
    cpSync(join(ROOT, 'overlays/hotspot/usr/lib/clic/read-settings.sh'), lib);
    mkdirSync(join(root, 'etc/clic/defaults.d'), { recursive: true });
    writeFileSync(join(root, 'etc/clic/defaults.d/a.conf'), '# comment = not a key\r\n\r\nwifi_ssid =  My Kit  \r\nwifi_passphrase = a=b c#d\r\nlanguage=en\r\nunknown = x\r\n');
    writeFileSync(join(root, 'etc/clic/defaults.d/b.conf'), 'wifi_channel = 1\nwifi_country = BE');
    const show = 'printf "[%s]" "$CLIC_WIFI_SSID" "$CLIC_WIFI_PASSPHRASE" "$CLIC_LANGUAGE" "$CLIC_WIFI_CHANNEL" "$CLIC_WIFI_COUNTRY"';
    const run = async () => (await exec('/bin/sh', ['-c', `. "$CLIC_ROOT/usr/lib/clic/read-settings.sh"; clic_load_settings >/dev/null; ${show}`], { env: { CLIC_ROOT: root, PATH: '/usr/bin:/bin' } })).stdout;
    expect(await run()).toBe('[My Kit][a=b c#d][en][1][BE]');
    mkdirSync(join(root, 'run/clic'), { recursive: true });
    writeFileSync(join(root, 'run/clic/settings.env'), "CLIC_LANGUAGE='fr'\nCLIC_WIFI_SSID='Other'\n");
    expect(await run()).toBe('[Other][a=b c#d][fr][1][BE]');
  });
});
