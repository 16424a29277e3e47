/**
 * The kit admin page (kit-admin layer): its build-time files (nginx location, rate limit, env
 * file, pages in both languages, "About this kit" leading to it) and the image's own scripts run
 * on the build host against a folder that stands for the kit (CLIC_ROOT), as the settings tests
 * do: kit-admin-setup (password file, settings the page shows), kit-admin.cgi with CGI variables
 * (GET, POST and every refusal), settings-edit, and kit-admin-apply end to end, with a
 * `systemctl` stand-in that runs the real clic-settings and kit-admin-setup again. As root, the
 * CGI also runs as www-data, with the folders kit-admin-setup made.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { A, ADMIN_API, adminPage, FIELDS, loginPage } from '../../builder/portal/kit-admin-page.ts';
import { ADMIN_CGI, adminCsp, FCGI_SOCKET, HTPASSWD, kitAdminEnv, kitAdminFiles, kitAdminLimits, LOGIN_PAGE, MAX_BODY_BYTES, RATE, WIFI_CLIENT_LIMITS } from '../../builder/portal/kit-admin.ts';
import { ADMIN_PATH, ADMIN_STATE_PATH, LANGUAGES, portalFiles, renderPortal, SERVICE_LOCATIONS, WEB_ROOT } from '../../builder/portal/pages.ts';
import { layerGenerator } from '../../builder/recipe/plan.ts';
import { planOf } from '../support/plans.ts';
import { ROOT } from './helpers/paths.ts';

const OVERLAYS = join(ROOT, 'overlays');
const SETTINGS_SCRIPT = join(OVERLAYS, 'firstboot/usr/lib/clic/clic-settings');
const CGI_SCRIPT = join(OVERLAYS, 'kit-admin/usr/lib/clic/kit-admin.cgi');
const EXAMPLE = join(OVERLAYS, 'firstboot/usr/share/clic/clic-settings.example.txt');
const BOOT_DIR = '/boot/firmware';
const SETTINGS = `${BOOT_DIR}/clic-settings.txt`;
const ME = userInfo().username;
const IS_ROOT = process.getuid?.() === 0;
const PASSPHRASE = 'la phrase du wifi, secrete!';
const NEW_PASSPHRASE = 'une autre phrase, aussi secrete';
const HASH = execFileSync('openssl', ['passwd', '-6', 'le mot de passe admin'], { encoding: 'utf8' }).trim();
const ADMIN_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDlzPOmMmLXrxnsYKrGsGXITU+BPIr5gDOwRkqNtdxHb admin@atelier';

const text = (v: unknown) => (typeof v === 'string' ? v : Buffer.from((v as { content?: Uint8Array }).content ?? (v as Uint8Array)).toString('utf8'));

// --- build-time files ---------------------------------------------------------------------------

describe('kit-admin build-time files', async () => {
  const plan = await planOf('clic-rpi4');
  const layer = plan.layers.find((l) => l.name === 'kit-admin')!;
  const files = await layerGenerator(layer)!(plan, layer);
  const nginx = text(files[`${SERVICE_LOCATIONS}/kit-admin.conf`]);
  const block = (location: string) => new RegExp(`^location ${location.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\{\\n([\\s\\S]*?)^\\}`, 'm').exec(nginx)?.[1] ?? '';

  it('the release images have the layer right after the portal', async () => {
    for (const name of ['clic-rpi3', 'clic-rpi4', 'clic-pc-x86_64', 'clic-rpi4-yunohost', 'clic-pc-x86_64-yunohost', 'clic-odroid-xu4']) {
      const layers = (await planOf(name)).layers.map((l) => l.name);
      expect(layers.indexOf('kit-admin'), name).toBe(layers.indexOf('portal') + 1);
    }
    expect(layer.packages).toEqual(['fcgiwrap']);
  });

  it('nginx: the page and its API behind basic auth with the password file, 404 before any password when it is absent', () => {
    for (const location of [`^~ ${ADMIN_PATH}`, `= ${ADMIN_API}`]) {
      const b = block(location);
      expect(b, location).not.toBe('');
      // first thing: off without the file (no 401, no login prompt, the portal's 404 page)
      expect(b.split('\n')[0]).toBe(`    if (!-f ${HTPASSWD}) { return 404; }`);
      expect(b).toMatch(/^ {4}auth_basic "[^"$]+";$/m);
      expect(b).toContain(`    auth_basic_user_file ${HTPASSWD};`);
      expect(b).toContain(`    limit_req zone=${RATE.zone} burst=${RATE.burst} nodelay;`);
      expect(b).toContain(`    error_page 401 /clic/errors/${LOGIN_PAGE}.$clic_lang.html;`);
      expect(b).toContain('    error_page 403 404 /clic/errors/404.$clic_lang.html;');
      expect(b).toContain('    error_page 500 502 503 504 /clic/errors/50x.$clic_lang.html;');
      expect(b).toContain('    add_header Cache-Control "no-store" always;');
    }
    const state = block(`= ${ADMIN_STATE_PATH}`);
    expect(state).toContain(`if (!-f ${HTPASSWD}) { return 404; }`);
    expect(state).toContain('return 204;');
    expect(state).not.toContain('auth_basic');
    // nginx -t at build time must not need the password file: no include of it, only the test
    expect(nginx).not.toMatch(/include \/run/);
  });

  it('nginx: the API goes to fcgiwrap, the CGI script fixed, the body bounded as the script bounds it, no credentials passed on', () => {
    const api = block(`= ${ADMIN_API}`);
    expect(api).toContain(`    fastcgi_pass unix:${FCGI_SOCKET};`);
    expect(api).toContain(`    fastcgi_param SCRIPT_FILENAME ${ADMIN_CGI};`);
    expect(api).toContain('    include fastcgi_params;');
    expect(api).toContain('    fastcgi_param HTTP_AUTHORIZATION "";');
    expect(api).toContain(`    client_max_body_size ${MAX_BODY_BYTES};`);
    expect(readFileSync(CGI_SCRIPT, 'utf8')).toMatch(new RegExp(`^MAX_BODY=${MAX_BODY_BYTES}$`, 'm'));
    expect(ADMIN_CGI).toBe('/usr/lib/clic/kit-admin.cgi');
    expect(existsSync(join(OVERLAYS, 'kit-admin', ADMIN_CGI))).toBe(true);
    // its own fcgiwrap: a socket only nginx's user opens, a service confined to the request folder
    const units = join(OVERLAYS, 'kit-admin/etc/systemd/system');
    const socket = readFileSync(join(units, 'clic-kit-admin-cgi.socket'), 'utf8');
    expect(socket).toContain(`ListenStream=${FCGI_SOCKET}\n`);
    expect(socket).toMatch(/^SocketUser=www-data\nSocketGroup=www-data\nSocketMode=0600$/m);
    const service = readFileSync(join(units, 'clic-kit-admin-cgi.service'), 'utf8');
    for (const line of ['ExecStart=/usr/sbin/fcgiwrap', 'User=www-data', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ReadWritePaths=-/run/clic/admin']) expect(service).toMatch(new RegExp(`^${line}$`, 'm'));
    expect(layer.commands.join('\n')).toMatch(/systemctl enable .*clic-kit-admin-cgi\.socket/);
  });

  it('nginx: the pages run only their own inline style and script (their sha256 in the CSP)', () => {
    const csp = /add_header Content-Security-Policy "([^"]+)" always;/.exec(block(`^~ ${ADMIN_PATH}`))![1];
    const sha = (s: string) => `'sha256-${execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: s }).toString('base64')}'`;
    for (const lang of LANGUAGES) {
      const html = text(files[`${WEB_ROOT}${ADMIN_PATH}index.${lang}.html`]);
      expect(csp).toContain(sha(/<script>([\s\S]*?)<\/script>/.exec(html)![1]));
      expect(csp).toContain(sha(/<style>([\s\S]*?)<\/style>/.exec(html)![1]));
    }
    expect(csp).toMatch(/^default-src 'none'; /);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).not.toContain('unsafe');
    expect(adminCsp(['<script>a</script>', '<script>a</script>'])).toMatch(/script-src '[^']+'; /); // one hash per distinct script
  });

  it('nginx: the rate limit zone is declared in a file of the http block (sites-enabled), as the layer links it', () => {
    expect(text(files['/etc/nginx/sites-available/clic-kit-admin-limits'])).toBe(kitAdminLimits());
    expect(kitAdminLimits()).toMatch(new RegExp(`^limit_req_zone \\$binary_remote_addr zone=${RATE.zone}:1m rate=${RATE.perMinute}r/m;$`, 'm'));
  });

  it('env file: the FAT partition and the known client limits of the board (never a made-up figure)', () => {
    const env = text(files['/etc/clic/kit-admin.env']);
    expect(env).toMatch(/^CLIC_ADMIN_BOOT_DIR=\/boot\/firmware$/m);
    expect(env).toMatch(/^CLIC_ADMIN_WIFI_DRIVER=brcmfmac$/m);
    expect(env).toMatch(/^CLIC_ADMIN_WIFI_LIMITS='raspberrypi,4-model-b=8 raspberrypi,4-compute-module=8 raspberrypi,400=unknown'$/m);
    expect(kitAdminEnv('/boot/efi', 'pc-x86_64')).toMatch(/^CLIC_ADMIN_WIFI_LIMITS=''$/m);
    expect(kitAdminEnv('/boot/firmware', 'rpi3')).toMatch(/^CLIC_ADMIN_WIFI_LIMITS='raspberrypi,3-model-b=10 raspberrypi,3-model-b-plus=8'$/m);
    // every figure is one docs/wifi-clients.md gives for the board's radio and Debian's firmware
    const doc = readFileSync(join(ROOT, 'docs/wifi-clients.md'), 'utf8');
    expect(doc).toMatch(/Pi 3 B\+, 4 B or CM4 kit runs Debian's\s+7\.45\.234 with the generic CLM blob \(about 8 clients\), a Pi 3 B runs 7\.45\.98\.118 \(about 10\), a\s+Pi 400 runs 7\.84\.17\.1 \(unknown\)/);
    expect(Object.keys(WIFI_CLIENT_LIMITS).sort()).toEqual(['rpi3', 'rpi4']);
    expect(() => kitAdminEnv("/boot/fir'mware", 'rpi4')).toThrow(/cannot be written/);
  });

  it('pages: French and English, the portal’s look, a field for each setting with what it takes, no external resource', () => {
    for (const lang of LANGUAGES) {
      const other = lang === 'fr' ? 'en' : 'fr';
      const html = text(files[`${WEB_ROOT}${ADMIN_PATH}index.${lang}.html`]);
      expect(html).toBe(adminPage(lang));
      expect(html).toMatch(new RegExp(`^<!doctype html>\\n<html lang="${lang}">`));
      expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
      expect(html).toContain(`href="/clic/lang/${other}${ADMIN_PATH}"`);
      expect(html).toContain(`<h1>${A.title[lang]}</h1>`);
      expect(html).toContain(`<form id="admin-form" class="panel" method="post" action="${ADMIN_API}"`);
      expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//);
      expect(html).not.toMatch(/ style="/); // the CSP lets only the <style> element through
      const login = text(files[`${WEB_ROOT}/clic/errors/${LOGIN_PAGE}.${lang}.html`]);
      expect(login).toBe(loginPage(lang));
      expect(login).toContain(A.loginText[lang]);
    }
    // the form's fields are the CGI's, no more, no less
    const html = adminPage('en');
    const names = [...html.matchAll(/<(?:input|select) [^>]*name="([a-z_]+)"/g)].map((m) => m[1]).sort();
    const cgiFields = /^FIELDS=\(([^)]*)\)$/m.exec(readFileSync(CGI_SCRIPT, 'utf8'))![1].split(' ').sort();
    expect(names).toEqual(cgiFields);
    expect(html).toContain('<input id="wifi_passphrase" name="wifi_passphrase" type="password" autocomplete="new-password"');
    expect(html).toContain('<input type="checkbox" id="wifi_open" name="wifi_open" value="1">');
  });

  it('pages: each field says what it takes in the words of clic-settings’ own messages, in both languages', () => {
    const script = readFileSync(SETTINGS_SCRIPT, 'utf8');
    for (const f of Object.values(FIELDS)) {
      if (!('rule' in f)) continue;
      expect(script, f.name).toContain(`expected ${f.rule.en}`);
      expect(script, f.name).toContain(`attendu ${f.rule.fr}`);
      for (const lang of LANGUAGES) expect(adminPage(lang)).toContain(f.rule[lang].charAt(0).toUpperCase() + f.rule[lang].slice(1).replace(/…/g, '…'));
    }
  });

  it('"About this kit" leads to the page when the image has it, and says how to turn it on when it is off', async () => {
    const portal = await portalFiles(plan);
    for (const lang of LANGUAGES) {
      const about = text(portal[`${WEB_ROOT}/about/index.${lang}.html`]);
      expect(about).toMatch(new RegExp(`<p id="admin-on" hidden>[^<]*<a href="${ADMIN_PATH}">`));
      expect(about).toMatch(/<p id="admin-off" hidden>[^<]*admin_password_hash/);
      // not from the services list
      expect(text(portal[`${WEB_ROOT}/index.${lang}.html`])).not.toContain(ADMIN_PATH);
    }
    const without = renderPortal({ services: [], address: '10.42.0.1', image: { name: 'x', description: 'x', board: 'b', suite: 'bookworm', layers: [], sourceDateEpoch: 0, settingsFile: 'clic-settings.txt' } });
    expect(text(without[`${WEB_ROOT}/about/index.en.html`])).not.toContain('admin-on');
    // its script: 204 → the link, 404 → how to turn it on, no answer → neither
    const about = text(portal[`${WEB_ROOT}/about/index.en.html`]);
    for (const [status, shown] of [[204, 'admin-on'], [404, 'admin-off'], [0, '']] as const) {
      const els: Record<string, { hidden: boolean }> = { 'admin-on': { hidden: true }, 'admin-off': { hidden: true } };
      const fetched: string[] = [];
      // a browser's answer: its body is read too (an unread one keeps the page from going idle)
      const fetch = (path: string) => (fetched.push(path), status ? Promise.resolve({ status, ok: status < 300, text: () => Promise.resolve('') }) : Promise.reject(new TypeError('Failed to fetch')));
      runInNewContext(/<script>([\s\S]*?)<\/script>/.exec(about)![1], { window: { fetch }, fetch, document: { getElementById: (id: string) => els[id] ?? null } });
      await new Promise((r) => setTimeout(r, 10));
      expect(fetched).toEqual([ADMIN_STATE_PATH]);
      expect(Object.entries(els).filter(([, e]) => !e.hidden).map(([id]) => id)).toEqual(shown ? [shown] : []);
    }
  });

  it('every board of the images has a FAT partition for the settings file, or the files are refused', () => {
    expect(() => kitAdminFiles(plan, { ...layer, env: { ...layer.env, CLIC_BOOT_DIR: '' } })).toThrow(/no FAT partition/);
  });
});

// --- the page's script, against a stand-in DOM --------------------------------------------------

/** The admin page as a browser runs its script: elements by id, the form's fields, fetch answered by `kit`. */
function openAdminPage(html: string, kit: (path: string, init?: { method?: string; body?: URLSearchParams }) => { status: number; body: unknown } | undefined) {
  const els = new Map<string, { hidden: boolean; className: string; text: string; items: string[]; disabled?: boolean }>();
  for (const m of html.matchAll(/<([a-z]+)((?: [a-z-]+(?:="[^"]*")?)*)>/g)) {
    const id = / id="([a-z-]+)"/.exec(m[2])?.[1];
    if (!id || ['input', 'select'].includes(m[1])) continue;
    els.set(id, { hidden: / hidden( |$)/.test(m[2]), className: '', text: '', items: [] });
  }
  const element = (e: { text: string; items: string[] }) =>
    Object.defineProperty(e, 'textContent', { get: () => e.text, set: (v: string) => ((e.text = String(v)), (e.items = [])) });
  for (const e of els.values()) element(e);
  const fields: Record<string, { value: string; checked: boolean; type: string }> = {};
  for (const m of html.matchAll(/<(input|select) (?:type="([a-z]+)" )?id="([a-z_]+)" name="[a-z_]+"(?: type="([a-z]+)")?/g)) fields[m[3]] = { value: '', checked: false, type: m[2] ?? m[4] ?? m[1] };
  let submit: ((e: { preventDefault: () => void }) => void) | undefined;
  const button = { disabled: false };
  const form = Object.assign(els.get('admin-form')!, {
    elements: fields,
    addEventListener: (type: string, fn: typeof submit) => type === 'submit' && (submit = fn),
    querySelector: () => button,
  });
  const document = {
    getElementById: (id: string) => (id === 'admin-form' ? form : els.get(id) ?? null),
    createElement: () => {
      const li = element({ text: '', items: [] as string[] }) as { text: string; items: string[]; appendChild?: unknown };
      li.appendChild = (c: { text?: string; textContent?: string }) => li.items.push(String(c.text ?? c.textContent));
      return li;
    },
    createTextNode: (t: string) => ({ text: t }),
  };
  // each <li> appended to a list: its text, or its parts
  for (const e of els.values()) (e as unknown as { appendChild: (c: { text: string; items: string[] }) => void }).appendChild = (c) => e.items.push(c.items.length ? c.items.join('') : c.text);
  class FormData {
    *[Symbol.iterator]() {
      for (const [name, f] of Object.entries(fields)) if (f.type !== 'checkbox' || f.checked) yield [name, f.type === 'checkbox' ? '1' : f.value];
    }
  }
  const posts: string[] = [];
  const inflight = new Set<Promise<unknown>>();
  const fetch = (path: string, init?: { method?: string; body?: URLSearchParams }) => {
    if (init?.method === 'POST') posts.push(String(init.body));
    const p = Promise.resolve(kit(path, init)).then((a) => {
      if (!a) throw new TypeError('Failed to fetch');
      return { ok: a.status >= 200 && a.status < 300, status: a.status, json: async () => a.body };
    });
    inflight.add(p);
    void p.catch(() => {}).finally(() => inflight.delete(p));
    return p;
  };
  const timers: (() => void)[] = [];
  runInNewContext(/<script>([\s\S]*?)<\/script>/.exec(html)![1], {
    document, window: { fetch, URLSearchParams, FormData }, fetch, URLSearchParams, FormData, setTimeout: (fn: () => void) => timers.push(fn), String, Array, JSON, Object,
  });
  const settle = async () => {
    while (inflight.size) await Promise.allSettled([...inflight]);
    await new Promise((r) => setTimeout(r, 5));
  };
  return {
    els, fields, posts, settle,
    submit: async () => (submit!({ preventDefault: () => {} }), settle()),
    tick: async () => { for (const t of timers.splice(0)) t(); await settle(); },
  };
}

describe('the admin page’s script', () => {
  const state = (last: unknown = null) => ({
    settings: { hostname: 'atelier', wifi_ssid: 'CLIC', wifi_passphrase_set: false, wifi_refused: false, wifi_country: 'FR', wifi_channel: '6', language: 'fr', admin_ssh_key_fingerprint: '' },
    hotspot: { interface: 'wlan0', state: 'configured' },
    clients: { count: 1, source: 'iw', list: [{ mac: 'aa:bb:cc:dd:ee:01', ip: '10.42.0.11', name: '<b>phone</b>' }] },
    limit: { clients: 8, approximate: true, model: 'raspberrypi,4-model-b', driver: 'brcmfmac' },
    last,
    pending: [],
  });

  it('fills the form and the clients from GET, posts the form URL-encoded, follows the change to its result, in the page’s language', async () => {
    let last: unknown = null;
    const page = openAdminPage(adminPage('fr'), (path, init) => {
      expect(path).toBe(ADMIN_API);
      if (init?.method === 'POST') return { status: 202, body: { id: 'r1', state: 'pending' } };
      return { status: 200, body: state(last) };
    });
    await page.settle();
    expect(page.els.get('load-state')!.hidden).toBe(true);
    expect(page.fields.wifi_ssid.value).toBe('CLIC');
    expect(page.fields.wifi_channel.value).toBe('6');
    expect(page.fields.wifi_passphrase.value).toBe('');
    expect(page.els.get('pass-state')!.text).toBe(A.passNone.fr);
    expect(page.els.get('warn-open')!.hidden).toBe(false); // an open network: the password crosses the air in the clear
    expect(page.els.get('clients-count')!.text).toBe('1');
    expect(page.els.get('clients')!.items).toEqual(['<b>phone</b> — 10.42.0.11 — aa:bb:cc:dd:ee:01']); // as text, never markup
    expect(page.els.get('limit-n')!.text).toBe('8');
    expect(page.els.get('limit-known')!.hidden).toBe(false);

    page.fields.wifi_ssid.value = 'Atelier';
    page.fields.wifi_passphrase.value = NEW_PASSPHRASE;
    await page.submit();
    expect(page.posts).toHaveLength(1);
    expect(Object.fromEntries(new URLSearchParams(page.posts[0]))).toMatchObject({ wifi_ssid: 'Atelier', wifi_passphrase: NEW_PASSPHRASE, hostname: 'atelier', language: 'fr' });
    expect(new URLSearchParams(page.posts[0]).has('wifi_open')).toBe(false);
    expect(page.els.get('result-message')!.text).toBe(`${A.applying.fr} ${A.wifiRestart.fr}`);
    last = { id: 'r1', state: 'refused', message: 'Nothing was changed:', message_fr: 'Rien n’a été changé :', problems: [{ key: 'wifi_ssid', message: 'bad', message_fr: 'mauvais' }] };
    await page.tick();
    expect(page.els.get('result-message')!.text).toBe('Rien n’a été changé :');
    expect(page.els.get('result-problems')!.items).toEqual(['wifi_ssid : mauvais']);
    expect(page.els.get('result')!.className).toBe('panel result refused');
  });

  it('shows the kit’s refusal of a POST (status and problems), and a lost connection while the wifi restarts', async () => {
    let answer: { status: number; body: unknown } | undefined = { status: 400, body: { problems: [{ key: 'hostname', message: 'expected a value with no line break', message_fr: 'attendu' }] } };
    const page = openAdminPage(adminPage('en'), (_path, init) => (init?.method === 'POST' ? answer : { status: 200, body: state() }));
    await page.settle();
    await page.submit();
    expect(page.els.get('result-message')!.text).toBe(A.refused.en);
    expect(page.els.get('result-problems')!.items).toEqual(['hostname : expected a value with no line break']);
    answer = undefined;
    await page.submit();
    expect(page.els.get('result-message')!.text).toBe(A.lost.en);
  });
});

// --- the scripts on the build host --------------------------------------------------------------

const scratch = mkdtempSync(join(tmpdir(), 'clic-kit-admin-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let kits = 0;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command (bash: --norc, its stdin is a socket) with only the given environment. */
function run(argv: string[], env: Record<string, string>, input = '', as?: string): Promise<Run> {
  const [cmd, ...args] = as ? ['setpriv', '--reuid', as, '--regid', as, '--clear-groups', '--', ...argv] : argv;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { PATH: env.PATH ?? '/usr/bin:/bin:/usr/sbin:/sbin', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // a script that answers before reading its input
    child.stdin.end(input);
  });
}

interface Kit {
  root: string;
  env: Record<string, string>;
  read: (path: string) => string;
  bytes: (path: string) => Buffer;
  /** What the systemctl stand-in was asked, in order. */
  calls: () => string[];
  /** As at boot: clic-settings, then kit-admin-setup. */
  boot: () => Promise<Run>;
  script: (name: string, input?: string, env?: Record<string, string>, as?: string) => Promise<Run>;
}

/** A folder standing for a kit with the admin page: the layers' scripts and defaults, the ISO
 *  list, a settings file on the "FAT partition", stand-ins for systemctl and iw. */
function kit(settings: string | Buffer | null, opts: { web?: string } = {}): Kit {
  const root = join(scratch, `kit-${++kits}`);
  mkdirSync(join(root, 'usr/lib/clic'), { recursive: true });
  for (const layer of ['firstboot', 'kit-admin']) cpSync(join(OVERLAYS, layer, 'usr/lib/clic'), join(root, 'usr/lib/clic'), { recursive: true });
  mkdirSync(join(root, 'etc/clic/defaults.d'), { recursive: true });
  for (const f of ['base.conf', 'firstboot.conf', 'hotspot.conf']) cpSync(join(ROOT, 'test/fixtures/settings/defaults.d', f), join(root, 'etc/clic/defaults.d', f));
  cpSync(join(OVERLAYS, 'kit-admin/etc/clic/defaults.d/kit-admin.conf'), join(root, 'etc/clic/defaults.d/kit-admin.conf'));
  writeFileSync(join(root, 'etc/clic/kit-admin.env'), kitAdminEnv(BOOT_DIR, 'rpi4'));
  mkdirSync(join(root, 'usr/share'), { recursive: true });
  symlinkSync('/usr/share/iso-codes', join(root, 'usr/share/iso-codes'));
  writeFileSync(join(root, 'etc/hostname'), 'clic\n');
  writeFileSync(join(root, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\tclic\n');
  mkdirSync(join(root, BOOT_DIR), { recursive: true });
  if (settings !== null) writeFileSync(join(root, SETTINGS), settings);
  mkdirSync(join(root, 'run/clic/hotspot'), { recursive: true });
  const bin = join(root, 'test-bin');
  mkdirSync(bin);
  // systemctl: recorded; clic-settings and clic-kit-admin run for real, as the units would
  writeFileSync(join(bin, 'systemctl'), [
    '#!/bin/bash',
    'echo "systemctl $*" >> "$CLIC_ROOT/calls"',
    'for u in "$@"; do case $u in',
    '  clic-settings.service) bash --norc "$CLIC_ROOT/usr/lib/clic/clic-settings" >/dev/null || exit 1 ;;',
    '  clic-kit-admin.service) bash --norc "$CLIC_ROOT/usr/lib/clic/kit-admin-setup" >/dev/null || exit 1 ;;',
    'esac; done',
    '[ ! -e "$CLIC_ROOT/systemctl-fails" ]',
    '',
  ].join('\n'));
  // iw: the stations of a file the test writes, else the error of a missing permission
  writeFileSync(join(bin, 'iw'), '#!/bin/sh\n[ -f "$CLIC_ROOT/stations" ] && exec cat "$CLIC_ROOT/stations"\necho "command failed: Operation not permitted (-1)" >&2\nexit 1\n');
  chmodSync(join(bin, 'systemctl'), 0o755);
  chmodSync(join(bin, 'iw'), 0o755);
  if (opts.web) for (const d of [scratch, root]) chmodSync(d, 0o755); // the web server's user reaches its files
  const env = { CLIC_ROOT: root, CLIC_BOOT_DIR: BOOT_DIR, CLIC_WEB_USER: opts.web ?? ME, CLIC_ADMIN_WIFI_DELAY: '0', PATH: `${bin}:/usr/bin:/bin:/usr/sbin:/sbin` };
  const k: Kit = {
    root,
    env,
    read: (path) => readFileSync(join(root, path), 'utf8'),
    bytes: (path) => readFileSync(join(root, path)),
    calls: () => (existsSync(join(root, 'calls')) ? readFileSync(join(root, 'calls'), 'utf8').trim().split('\n') : []),
    script: (name, input = '', more = {}, as) => run(['bash', '--norc', join(root, 'usr/lib/clic', name)], { ...env, ...more }, input, as),
    boot: async () => {
      const s = await k.script('clic-settings');
      expect(s.code, s.stderr).toBe(0);
      return k.script('kit-admin-setup');
    },
  };
  return k;
}

const EXAMPLE_CRLF = readFileSync(EXAMPLE, 'utf8').replace(/\n/g, '\r\n');
/** The example as a deployer leaves it: a few settings set, a comment of theirs, CRLF. */
const DEPLOYED = EXAMPLE_CRLF.replace('#wifi_passphrase = choose-a-long-passphrase\r\n', `wifi_passphrase = ${PASSPHRASE}\r\n`)
  .replace('#hostname = clic\r\n', 'hostname = atelier\r\n# our kit, room 12\r\n')
  .replace('#admin_password_hash = $y$j9T$.....$.....\r\n', `admin_password_hash = ${HASH}\r\n`);

interface CgiAnswer {
  status: number;
  headers: Record<string, string>;
  json: Record<string, unknown> & { problems?: { key: string; message: string; message_fr: string }[] };
  raw: string;
}

async function cgi(k: Kit, method: string, body = '', headers: Record<string, string> = {}, as?: string): Promise<CgiAnswer> {
  const vars: Record<string, string> = { REQUEST_METHOD: method, HTTP_HOST: '10.42.0.1', ...headers };
  if (method === 'POST') {
    vars.CONTENT_TYPE ??= 'application/x-www-form-urlencoded';
    vars.CONTENT_LENGTH ??= String(Buffer.byteLength(body));
    if (!('HTTP_ORIGIN' in headers) && !('HTTP_REFERER' in headers)) vars.HTTP_ORIGIN = 'http://10.42.0.1';
  }
  for (const [k2, v] of Object.entries(vars)) if (v === '') delete vars[k2];
  const r = await k.script('kit-admin.cgi', body, vars, as);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  const [head, ...rest] = r.stdout.split('\r\n\r\n');
  const hs = Object.fromEntries(head.split('\r\n').map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(hs.status.split(' ')[0]), headers: hs, json: JSON.parse(rest.join('\r\n\r\n')), raw: r.stdout };
}

const requests = (k: Kit) => readdirSync(join(k.root, 'run/clic/admin/requests'));
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('kit-admin-setup', () => {
  it('writes the password file from the hash (user admin, group-readable by the web server only) and the settings the page shows, with no secret', async () => {
    const k = kit(`${DEPLOYED}admin_ssh_key = ${ADMIN_KEY}\r\n`);
    const r = await k.boot();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('kit admin page on: user admin, password of admin_password_hash\n');
    expect(k.read('run/clic/admin/htpasswd')).toBe(`admin:${HASH}\n`);
    const st = statSync(join(k.root, 'run/clic/admin/htpasswd'));
    expect(st.mode & 0o777).toBe(0o640);
    expect(st.gid).toBe(userInfo().gid);
    expect(statSync(join(k.root, 'run/clic/admin')).mode & 0o777).toBe(0o710);
    for (const d of ['requests', 'incoming', 'work']) expect(statSync(join(k.root, 'run/clic/admin', d)).mode & 0o777, d).toBe(0o700);
    const settings = JSON.parse(k.read('run/clic/admin/settings.json')) as Record<string, unknown>;
    expect(settings).toEqual({
      hostname: 'atelier', wifi_ssid: 'CLIC', wifi_country: 'FR', wifi_channel: '6', language: 'fr',
      admin_ssh_key_fingerprint: expect.stringMatching(/^SHA256:[A-Za-z0-9+/]{43} admin@atelier \(ED25519\)$/),
      wifi_passphrase_set: true, wifi_refused: false,
    });
    for (const file of ['run/clic/admin/settings.json', `${BOOT_DIR}/clic-status.txt`, 'run/clic/settings-errors.json']) {
      expect(k.read(file), file).not.toContain(PASSPHRASE);
      expect(k.read(file), file).not.toContain(HASH.slice(10));
    }
  });

  it('no hash (the image default), or none valid ever: no password file, the page is off', async () => {
    const k = kit(DEPLOYED);
    await k.boot();
    expect(existsSync(join(k.root, 'run/clic/admin/htpasswd'))).toBe(true);
    writeFileSync(join(k.root, SETTINGS), DEPLOYED.replace(`admin_password_hash = ${HASH}`, '#admin_password_hash ='));
    const r = await k.boot();
    expect(r.stdout).toBe('kit admin page off: no admin_password_hash in the settings\n');
    expect(existsSync(join(k.root, 'run/clic/admin/htpasswd'))).toBe(false);
    expect(existsSync(join(k.root, 'run/clic/admin/settings.json'))).toBe(true);
    // the password written instead of its hash: refused, and no earlier hash to keep
    const fresh = kit(DEPLOYED.replace(`admin_password_hash = ${HASH}`, 'admin_password_hash = the-password-itself'));
    expect((await fresh.boot()).stdout).toBe('kit admin page off: no admin_password_hash in the settings\n');
    expect(existsSync(join(fresh.root, 'run/clic/admin/htpasswd'))).toBe(false);
  });
});

describe('kit-admin.cgi', () => {
  const booted = async (settings = DEPLOYED, web?: string) => {
    const k = kit(settings, { web });
    const r = await k.boot();
    expect(r.code, r.stderr).toBe(0);
    return k;
  };

  it('GET: the settings, the hotspot, the stations with their leases, the board’s limit, the last result — and no secret', async () => {
    const k = await booted();
    writeFileSync(join(k.root, 'run/clic/hotspot/interface'), 'wlan0\n');
    writeFileSync(join(k.root, 'run/clic/hotspot/state'), 'configured\n');
    const soon = Math.floor(Date.now() / 1000) + 3600;
    mkdirSync(join(k.root, 'var/lib/misc'), { recursive: true });
    writeFileSync(join(k.root, 'var/lib/misc/dnsmasq.leases'), [
      `${soon} aa:bb:cc:dd:ee:01 10.42.0.11 phone-of-"amina" 01:aa:bb:cc:dd:ee:01`,
      `${soon} aa:bb:cc:dd:ee:02 10.42.0.12 * *`,
      `100 aa:bb:cc:dd:ee:03 10.42.0.13 gone *`,
      '',
    ].join('\n'));
    writeFileSync(join(k.root, 'stations'), 'Station AA:BB:CC:DD:EE:01 (on wlan0)\n\tinactive time:\t10 ms\nStation aa:bb:cc:dd:ee:04 (on wlan0)\n\tinactive time:\t20 ms\n');
    mkdirSync(join(k.root, 'proc/device-tree'), { recursive: true });
    writeFileSync(join(k.root, 'proc/device-tree/compatible'), 'raspberrypi,4-model-b\0brcm,bcm2711\0');
    mkdirSync(join(k.root, 'sys/class/net/wlan0/device'), { recursive: true });
    symlinkSync('../../../../bus/sdio/drivers/brcmfmac', join(k.root, 'sys/class/net/wlan0/device/driver'));
    const r = await cgi(k, 'GET');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.json).toEqual({
      settings: expect.objectContaining({ wifi_ssid: 'CLIC', wifi_passphrase_set: true }),
      hotspot: { interface: 'wlan0', state: 'configured' },
      clients: {
        count: 2,
        source: 'iw',
        list: [{ mac: 'aa:bb:cc:dd:ee:01', ip: '10.42.0.11', name: 'phone-of-"amina"' }, { mac: 'aa:bb:cc:dd:ee:04', ip: '', name: '' }],
      },
      limit: { clients: 8, approximate: true, model: 'raspberrypi,4-model-b', driver: 'brcmfmac' },
      last: null,
      pending: [],
    });
    expect(r.raw).not.toContain(PASSPHRASE);
    expect(r.raw).not.toContain(HASH.slice(10));
    // iw refused: the unexpired leases stand in; a USB adapter (another driver): no known limit
    rmSync(join(k.root, 'stations'));
    rmSync(join(k.root, 'sys/class/net/wlan0/device/driver'));
    symlinkSync('../../../../bus/usb/drivers/rt2800usb', join(k.root, 'sys/class/net/wlan0/device/driver'));
    const leases = await cgi(k, 'GET');
    expect(leases.json.clients).toEqual({ count: 2, source: 'leases', list: [{ mac: 'aa:bb:cc:dd:ee:01', ip: '10.42.0.11', name: 'phone-of-"amina"' }, { mac: 'aa:bb:cc:dd:ee:02', ip: '10.42.0.12', name: '' }] });
    expect(leases.json.limit).toEqual({ clients: null, approximate: true, model: 'raspberrypi,4-model-b', driver: 'rt2800usb' });
  });

  it('POST: the form, decoded, becomes one request file (the values exactly, nothing else), 202 with its id', async () => {
    const k = await booted();
    const fields = { hostname: 'kit-2', wifi_ssid: 'Café « CLIC » & co', wifi_passphrase: '  spaced out pass  ', wifi_country: 'BE', wifi_channel: '11', language: 'en', admin_ssh_key: ADMIN_KEY, wifi_open: '', admin_ssh_key_remove: '' };
    const r = await cgi(k, 'POST', form(fields));
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ id: expect.stringMatching(/^\d{8}T\d{15}Z-[0-9a-f]{12}$/), state: 'pending' });
    expect(requests(k)).toEqual([r.json.id]);
    const file = join(k.root, 'run/clic/admin/requests', String(r.json.id));
    expect(readFileSync(file, 'utf8')).toBe(['hostname=kit-2', 'wifi_ssid=Café « CLIC » & co', 'wifi_passphrase=  spaced out pass  ', 'wifi_country=BE', 'wifi_channel=11', 'language=en', `admin_ssh_key=${ADMIN_KEY}`, ''].join('\n'));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(k.root, 'run/clic/admin/incoming'))).toEqual([]);
    // a browser that sends no Origin: its Referer, the page itself
    const byReferer = await cgi(k, 'POST', form({ wifi_open: '1', wifi_passphrase: '' }), { HTTP_REFERER: 'http://10.42.0.1/clic/admin/' });
    expect(byReferer.status).toBe(202);
    expect((await cgi(k, 'GET')).json.pending).toEqual([r.json.id, byReferer.json.id].sort());
  });

  const refusals: [string, string, Record<string, string>, number, RegExp][] = [
    ['another site’s page (Origin)', form({ wifi_open: '1' }), { HTTP_ORIGIN: 'http://evil.example' }, 403, /does not come from the kit admin page itself/],
    ['the same host on https (Origin)', form({ wifi_open: '1' }), { HTTP_ORIGIN: 'https://10.42.0.1' }, 403, /does not come from/],
    ['another site’s page (Referer)', form({ wifi_open: '1' }), { HTTP_REFERER: 'http://10.42.0.1.evil.example/clic/admin/' }, 403, /does not come from/],
    ['no Origin and no Referer', form({ wifi_open: '1' }), { HTTP_ORIGIN: '', HTTP_REFERER: '' }, 403, /or none/],
    ['a line break in a value', 'hostname=kit%0Awifi_passphrase%3D', {}, 400, /^expected a value with no line break nor control character$/],
    ['a carriage return in a value', form({ wifi_ssid: 'CLIC\r' }), {}, 400, /no line break nor control character/],
    ['a NUL byte', 'wifi_ssid=CL%00IC', {}, 400, /no line break nor control character/],
    ['a broken escape', 'wifi_ssid=CL%4', {}, 400, /no line break nor control character/],
    ['bytes that are not UTF-8', 'wifi_ssid=Caf%E9', {}, 400, /^expected UTF-8 text$/],
    ['an unknown field', form({ admin_password_hash: '$6$x' }), {}, 400, /^unknown field; expected hostname wifi_ssid/],
    ['a field twice', 'wifi_ssid=a&wifi_ssid=b', {}, 400, /^expected once, given twice$/],
    ['a checkbox with another value', form({ wifi_open: 'yes' }), {}, 400, /^expected a ticked box \(1\) or nothing$/],
    ['a body that is not URL-encoded', 'wifi_ssid=a b', {}, 400, /^expected a URL-encoded form$/],
    ['JSON instead of a form', '{"wifi_ssid":"a"}', { CONTENT_TYPE: 'application/json' }, 415, /application\/x-www-form-urlencoded/],
    ['a body over the bound', `admin_ssh_key=${'A'.repeat(MAX_BODY_BYTES)}`, {}, 413, new RegExp(`^expected a form of at most ${MAX_BODY_BYTES} bytes; this one has ${MAX_BODY_BYTES + 14}$`)],
    ['no length', form({ wifi_open: '1' }), { CONTENT_LENGTH: '' }, 411, /Content-Length/],
    ['a body shorter than its length', form({ wifi_open: '1' }), { CONTENT_LENGTH: '200' }, 400, /incomplete/],
  ];
  it.each(refusals)('POST refused: %s (nothing written, a message in both languages)', async (_, body, headers, status, message) => {
    const k = await booted();
    const r = await cgi(k, 'POST', body, headers);
    expect(r.status).toBe(status);
    expect(r.json.problems).toHaveLength(1);
    expect(r.json.problems![0].message).toMatch(message);
    expect(r.json.problems![0].message_fr).toMatch(/^(attendu|cette modification|le formulaire|champ inconnu)/);
    expect(requests(k)).toEqual([]);
    expect(readdirSync(join(k.root, 'run/clic/admin/incoming'))).toEqual([]);
  });

  it('names the field of a bad value', async () => {
    const k = await booted();
    expect((await cgi(k, 'POST', 'language=en&hostname=a%0Ab')).json.problems![0].key).toBe('hostname');
    expect((await cgi(k, 'POST', 'bogus=1')).json.problems![0].key).toBe('bogus');
  });

  it('at most 3 requests waiting; the page off (no password file): 404; another method: 405', async () => {
    const k = await booted();
    for (let i = 0; i < 3; i++) expect((await cgi(k, 'POST', form({ wifi_channel: String(i + 1) }))).status).toBe(202);
    const busy = await cgi(k, 'POST', form({ wifi_channel: '4' }));
    expect(busy.status).toBe(429);
    expect(requests(k)).toHaveLength(3);
    rmSync(join(k.root, 'run/clic/admin/htpasswd'));
    expect((await cgi(k, 'GET')).status).toBe(404);
    expect((await cgi(k, 'POST', form({ wifi_channel: '4' }))).status).toBe(404);
    writeFileSync(join(k.root, 'run/clic/admin/htpasswd'), 'admin:x\n');
    const del = await cgi(k, 'DELETE');
    expect(del.status).toBe(405);
    expect(del.headers.allow).toBe('GET, POST');
  });

  it.skipIf(!IS_ROOT)('as www-data, with the folders kit-admin-setup made (root): reads the page’s files, writes its request, and nothing else', async () => {
    const k = await booted(DEPLOYED, 'www-data');
    const get = await cgi(k, 'GET', '', {}, 'www-data');
    expect(get.status).toBe(200);
    expect(get.json.settings).toMatchObject({ hostname: 'atelier' });
    const post = await cgi(k, 'POST', form({ wifi_channel: '1' }), {}, 'www-data');
    expect(post.status).toBe(202);
    const file = join(k.root, 'run/clic/admin/requests', String(post.json.id));
    expect(statSync(file).uid).toBe(33);
    // the web server's user cannot read the settings with the secrets, nor write the card
    const env = await run(['cat', join(k.root, 'run/clic/settings.env')], {}, '', 'www-data');
    expect(env.code).not.toBe(0);
    const card = await run(['touch', join(k.root, BOOT_DIR, 'x')], {}, '', 'www-data');
    expect(card.code).not.toBe(0);
  });
});

describe('settings-edit', () => {
  const edit = async (file: string | Buffer | null, changes: string) => {
    const dir = mkdtempSync(join(scratch, 'edit-'));
    const input = join(dir, 'in.txt');
    if (file !== null) writeFileSync(input, file);
    const r = await run(['bash', '--norc', join(OVERLAYS, 'kit-admin/usr/lib/clic/settings-edit'), input, join(dir, 'out.txt')], {}, changes);
    return { ...r, out: existsSync(join(dir, 'out.txt')) ? readFileSync(join(dir, 'out.txt')) : null };
  };

  it('replaces the last line of a key (any case), else its commented-out example line, else adds one; every other byte kept', async () => {
    const file = 'Hostname = one\r\n# a note\r\nhostname = two\r\n#wifi_ssid = CLIC\r\n#language = fr\r\n';
    const r = await edit(file, 'hostname=three\nwifi_ssid=Atelier\nwifi_channel=11\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.out!.toString()).toBe('Hostname = one\r\n# a note\r\nhostname = three\r\nwifi_ssid = Atelier\r\n#language = fr\r\nwifi_channel = 11\r\n');
  });

  it('quotes a value with spaces at either end or in quotes; an empty value is "key ="', async () => {
    const r = await edit('wifi_passphrase = x\n', 'wifi_passphrase=  two spaces  \nwifi_ssid="quoted"\nadmin_ssh_key=\n');
    expect(r.out!.toString()).toBe('wifi_passphrase = "  two spaces  "\nwifi_ssid = ""quoted""\nadmin_ssh_key =\n');
  });

  it('keeps a UTF-8 byte order mark, a last line without line break, and writes a missing file new (CRLF)', async () => {
    const bom = await edit(Buffer.from('\xef\xbb\xbfhostname = a\r\nlanguage = fr', 'latin1'), 'language=en\nwifi_channel=1\n');
    expect(bom.out!.toString('latin1')).toBe('\xef\xbb\xbfhostname = a\r\nlanguage = en\r\nwifi_channel = 1\r\n');
    const noEnd = await edit('hostname = a\nlanguage = fr', 'language=en\n');
    expect(noEnd.out!.toString()).toBe('hostname = a\nlanguage = en');
    const fresh = await edit(null, 'wifi_ssid=Kit\n');
    expect(fresh.out!.toString()).toBe('wifi_ssid = Kit\r\n');
  });

  it('a UTF-16 file (Notepad’s "Unicode") stays UTF-16 in its byte order, with its mark', async () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('hostname = a\r\nwifi_ssid = Bibliothèque\r\n', 'utf16le')]);
    const r = await edit(le, 'wifi_ssid=Médiathèque\n');
    expect(r.code, r.stderr).toBe(0);
    expect([...r.out!.subarray(0, 2)]).toEqual([0xff, 0xfe]);
    expect(r.out!.subarray(2).toString('utf16le')).toBe('hostname = a\r\nwifi_ssid = Médiathèque\r\n');
    const be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('hostname = a\n', 'utf16le').swap16()]);
    const b = await edit(be, 'hostname=b\n');
    expect([...b.out!.subarray(0, 2)]).toEqual([0xfe, 0xff]);
    expect(Buffer.from(b.out!.subarray(2)).swap16().toString('utf16le')).toBe('hostname = b\n');
  });

  it('refuses a malformed change (no line break can come in), without showing its value', async () => {
    const r = await edit('hostname = a\n', 'wifi_passphrase=secret\rmore\n');
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('secret');
    expect(r.out).toBeNull();
    expect((await edit('hostname = a\n', 'Not A Key=1\n')).code).toBe(2);
  });
});

describe('kit-admin-apply (root side), end to end on a kit folder', () => {
  /** A booted kit with one request posted through the CGI, then applied. */
  const apply = async (settings: string | Buffer, fields: Record<string, string>, prepare?: (k: Kit) => void) => {
    const k = kit(settings);
    const b = await k.boot();
    expect(b.code, b.stderr).toBe(0);
    prepare?.(k);
    const posted = await cgi(k, 'POST', form(fields));
    expect(posted.status, JSON.stringify(posted.json)).toBe(202);
    rmSync(join(k.root, 'calls'), { force: true });
    const r = await k.script('kit-admin-apply');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(requests(k)).toEqual([]);
    expect(readdirSync(join(k.root, 'run/clic/admin/work'))).toEqual([]);
    const result = JSON.parse(k.read('run/clic/admin/result.json')) as { id: string; state: string; changed: string[]; message: string; message_fr: string; problems: { key: string; message: string; message_fr: string }[] };
    expect(result.id).toBe(posted.json.id);
    // never a secret: not in the journal, not in a file the page or the portal serves
    const status = existsSync(join(k.root, BOOT_DIR, 'clic-status.txt')) ? k.read(`${BOOT_DIR}/clic-status.txt`) : '';
    for (const out of [r.stdout, k.read('run/clic/admin/result.json'), k.read('run/clic/admin/settings.json'), k.read('run/clic/settings-errors.json'), status, (await cgi(k, 'GET')).raw]) {
      for (const secret of [PASSPHRASE, NEW_PASSPHRASE, HASH.slice(10)]) expect(out).not.toContain(secret);
    }
    expect(statSync(join(k.root, 'run/clic/admin/result.json')).mode & 0o777).toBe(0o640);
    return { k, r, result, env: (name: string) => execFileSync('bash', ['--norc', '-c', `. "$1" && printf %s "$${name}"`, 'bash', join(k.root, 'run/clic/settings.env')], { encoding: 'utf8' }) };
  };
  const lines = (b: Buffer | string) => b.toString().split('\r\n');
  const differing = (before: string, after: string) => {
    const a = lines(before);
    const b = lines(after);
    expect(b).toHaveLength(a.length);
    return a.flatMap((l, i) => (l === b[i] ? [] : [[l, b[i]]]));
  };

  it('rewrites only the changed settings’ lines (CRLF, comments kept), restarts the settings, the admin page and the wifi, and the kit takes them', async () => {
    const { k, r, result, env } = await apply(DEPLOYED, { hostname: 'atelier', wifi_ssid: 'Atelier Grenoble', wifi_passphrase: '', wifi_country: 'FR', wifi_channel: '11', language: 'fr', admin_ssh_key: '' });
    expect(result).toMatchObject({ state: 'ok', changed: ['wifi_ssid', 'wifi_channel'], problems: [] });
    expect(result.message).toMatch(/^Saved in clic-settings\.txt\. The wifi restarts/);
    expect(result.message_fr).toMatch(/^Enregistré dans clic-settings\.txt\. Le wifi redémarre/);
    const after = k.read(SETTINGS);
    expect(differing(DEPLOYED, after)).toEqual([['#wifi_ssid = CLIC', 'wifi_ssid = Atelier Grenoble'], ['#wifi_channel = 6', 'wifi_channel = 11']]);
    expect(after.replace(/\r\n/g, '')).not.toContain('\n');
    expect(existsSync(join(k.root, BOOT_DIR, '.clic-settings.txt.new'))).toBe(false);
    expect(k.calls()).toEqual(['systemctl restart clic-settings.service clic-kit-admin.service', 'systemctl restart clic-hotspot.service hostapd.service dnsmasq.service']);
    expect(env('CLIC_WIFI_SSID')).toBe('Atelier Grenoble');
    expect(env('CLIC_WIFI_CHANNEL')).toBe('11');
    expect(env('CLIC_WIFI_PASSPHRASE')).toBe(PASSPHRASE); // the empty field kept it
    expect(JSON.parse(k.read('run/clic/admin/settings.json'))).toMatchObject({ wifi_ssid: 'Atelier Grenoble', wifi_channel: '11', wifi_passphrase_set: true });
    expect(r.stdout).toMatch(/^request \S+: ok \(changed: wifi_ssid wifi_channel\): Saved in clic-settings\.txt/m);
    expect((await cgi(k, 'GET')).json.last).toMatchObject({ id: result.id, state: 'ok' });
  });

  it('a bad value changes nothing at all, and says why in both languages', async () => {
    const { k, result, env } = await apply(DEPLOYED, { wifi_ssid: 'Atelier', wifi_channel: '14', hostname: '-bad-' });
    expect(result).toMatchObject({ state: 'refused', changed: [], message: 'Nothing was changed:', message_fr: 'Rien n’a été changé :' });
    expect(result.problems).toEqual([
      { key: 'hostname', message: expect.stringMatching(/^clic-settings\.txt line \d+: expected a host name: 1 to 63 letters/), message_fr: expect.stringMatching(/^clic-settings\.txt ligne \d+ : attendu un nom de machine/) },
      { key: 'wifi_channel', message: expect.stringMatching(/line \d+: expected a 2\.4 GHz wifi channel, a number from 1 to 13$/), message_fr: expect.stringMatching(/ligne \d+ : attendu un canal wifi 2,4 GHz, un nombre de 1 à 13$/) },
    ]);
    expect(k.read(SETTINGS)).toBe(DEPLOYED);
    expect(k.calls()).toEqual([]);
    expect(env('CLIC_WIFI_SSID')).toBe('CLIC');
  });

  it('the passphrase: empty keeps it; a new one sets it (quoted spaces and all); "open network" empties it; both at once is refused', async () => {
    const keep = await apply(DEPLOYED, { wifi_passphrase: '', wifi_ssid: 'CLIC' });
    expect(keep.result).toMatchObject({ state: 'ok', changed: [], message: 'Nothing to change: these are the kit’s settings already.' });
    expect(keep.k.read(SETTINGS)).toBe(DEPLOYED);
    expect(keep.k.calls()).toEqual([]);

    const set = await apply(DEPLOYED, { wifi_passphrase: ` ${NEW_PASSPHRASE}` });
    expect(set.result).toMatchObject({ state: 'ok', changed: ['wifi_passphrase'] });
    expect(differing(DEPLOYED, set.k.read(SETTINGS))).toEqual([[`wifi_passphrase = ${PASSPHRASE}`, `wifi_passphrase = " ${NEW_PASSPHRASE}"`]]);
    expect(set.env('CLIC_WIFI_PASSPHRASE')).toBe(` ${NEW_PASSPHRASE}`);

    const open = await apply(DEPLOYED, { wifi_passphrase: '', wifi_open: '1' });
    expect(open.result).toMatchObject({ state: 'ok', changed: ['wifi_passphrase'] });
    expect(differing(DEPLOYED, open.k.read(SETTINGS))).toEqual([[`wifi_passphrase = ${PASSPHRASE}`, 'wifi_passphrase =']]);
    expect(open.env('CLIC_WIFI_PASSPHRASE')).toBe('');

    const both = await apply(DEPLOYED, { wifi_passphrase: NEW_PASSPHRASE, wifi_open: '1' });
    expect(both.result).toMatchObject({ state: 'refused', problems: [{ key: 'wifi_passphrase', message: 'expected either a passphrase or "open network" ticked, not both', message_fr: 'attendu soit un mot de passe, soit « réseau ouvert » coché, pas les deux' }] });
    expect(both.k.read(SETTINGS)).toBe(DEPLOYED);

    // the kit refused the file's passphrase (the wifi is off): "open network" does replace it
    const refusedFile = DEPLOYED.replace(`wifi_passphrase = ${PASSPHRASE}`, 'wifi_passphrase = short');
    const reopen = await apply(refusedFile, { wifi_open: '1' }, (k) => expect(JSON.parse(k.read('run/clic/admin/settings.json'))).toMatchObject({ wifi_passphrase_set: false, wifi_refused: true }));
    expect(reopen.result).toMatchObject({ state: 'ok', changed: ['wifi_passphrase'] });
    expect(differing(refusedFile, reopen.k.read(SETTINGS))).toEqual([['wifi_passphrase = short', 'wifi_passphrase =']]);
    expect(reopen.env('CLIC_WIFI_REFUSED')).toBe('');

    const short = await apply(DEPLOYED, { wifi_passphrase: 'short' });
    expect(short.result).toMatchObject({ state: 'refused', problems: [{ key: 'wifi_passphrase', message: expect.stringContaining('this one has 5') }] });
    expect(short.k.read(SETTINGS)).toBe(DEPLOYED);
    expect(short.env('CLIC_WIFI_PASSPHRASE')).toBe(PASSPHRASE);
  });

  it('the admin key: a new one is set and applied; "remove" takes it out; a bad one is refused', async () => {
    const set = await apply(DEPLOYED, { admin_ssh_key: ADMIN_KEY });
    expect(set.result).toMatchObject({ state: 'ok', changed: ['admin_ssh_key'] });
    expect(set.k.read('root/.ssh/authorized_keys')).toContain(ADMIN_KEY);
    expect(set.k.calls()).toEqual(['systemctl restart clic-settings.service clic-kit-admin.service']);
    const removed = await apply(`${DEPLOYED}admin_ssh_key = ${ADMIN_KEY}\r\n`, { admin_ssh_key_remove: '1' });
    expect(removed.result).toMatchObject({ state: 'ok', changed: ['admin_ssh_key'] });
    expect(removed.k.read(SETTINGS).endsWith('admin_ssh_key =\r\n')).toBe(true);
    const bad = await apply(DEPLOYED, { admin_ssh_key: 'ssh-ed25519 notakey' });
    expect(bad.result).toMatchObject({ state: 'refused', problems: [{ key: 'admin_ssh_key' }] });
  });

  it('a new language restarts the portal’s language and reloads nginx, not the wifi', async () => {
    const { result, k } = await apply(DEPLOYED, { language: 'en' });
    expect(result).toMatchObject({ state: 'ok', changed: ['language'], message: 'Saved in clic-settings.txt and applied.' });
    expect(k.calls()).toEqual(['systemctl restart clic-settings.service clic-kit-admin.service', 'systemctl restart clic-portal.service', 'systemctl reload nginx.service']);
  });

  it('a UTF-16 settings file is changed and stays UTF-16', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(DEPLOYED, 'utf16le')]);
    const { k, result } = await apply(utf16, { wifi_ssid: 'Bibliothèque' });
    expect(result).toMatchObject({ state: 'ok', changed: ['wifi_ssid'] });
    const after = k.bytes(SETTINGS);
    expect([...after.subarray(0, 2)]).toEqual([0xff, 0xfe]);
    expect(differing(DEPLOYED, after.subarray(2).toString('utf16le'))).toEqual([['#wifi_ssid = CLIC', 'wifi_ssid = Bibliothèque']]);
  });

  it('without the FAT partition, or when the kit cannot apply it: said, in both languages', async () => {
    const gone = await apply(DEPLOYED, { wifi_channel: '1' }, (k) => rmSync(join(k.root, BOOT_DIR), { recursive: true }));
    expect(gone.result).toMatchObject({ state: 'failed', message: expect.stringMatching(/^The FAT partition \(\/boot\/firmware\) is not mounted/), message_fr: expect.stringMatching(/^La partition FAT/) });
    expect(gone.k.calls()).toEqual([]);
    const stuck = await apply(DEPLOYED, { wifi_channel: '1' }, (k) => writeFileSync(join(k.root, 'systemctl-fails'), ''));
    expect(stuck.result).toMatchObject({ state: 'failed', message: expect.stringMatching(/could not apply it now: restart the kit/) });
    expect(stuck.k.read(SETTINGS)).toContain('\r\nwifi_channel = 1\r\n');
  });

  it('takes the waiting requests oldest first, each with its result', async () => {
    const k = kit(DEPLOYED);
    await k.boot();
    const first = await cgi(k, 'POST', form({ wifi_channel: '1' }));
    const second = await cgi(k, 'POST', form({ wifi_channel: '11', wifi_ssid: 'Deux' }));
    const r = await k.script('kit-admin-apply');
    expect(r.stdout.split('\n').filter((l) => l.startsWith('request ')).map((l) => l.split(':')[0])).toEqual([`request ${first.json.id}`, `request ${second.json.id}`]);
    expect(k.read(SETTINGS)).toContain('\r\nwifi_channel = 11\r\n');
    expect(JSON.parse(k.read('run/clic/admin/result.json'))).toMatchObject({ id: second.json.id, state: 'ok', changed: ['wifi_ssid', 'wifi_channel'] });
  });

  it('reads no request it did not get from the page: a link, an unknown field, a folder', async () => {
    const k = kit(DEPLOYED);
    await k.boot();
    symlinkSync(join(k.root, 'run/clic/settings.env'), join(k.root, 'run/clic/admin/requests/20990101T000000Z-000000000001'));
    writeFileSync(join(k.root, 'run/clic/admin/requests/20990101T000000Z-000000000002'), 'wifi_ssid=x\nadmin_password_hash=$6$x\n');
    mkdirSync(join(k.root, 'run/clic/admin/requests/20990101T000000Z-000000000003'));
    const r = await k.script('kit-admin-apply');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(/: refused: Not a request of the admin page/g)).toHaveLength(3);
    expect(readdirSync(join(k.root, 'run/clic/admin/work'))).toEqual([]);
    expect(r.stdout).not.toContain(PASSPHRASE);
    expect(lstatSync(join(k.root, 'run/clic/settings.env')).isFile()).toBe(true);
    expect(k.read(SETTINGS)).toBe(DEPLOYED);
    expect(requests(k)).toEqual([]);
  });
});
