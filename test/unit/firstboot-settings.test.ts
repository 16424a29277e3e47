/**
 * The settings file, checked by the image's own script: overlays/firstboot/usr/lib/clic/clic-settings
 * runs here on the build host (bash, no root) with CLIC_ROOT pointing at a temporary root that
 * holds the recipe defaults (test/fixtures/settings/defaults.d/), Debian's ISO 3166 list (from
 * the host's iso-codes package) and a fixture as $CLIC_BOOT_DIR/clic-settings.txt. Asserts on
 * what the running system reads: /run/clic/settings.env (sourced by bash), settings-errors.json,
 * the journal lines (stdout), /etc/hostname, /etc/hosts, root's authorized_keys. The fixture
 * defaults include the yunohost layer's (its keys are in effect only on images with that layer).
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectedProblems } from './helpers/expect-comments.ts';
import { ROOT } from './helpers/paths.ts';

const SCRIPT = join(ROOT, 'overlays/firstboot/usr/lib/clic/clic-settings');
const EXAMPLE = join(ROOT, 'overlays/firstboot/usr/share/clic/clic-settings.example.txt');
const FIXTURES = join(ROOT, 'test/fixtures/settings');
const ISO_CODES = '/usr/share/iso-codes';
const BOOT_DIR = '/boot/firmware';
const KEYS = ['hostname', 'wifi_ssid', 'wifi_passphrase', 'wifi_country', 'wifi_channel', 'admin_ssh_key', 'language'] as const;
type Key = (typeof KEYS)[number];
/** Keys of the yunohost layer: in settings.env only when its defaults file is in the image. */
const YUNOHOST_KEYS = ['yunohost_domain', 'yunohost_admin', 'yunohost_fullname', 'yunohost_password', 'yunohost_postinstall'] as const;
type YunohostKey = (typeof YUNOHOST_KEYS)[number];
const YUNOHOST_DEFAULTS: Record<YunohostKey, string> = {
  yunohost_domain: 'clic.local',
  yunohost_admin: 'clicadmin',
  yunohost_fullname: 'CLIC Admin',
  yunohost_password: '',
  yunohost_postinstall: 'auto',
};
/** What bash prints for a variable settings.env does not set. */
const UNSET = '<unset>';
const DEFAULTS: Record<Key, string> = {
  hostname: 'clic',
  wifi_ssid: 'CLIC',
  wifi_passphrase: '',
  wifi_country: 'FR',
  wifi_channel: '6',
  admin_ssh_key: '',
  language: 'fr',
};
const ADMIN_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDlzPOmMmLXrxnsYKrGsGXITU+BPIr5gDOwRkqNtdxHb admin@atelier';
const IMAGE_HOSTS = '127.0.0.1\tlocalhost\n127.0.1.1\tclic\n::1\tlocalhost ip6-localhost ip6-loopback\n';

const scratch = mkdtempSync(join(tmpdir(), 'clic-settings-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let roots = 0;

interface Run {
  root: string;
  code: number | null;
  /** What the journal gets. */
  stdout: string;
  stderr: string;
  /** settings.env as bash sees it once sourced. */
  env: Record<string, string>;
  /** The yunohost_* values of settings.env (UNSET when it has none). */
  yunohost: Record<string, string>;
  errors: { key: string; value: string; message: string }[];
  ms: number;
}

/** A fresh root as the image has it: the layers' defaults, the ISO list, /etc/hosts. */
function makeRoot(): string {
  const root = join(scratch, `root-${++roots}`);
  mkdirSync(join(root, 'etc/clic'), { recursive: true });
  cpSync(join(FIXTURES, 'defaults.d'), join(root, 'etc/clic/defaults.d'), { recursive: true });
  mkdirSync(join(root, 'usr/share'), { recursive: true });
  symlinkSync(ISO_CODES, join(root, 'usr/share/iso-codes'));
  mkdirSync(join(root, BOOT_DIR), { recursive: true });
  writeFileSync(join(root, 'etc/hostname'), 'clic\n');
  writeFileSync(join(root, 'etc/hosts'), IMAGE_HOSTS);
  return root;
}

/** bash reads ~/.bashrc when its stdin is a socket (node's pipes are): --norc keeps it out. */
function exec(argv: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

/** Runs the script once in `root` with `settings` (bytes, or null for no file) as the deployer's file. */
async function runSettings(root: string, settings: Buffer | string | null): Promise<Run> {
  const file = join(root, BOOT_DIR, 'clic-settings.txt');
  if (settings === null) rmSync(file, { force: true });
  else writeFileSync(file, settings);
  const started = Date.now();
  const { code, stdout, stderr } = await exec(['bash', '--norc', SCRIPT], { CLIC_ROOT: root, CLIC_BOOT_DIR: BOOT_DIR });
  const ms = Date.now() - started;
  const envFile = join(root, 'run/clic/settings.env');
  const all = [...KEYS, ...YUNOHOST_KEYS];
  const sourced = await exec(['bash', '--norc', '-c', `. "$1" && printf '%s\\0' ${all.map((k) => `"\${CLIC_${k.toUpperCase()}-${UNSET}}"`).join(' ')}`, 'bash', envFile], {});
  expect(sourced.code, sourced.stderr).toBe(0);
  expect(sourced.stderr).toBe(''); // sourcing runs nothing
  const values = sourced.stdout.split('\0');
  const env = Object.fromEntries(KEYS.map((k, i) => [k, values[i]]));
  const yunohost = Object.fromEntries(YUNOHOST_KEYS.map((k, i) => [k, values[KEYS.length + i]]));
  // each entry also has its message in French (message_fr), for the portal in French: checked on its own
  const errors = (JSON.parse(readFileSync(join(root, 'run/clic/settings-errors.json'), 'utf8')) as { key: string; value: string; message: string; message_fr: unknown }[]).map(({ message_fr, ...e }) => {
    expect(typeof message_fr).toBe('string');
    return e;
  });
  return { root, code, stdout, stderr, env, yunohost, errors, ms };
}

const fixture = (name: string) => readFileSync(join(FIXTURES, name));
const read = (root: string, path: string) => readFileSync(join(root, path), 'utf8');

describe('clic-settings on the build host', () => {
  it('finds bash and the ISO 3166 list of the iso-codes package (ci/host-packages.txt)', () => {
    expect(existsSync(join(ISO_CODES, 'json/iso_3166-1.json')), 'install the iso-codes package').toBe(true);
  });

  it('with no settings file: the recipe defaults, no error, nothing on stderr', async () => {
    const r = await runSettings(makeRoot(), null);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.env).toEqual(DEFAULTS);
    expect(r.yunohost).toEqual(YUNOHOST_DEFAULTS);
    expect(r.errors).toEqual([]);
    expect(read(r.root, 'run/clic/settings-errors.json')).toBe('[]\n');
    expect(r.stdout).toMatch(/no \/boot\/firmware\/clic-settings.txt: using the defaults/);
    expect(r.ms).toBeLessThan(2000);
  });

  it('with the example file the image ships (CRLF, every key commented out): the defaults, no error', async () => {
    const example = readFileSync(EXAMPLE, 'utf8');
    for (const k of [...KEYS, ...YUNOHOST_KEYS]) expect(example, k).toMatch(new RegExp(`^#${k} = `, 'm'));
    expect(example.split('\n').filter((l) => l.trim() && !l.startsWith('#'))).toEqual([]);
    const r = await runSettings(makeRoot(), example.replace(/\n/g, '\r\n'));
    expect(r.env).toEqual(DEFAULTS);
    expect(r.yunohost).toEqual(YUNOHOST_DEFAULTS);
    expect(r.errors).toEqual([]);
  });

  it('applies a valid file: values normalised, host name and admin key applied, remembered', async () => {
    const r = await runSettings(makeRoot(), fixture('valid.txt'));
    expect(r.errors).toEqual([]);
    expect(r.env).toEqual({
      hostname: 'atelier-grenoble',
      wifi_ssid: 'Médiathèque Éducation CLIC-AB',
      wifi_passphrase: '  correct horse battery staple  ',
      wifi_country: 'BE',
      wifi_channel: '11',
      admin_ssh_key: ADMIN_KEY,
      language: 'en',
    });
    expect(read(r.root, 'etc/hostname')).toBe('atelier-grenoble\n');
    expect(read(r.root, 'etc/hosts')).toBe(IMAGE_HOSTS.replace('127.0.1.1\tclic', '127.0.1.1\tatelier-grenoble'));
    expect(read(r.root, 'root/.ssh/authorized_keys').split('\n')).toContain(ADMIN_KEY);
    expect(read(r.root, 'var/lib/clic/settings.applied')).toMatch(/^hostname = "atelier-grenoble"$/m);
    expect(r.stdout).toMatch(/^settings: hostname=atelier-grenoble .*\(WPA2\) wifi_country=BE wifi_channel=11 language=en, admin key SHA256:\S+; 0 problem\(s\)$/m);
  });

  it('reads a Notepad file: UTF-8 byte order mark, CRLF, tabs and spaces around "="', async () => {
    const bytes = fixture('crlf-bom.txt');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(bytes.toString('utf8')).toContain('\r\n');
    const r = await runSettings(makeRoot(), bytes);
    expect(r.errors).toEqual([]);
    expect(r.env).toEqual({ ...DEFAULTS, hostname: 'kit-notepad', wifi_ssid: 'Café CLIC', wifi_passphrase: 'motdepasse-du-kit' });
  });

  it('reads a file saved as UTF-16 ("Unicode" in Notepad)', async () => {
    const r = await runSettings(makeRoot(), fixture('utf16.txt'));
    expect(r.errors).toEqual([]);
    expect(r.env).toEqual({ ...DEFAULTS, hostname: 'kit-unicode', wifi_ssid: 'Bibliothèque' });
  });

  const invalid = readdirSync(FIXTURES).filter((f) => f.startsWith('invalid-')).sort();
  it.each(invalid)('%s: each problem reported (JSON and one journal line), defaults kept, the rest applied', async (name) => {
    const expected = expectedProblems(join(FIXTURES, name));
    expect(expected.length, `${name} has no "# expect:" comment`).toBeGreaterThan(0);
    const r = await runSettings(makeRoot(), fixture(name));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.errors).toHaveLength(expected.length);
    const lines = fixture(name).toString('latin1').split('\n');
    for (const e of expected) {
      const found = r.errors.find((x) => x.key === e.path && x.message.startsWith(`clic-settings.txt line ${e.line}: `));
      expect(found, `${name}: no error for ${e.path} at line ${e.line} in ${JSON.stringify(r.errors)}`).toBeDefined();
      expect(found!.message).toContain(e.text);
      const written = lines[e.line! - 1];
      const value = written.includes('=') ? written.slice(written.indexOf('=') + 1).trim() : written.trim();
      if (e.path === 'wifi_passphrase' || e.path === 'yunohost_password') expect(found!.value).toBe('');
      else if (/^[\x20-\x7e]*$/.test(value)) expect(found!.value).toBe(value);
      // one journal line naming the line, the key and the value
      const journal = r.stdout.split('\n').filter((l) => l.startsWith(`clic-settings.txt line ${e.line}: `));
      expect(journal, r.stdout).toHaveLength(1);
      expect(journal[0]).toContain(e.text);
      if (e.path) expect(journal[0]).toContain(e.path);
    }
    const rejected = new Set(expected.map((e) => e.path));
    for (const k of KEYS) if (rejected.has(k)) expect(r.env[k], k).toBe(DEFAULTS[k]);
    for (const k of YUNOHOST_KEYS) if (rejected.has(k)) expect(r.yunohost[k], k).toBe(YUNOHOST_DEFAULTS[k]);
    expect(r.stdout).toMatch(new RegExp(`; ${expected.length} problem\\(s\\)$`, 'm'));
  });

  it('invalid-many.txt: every rejected key keeps its default, the valid language is applied', async () => {
    const r = await runSettings(makeRoot(), fixture('invalid-many.txt'));
    expect(r.env).toEqual({ ...DEFAULTS, language: 'en' });
    expect(read(r.root, 'etc/hostname')).toBe('clic\n');
    expect(existsSync(join(r.root, 'root/.ssh/authorized_keys'))).toBe(false);
  });

  it('keeps the last good value on a later boot with a bad one; the default once the key is gone', async () => {
    const root = makeRoot();
    await runSettings(root, fixture('valid.txt'));
    const bad = await runSettings(root, 'hostname = not_valid\nwifi_channel = 14\nwifi_country = FR\n');
    expect(bad.env.hostname).toBe('atelier-grenoble');
    expect(bad.env.wifi_channel).toBe('11');
    expect(bad.env.wifi_country).toBe('FR');
    expect(bad.env.wifi_ssid).toBe(DEFAULTS.wifi_ssid); // not in the file any more: the default
    expect(bad.stdout).toMatch(/line 1: hostname = "not_valid" is invalid: .*; keeping the previous value "atelier-grenoble"$/m);
    expect(bad.errors.map((e) => e.key)).toEqual(['hostname', 'wifi_channel']);
    expect(read(root, 'etc/hostname')).toBe('atelier-grenoble\n');
    const again = await runSettings(root, 'hostname = not_valid\n');
    expect(again.env.hostname).toBe('atelier-grenoble');
    const gone = await runSettings(root, '# nothing set\n');
    expect(gone.env).toEqual(DEFAULTS);
    expect(read(root, 'etc/hostname')).toBe('clic\n');
    expect(read(root, 'etc/hosts')).toBe(IMAGE_HOSTS);
  });

  it('fails closed: a mistyped passphrase keeps the last good one, else leaves the hotspot off (never open), and is never in the journal', async () => {
    const refusedOf = async (root: string) =>
      (await exec(['bash', '--norc', '-c', '. "$1" && printf %s "$CLIC_WIFI_REFUSED"', 'bash', join(root, 'run/clic/settings.env')], {})).stdout;
    const fresh = makeRoot();
    const first = await runSettings(fresh, 'wifi_ssid = Atelier\nwifi_passphrase = secret7\n');
    expect(first.env.wifi_passphrase).toBe('');
    expect(await refusedOf(fresh)).toBe(
      'clic-settings.txt line 2: the wifi passphrase is invalid and there is no earlier one to keep: the hotspot stays off rather than open; correct it, or leave it empty for an open network',
    );
    expect(first.stdout).toMatch(/^clic-settings\.txt line 2: wifi_passphrase = \(hidden\) is invalid: .*this one has 7; no earlier passphrase to keep: the hotspot stays off rather than open$/m);
    expect(first.stdout).toMatch(/\(off: invalid passphrase\)/);
    expect(first.stdout + JSON.stringify(first.errors)).not.toContain('secret7');

    const good = makeRoot();
    await runSettings(good, 'wifi_passphrase = la bonne phrase\n');
    const typo = await runSettings(good, 'wifi_passphrase = la bonne phrasé\n');
    expect(typo.env.wifi_passphrase).toBe('la bonne phrase');
    expect(await refusedOf(good)).toBe('');
    expect(typo.stdout).toMatch(/wifi_passphrase = \(hidden\) is invalid: .*; keeping the previous value$/m);
    expect(typo.stdout).toMatch(/\(WPA2\)/);
    expect(typo.stdout).not.toContain('phrasé');

    // an open network asked for in words stays possible
    const open = makeRoot();
    await runSettings(open, 'wifi_passphrase =\n');
    expect(await refusedOf(open)).toBe('');
  });

  it('writes clic-status.txt on the FAT partition: values in effect without secrets, each problem with its line, in the kit’s language (CRLF)', async () => {
    const status = (root: string) => read(root, `${BOOT_DIR}/clic-status.txt`);
    const fr = makeRoot();
    await runSettings(fr, `wifi_passphrase = secret7\nwifi_channel = 14\nadmin_ssh_key = ${ADMIN_KEY}\nyunohost_password = motdepasse-long\n`);
    const text = status(fr);
    expect(text).toContain('\r\n');
    expect(text.replace(/\r\n/g, '\n')).toMatch(/^# État du kit CLIC, écrit par le kit à chaque démarrage/);
    const lines = text.split('\r\n');
    expect(lines).toEqual(expect.arrayContaining([
      '  hostname = clic',
      '  wifi_passphrase = (invalide : wifi éteint)',
      '  wifi_channel = 6',
      expect.stringMatching(/^  admin_ssh_key = SHA256:[A-Za-z0-9+/]{43}$/),
      '  yunohost_password = (défini, caché)',
      'Problèmes (2) :',
      '  clic-settings.txt ligne 1 : wifi_passphrase : attendu 8 à 63 caractères, ou rien pour un réseau ouvert ; celui-ci en a 7',
      '  clic-settings.txt ligne 2 : wifi_channel : attendu un canal wifi 2,4 GHz, un nombre de 1 à 13',
    ]));
    expect(text).toMatch(/Wifi éteint : le mot de passe wifi de clic-settings\.txt est invalide/);
    expect(text).not.toMatch(/secret7|motdepasse-long/);

    const en = makeRoot();
    await runSettings(en, 'language = en\nwifi_passphrase = la bonne phrase\n');
    expect(status(en).split('\r\n')).toEqual(expect.arrayContaining(['  wifi_passphrase = (set, hidden)', '  language = en', 'No problem in clic-settings.txt.']));
    expect(status(en)).not.toContain('la bonne phrase');

    // an open network the deployer asked for is said so; a refused one is not taken for it
    const open = makeRoot();
    await runSettings(open, 'language = en\nwifi_passphrase =\n');
    expect(status(open).split('\r\n')).toContain('  wifi_passphrase = (none: open network)');
    const refused = makeRoot();
    await runSettings(refused, 'language = en\nwifi_passphrase = short\n');
    expect(status(refused).split('\r\n')).toContain('  wifi_passphrase = (invalid: wifi off)');
  });

  it('without the FAT partition (missing or damaged): the previous boot’s settings, said in the journal and to the portal', async () => {
    const root = makeRoot();
    await runSettings(root, fixture('valid.txt'));
    const before = await runSettings(root, fixture('valid.txt'));
    rmSync(join(root, BOOT_DIR), { recursive: true });
    const { code, stdout } = await exec(['bash', '--norc', SCRIPT], { CLIC_ROOT: root, CLIC_BOOT_DIR: BOOT_DIR });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^the FAT partition \(\/boot\/firmware\) is not mounted, missing or damaged: clic-settings\.txt cannot be read; keeping the settings of the previous boot$/m);
    const errors = JSON.parse(read(root, 'run/clic/settings-errors.json')) as { key: string; message: string }[];
    expect(errors).toEqual([{ key: '', value: '', message: expect.stringMatching(/^\/boot\/firmware: the FAT partition is not mounted/), message_fr: expect.stringMatching(/^\/boot\/firmware : la partition FAT n’est pas montée/) }]);
    expect(read(root, 'etc/hostname')).toBe(`${before.env.hostname}\n`);
    expect(read(root, 'run/clic/settings.env')).toContain(`CLIC_WIFI_SSID='${before.env.wifi_ssid}'`);
    expect(existsSync(join(root, BOOT_DIR))).toBe(false); // nothing written where the partition should be

    const fresh = makeRoot();
    rmSync(join(fresh, BOOT_DIR), { recursive: true });
    const first = await exec(['bash', '--norc', SCRIPT], { CLIC_ROOT: fresh, CLIC_BOOT_DIR: BOOT_DIR });
    expect(first.stdout).toMatch(/cannot be read; keeping the defaults$/m);
  });

  it('gives the portal each problem in French too', async () => {
    const root = makeRoot();
    await runSettings(root, 'wifi_channel = 14\nnot a setting\n');
    const raw = JSON.parse(read(root, 'run/clic/settings-errors.json')) as { key: string; message_fr: string }[];
    expect(raw.map((e) => [e.key, e.message_fr])).toEqual([
      ['wifi_channel', 'clic-settings.txt ligne 1 : attendu un canal wifi 2,4 GHz, un nombre de 1 à 13'],
      ['', 'clic-settings.txt ligne 2 : pas un réglage : attendu clé = valeur'],
    ]);
  });

  it('quotes values safely for the shell and escapes them in JSON', async () => {
    const root = makeRoot();
    const ssid = `l'é $(echo X>&2)\`id\`"q"\\`; // 27 bytes
    const r = await runSettings(root, `wifi_ssid = ${ssid}\nwifi_country = "F\\R\t"\nhostname\n`);
    expect(r.env.wifi_ssid).toBe(ssid);
    expect(r.errors).toEqual([
      { key: 'wifi_country', value: 'F\\R\t', message: expect.stringContaining('line 2: expected a two-letter ISO 3166 country code') },
      { key: '', value: 'hostname', message: 'clic-settings.txt line 3: not a setting: expected key = value' },
    ]);
  });

  it("manages only its own block of root's authorized_keys", async () => {
    const root = makeRoot();
    mkdirSync(join(root, 'root/.ssh'), { recursive: true });
    writeFileSync(join(root, 'root/.ssh/authorized_keys'), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther other@host\n');
    await runSettings(root, fixture('valid.txt'));
    const withKey = read(root, 'root/.ssh/authorized_keys').split('\n');
    expect(withKey[0]).toBe('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther other@host');
    expect(withKey).toContain(ADMIN_KEY);
    await runSettings(root, fixture('valid.txt'));
    expect(read(root, 'root/.ssh/authorized_keys').split(ADMIN_KEY)).toHaveLength(2); // not added twice
    await runSettings(root, null);
    expect(read(root, 'root/.ssh/authorized_keys')).toBe('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther other@host\n');
  });

  it('reports an invalid recipe default and ignores unknown keys in defaults.d', async () => {
    const root = makeRoot();
    writeFileSync(join(root, 'etc/clic/defaults.d/zz-extra.conf'), 'wifi_channel = 42\nportal_theme = dark\n');
    const r = await runSettings(root, null);
    expect(r.env.wifi_channel).toBe('6');
    expect(r.errors).toEqual([{ key: 'wifi_channel', value: '42', message: expect.stringMatching(/^defaults\.d\/zz-extra\.conf line 1 \(recipe default\): expected a 2\.4 GHz/) }]);
    expect(r.stdout).toMatch(/defaults\.d\/zz-extra\.conf line 2: ignored, not a known setting: portal_theme/);
  });

  it('YunoHost settings: normalised and applied; the password from the file never in the journal; files root-only', async () => {
    const r = await runSettings(makeRoot(), fixture('valid-yunohost.txt'));
    expect(r.errors).toEqual([]);
    expect(r.yunohost).toEqual({
      yunohost_domain: 'atelier.example.org',
      yunohost_admin: 'formatrice_2',
      yunohost_fullname: "Élodie N'Guessan-Müller",
      yunohost_password: '  Un mot de passe, assez long!  ',
      yunohost_postinstall: 'web',
    });
    expect(r.stdout).toMatch(/^settings: yunohost: postinstall=web domain=atelier\.example\.org admin=formatrice_2 fullname="Élodie N'Guessan-Müller", admin password from the settings file$/m);
    expect(r.stdout).not.toContain('Un mot de passe');
    // they hold the wifi passphrase and YunoHost's admin password
    for (const file of ['run/clic/settings.env', 'var/lib/clic/settings.applied']) expect(statSync(join(r.root, file)).mode & 0o777, file).toBe(0o600);
    expect(read(r.root, 'var/lib/clic/settings.applied')).toMatch(/^yunohost_password = " {2}Un mot de passe, assez long! {2}"$/m);
    // with no password set: generated at first boot
    const none = await runSettings(makeRoot(), null);
    expect(none.stdout).toMatch(/^settings: yunohost: postinstall=auto domain=clic\.local admin=clicadmin fullname="CLIC Admin", admin password generated at its first start$/m);
  });

  it('a rejected YunoHost password is hidden in the journal and the JSON; the previous good one is kept', async () => {
    const root = makeRoot();
    await runSettings(root, 'yunohost_password = a-good-long-password\n');
    const r = await runSettings(root, 'yunohost_password = short7!\n');
    expect(r.yunohost.yunohost_password).toBe('a-good-long-password');
    expect(r.errors).toEqual([{ key: 'yunohost_password', value: '', message: expect.stringContaining('this one has 7') }]);
    expect(r.stdout).toMatch(/^clic-settings\.txt line 1: yunohost_password = \(hidden\) is invalid: .*; keeping the previous value$/m);
    expect(r.stdout).not.toContain('short7!');
    expect(r.stdout).not.toContain('a-good-long-password');
  });

  it("YunoHost's own refusals: a system account as admin, a password of its most-used list", async () => {
    const root = makeRoot();
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nopenldap:x:101:104:OpenLDAP Server Account,,,:/var/lib/ldap:/bin/false\n');
    mkdirSync(join(root, 'usr/share/yunohost'), { recursive: true });
    writeFileSync(join(root, 'usr/share/yunohost/100000-most-used-passwords-length8plus.txt'), 'password\n12345678\nqwertyuiop\n');
    const r = await runSettings(root, 'yunohost_admin = openldap\nyunohost_password = qwertyuiop\nyunohost_fullname = Camille Dupont\n');
    expect(r.errors.map((e) => [e.key, e.message.replace(/^clic-settings\.txt line \d+: /, '').slice(0, 40)])).toEqual([
      ['yunohost_admin', 'expected a user name that is not reserve'],
      ['yunohost_password', 'expected a password that is not among th'],
    ]);
    expect(r.yunohost).toEqual({ ...YUNOHOST_DEFAULTS, yunohost_fullname: 'Camille Dupont' });
    const ok = await runSettings(root, 'yunohost_admin = camille\nyunohost_password = qwertyuiop-but-longer\n');
    expect(ok.errors).toEqual([]);
  });

  it('an image without the yunohost layer: yunohost_* lines ignored (no error), none in settings.env', async () => {
    const root = makeRoot();
    rmSync(join(root, 'etc/clic/defaults.d/yunohost.conf'));
    const r = await runSettings(root, fixture('valid-yunohost.txt'));
    expect(r.errors).toEqual([]);
    expect(r.env).toEqual({ ...DEFAULTS, hostname: 'atelier' });
    expect(Object.values(r.yunohost)).toEqual(YUNOHOST_KEYS.map(() => UNSET));
    expect(read(root, 'run/clic/settings.env')).not.toMatch(/YUNOHOST/);
    expect(read(root, 'var/lib/clic/settings.applied')).not.toMatch(/yunohost/);
    expect(r.stdout).toMatch(/^clic-settings\.txt line 7: yunohost_domain: ignored, this image has no yunohost layer$/m);
    expect(r.stdout).not.toMatch(/^settings: yunohost:/m);
    expect(r.stdout).not.toContain('Un mot de passe');
    // a typo is still an error, and the list of known settings is this image's
    const typo = await runSettings(root, 'yunohost_domian = x.local\n');
    expect(typo.errors).toEqual([{ key: 'yunohost_domian', value: 'x.local', message: expect.stringMatching(/unknown setting; known settings are hostname .* language$/) }]);
  });
});

/** The kit-admin layer's key: in effect only on an image whose defaults.d declares it. */
describe('admin_password_hash (kit-admin layer)', () => {
  const KIT_ADMIN_DEFAULTS = join(ROOT, 'overlays/kit-admin/etc/clic/defaults.d/kit-admin.conf');
  const withKitAdmin = () => {
    const root = makeRoot();
    cpSync(KIT_ADMIN_DEFAULTS, join(root, 'etc/clic/defaults.d/kit-admin.conf'));
    return root;
  };
  const hashOf = async (root: string) =>
    (await exec(['bash', '--norc', '-c', '. "$1" && printf %s "${CLIC_ADMIN_PASSWORD_HASH-<unset>}"', 'bash', join(root, 'run/clic/settings.env')], {})).stdout;
  /** Real hashes, made on the host as a deployer makes them (openssl), and the shapes of the
   *  others (yescrypt: parameters, salt, 43 characters; bcrypt: cost, 53 characters). */
  const openssl = async (...args: string[]) => (await exec(['openssl', 'passwd', ...args, 'un mot de passe assez long'], {})).stdout.trim();
  const B64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const YESCRYPT = `$y$j9T$${B64.slice(10, 32)}$${B64.slice(3, 46)}`;
  const BCRYPT = `$2y$12$${B64.slice(0, 53)}`;

  it('the image default is empty (the page is off): no password ships in an image', () => {
    expect(readFileSync(KIT_ADMIN_DEFAULTS, 'utf8')).toMatch(/^admin_password_hash =\s*$/m);
  });

  it('accepts the hashes mkpasswd, openssl passwd -6/-5 and htpasswd -B print; keeps them out of the journal, the JSON and the status file', async () => {
    const sha512 = await openssl('-6');
    const sha256 = await openssl('-5');
    expect(sha512).toMatch(/^\$6\$/);
    for (const hash of [sha512, sha256, YESCRYPT, BCRYPT, '$6$rounds=10000$saltsalt$' + sha512.split('$')[3]]) {
      const root = withKitAdmin();
      const r = await runSettings(root, `language = en\nadmin_password_hash = ${hash}\n`);
      expect(r.errors, hash).toEqual([]);
      expect(await hashOf(root)).toBe(hash);
      expect(r.stdout).toMatch(/^settings: kit admin page on \(admin password hash set\)$/m);
      const status = read(root, `${BOOT_DIR}/clic-status.txt`);
      expect(status.split('\r\n')).toContain('  admin_password_hash = (set, hidden)');
      for (const out of [r.stdout, status, read(root, 'run/clic/settings-errors.json')]) expect(out).not.toContain(hash.slice(8));
    }
  });

  it('refuses what is not such a hash (the password itself, MD5 crypt, a cut hash), both languages, never shown; the previous one kept, else none', async () => {
    const good = await openssl('-6');
    const root = withKitAdmin();
    await runSettings(root, `admin_password_hash = ${good}\n`);
    for (const bad of ['un mot de passe assez long', await openssl('-1'), await openssl('-apr1'), good.slice(0, -3), `${good}x`, '$6$']) {
      const r = await runSettings(root, `admin_password_hash = ${bad}\n`);
      expect(r.errors, bad).toEqual([{ key: 'admin_password_hash', value: '', message: expect.stringContaining('line 1: expected a password hash as mkpasswd -m yescrypt or openssl passwd -6 print it') }]);
      const fr = (JSON.parse(read(root, 'run/clic/settings-errors.json')) as { message_fr: string }[])[0].message_fr;
      expect(fr).toContain('attendu une empreinte de mot de passe');
      expect(r.stdout).toMatch(/^clic-settings\.txt line 1: admin_password_hash = \(hidden\) is invalid: .*; keeping the previous value$/m);
      if (bad.length > 8) expect(r.stdout).not.toContain(bad); // "$6$" is in the message itself
      expect(await hashOf(root)).toBe(good);
    }
    const fresh = withKitAdmin();
    const r = await runSettings(fresh, 'admin_password_hash = secret-password\n');
    expect(r.errors.map((e) => e.key)).toEqual(['admin_password_hash']);
    expect(await hashOf(fresh)).toBe('');
    expect(r.stdout).toMatch(/^settings: kit admin page off \(no admin_password_hash\)$/m);
    expect(read(fresh, `${BOOT_DIR}/clic-status.txt`)).toContain('  admin_password_hash = (aucun : page d’administration éteinte)');
  });

  it('an image without the kit-admin layer ignores the line', async () => {
    const root = makeRoot();
    const r = await runSettings(root, `admin_password_hash = ${YESCRYPT}\n`);
    expect(r.errors).toEqual([]);
    expect(await hashOf(root)).toBe('<unset>');
    expect(r.stdout).toMatch(/^clic-settings\.txt line 1: admin_password_hash: ignored, this image has no kit-admin layer$/m);
  });

  it('the example settings file explains it, commented out, with how to make the hash on Linux, macOS and Windows', () => {
    const example = readFileSync(EXAMPLE, 'utf8');
    expect(example).toMatch(/^#admin_password_hash = /m);
    for (const how of ['mkpasswd -m yescrypt', 'openssl passwd -6', 'htpasswd -nBC 12 admin', 'Linux', 'macOS', 'Windows']) expect(example).toContain(how);
  });
});

describe('clic-settings --check FILE (the kit admin page checks a changed file with it)', () => {
  const check = async (root: string, text: string | Buffer) => {
    const file = join(root, 'candidate.txt');
    writeFileSync(file, text);
    const before = readdirSync(root, { recursive: true }).sort();
    const r = await exec(['bash', '--norc', SCRIPT, '--check', file], { CLIC_ROOT: root, CLIC_BOOT_DIR: BOOT_DIR });
    expect(readdirSync(root, { recursive: true }).sort()).toEqual(before); // nothing written
    return { ...r, problems: r.stdout.split('\n').filter(Boolean).map((l) => l.split('\x1f')) };
  };

  it('prints each problem (key, message, French message) and nothing else, exit 1; a good file: nothing, exit 0', async () => {
    const root = makeRoot();
    const bad = await check(root, 'wifi_channel = 14\r\nwifi_passphrase = short\r\nhostname = ok-name\r\nnot a setting\r\n');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('');
    expect(bad.problems).toEqual([
      ['wifi_channel', 'clic-settings.txt line 1: expected a 2.4 GHz wifi channel, a number from 1 to 13', 'clic-settings.txt ligne 1 : attendu un canal wifi 2,4 GHz, un nombre de 1 à 13'],
      ['wifi_passphrase', expect.stringContaining('this one has 5'), expect.stringContaining('celui-ci en a 5')],
      ['', 'clic-settings.txt line 4: not a setting: expected key = value', 'clic-settings.txt ligne 4 : pas un réglage : attendu clé = valeur'],
    ]);
    expect(bad.stdout).not.toContain('short');
    const good = await check(root, fixture('valid.txt').toString());
    expect(good).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect((await check(root, fixture('utf16.txt'))).code).toBe(0);
  });

  it('knows the keys of the image (its defaults.d): a layer key of another image is no problem, a typo is', async () => {
    const root = makeRoot();
    const r = await check(root, `admin_password_hash = x\nwifi_sid = x\n`);
    expect(r.problems.map((p) => p[0])).toEqual(['wifi_sid']);
  });

  it('without a file to check: a usage line, exit 2', async () => {
    const r = await exec(['bash', '--norc', SCRIPT, '--check', '/nonexistent'], { CLIC_ROOT: makeRoot() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^usage: clic-settings --check FILE/);
  });
});
