/**
 * The service portal generated at build time: both languages, the services of the given list
 * (escaped), icons, no reference to anything outside the kit, the nginx site, the errors script
 * (run against a stand-in DOM), the language boot script, and the layer generator that writes
 * the files into the image.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { appLocations } from '../../builder/apps/portal-locations.ts';
import { appPortalPath, LANGUAGES, portalFiles, portalNginx, renderPortal, WEB_ROOT, type PortalInput, type PortalService } from '../../builder/portal/pages.ts';
import type { Plan } from '../../builder/recipe/plan.ts';
import { writeGenerated } from '../../builder/steps/layer.ts';
import { planOf } from '../support/plans.ts';
import { ROOT } from './helpers/paths.ts';

const exec = promisify(execFile);
const ADDRESS = '10.42.0.1';
const SVG = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8"/></svg>');

const input = (over: Partial<PortalInput> = {}): PortalInput => ({
  address: ADDRESS,
  services: [
    { id: 'kiwix', layer: 'kiwix', name: { en: 'Wikipedia', fr: 'Wikipédia' }, description: { en: 'The encyclopedia, offline', fr: 'L’encyclopédie, hors ligne' }, path: '/kiwix/', iconFile: { ext: 'svg', bytes: SVG } },
    { id: 'docs', layer: 'docs', name: { en: 'Docs <&> "tips"', fr: 'Docs <&> « astuces »' }, description: { en: 'x < y', fr: 'x < y' }, path: '/docs/?a=1&b=2' },
  ],
  image: { name: 'clic-test', description: 'Test kit', board: 'tb', suite: 'bookworm', layers: ['base', 'portal'], sourceDateEpoch: 1_700_000_000, settingsFile: 'clic-settings.txt' },
  ...over,
});

const text = (v: unknown) => (typeof v === 'string' ? v : Buffer.from(v as Uint8Array).toString('utf8'));

/** Every reference to a host (scheme://host or //host) in a text, except XML namespace names. */
function hostsReferenced(content: string): string[] {
  const withoutNamespaces = content.replace(/\bxmlns(:\w+)?="[^"]*"/g, '');
  return [...withoutNamespaces.matchAll(/(?:[a-z][a-z0-9+.-]*:)?\/\/([^/\s"'<>)\\]+)/gi)].map((m) => m[1].toLowerCase());
}

describe('renderPortal', () => {
  const files = renderPortal(input());

  it('makes the services page and the about page in French and English, with the right lang and switch link', () => {
    for (const lang of LANGUAGES) {
      const other = lang === 'fr' ? 'en' : 'fr';
      const index = text(files[`${WEB_ROOT}/index.${lang}.html`]);
      expect(index).toMatch(new RegExp(`^<!doctype html>\\n<html lang="${lang}">`));
      expect(index).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
      expect(index).toContain(`href="/clic/lang/${other}/"`);
      const about = text(files[`${WEB_ROOT}/about/index.${lang}.html`]);
      expect(about).toContain(`href="/clic/lang/${other}/about/"`);
      expect(about).toContain('clic-test — Test kit');
      expect(about).toContain('2023-11-14');
      expect(about).toContain(`http://${ADDRESS}/`);
    }
    expect(text(files[`${WEB_ROOT}/index.fr.html`])).toContain('<span class="name">Wikipédia</span><span class="desc">L’encyclopédie, hors ligne</span>');
    expect(text(files[`${WEB_ROOT}/index.en.html`])).toContain('<span class="name">Wikipedia</span><span class="desc">The encyclopedia, offline</span>');
    expect(text(files[`${WEB_ROOT}/index.fr.html`])).toContain('Services du kit');
    expect(text(files[`${WEB_ROOT}/index.en.html`])).toContain('Services of this kit');
  });

  it('lists every service, in order, linked to its path, names escaped; icons as files, an initial otherwise', () => {
    const en = text(files[`${WEB_ROOT}/index.en.html`]);
    const links = [...en.matchAll(/<a href="([^"]*)" data-service="([^"]*)">/g)].map((m) => [m[2], m[1]]);
    expect(links).toEqual([['kiwix', '/kiwix/'], ['docs', '/docs/?a=1&amp;b=2']]);
    expect(en).toContain('Docs &lt;&amp;&gt; &quot;tips&quot;');
    expect(en).not.toContain('<&>');
    expect(en).toContain('<img src="/clic/icons/kiwix.svg" alt="" width="48" height="48">');
    expect(en).toContain('<span class="initial" aria-hidden="true">D</span>');
    expect(files[`${WEB_ROOT}/clic/icons/kiwix.svg`]).toBe(SVG);
  });

  it('has the settings-errors box, hidden until the script finds errors', () => {
    const fr = text(files[`${WEB_ROOT}/index.fr.html`]);
    expect(fr).toMatch(/<section id="settings-errors" class="errors admin" hidden>/);
    // below the services: for the kit's admin, not in the visitor's way
    expect(fr.indexOf('id="settings-errors"')).toBeGreaterThan(fr.indexOf('class="services"'));
    expect(fr).toContain('clic-settings.txt');
    expect(fr).toContain("fetch('/clic/settings-errors.json'");
  });

  it('has the failed-apps box, hidden until the kit’s app status lists a failed app', () => {
    for (const lang of ['fr', 'en']) {
      const page = text(files[`${WEB_ROOT}/index.${lang}.html`]);
      expect(page).toMatch(/<section id="apps-failed" class="errors admin" hidden>/);
      expect(page).toContain("fetch('/clic/apps-status.json'");
      expect(page).toContain("a.state==='failed'");
    }
  });

  it('references no host but the kit: no CDN, no web font, no external link, in pages and icons', () => {
    for (const [path, content] of Object.entries(files)) {
      if (path.startsWith('/etc/')) continue;
      const body = text(content);
      expect(hostsReferenced(body).filter((h) => h !== ADDRESS), path).toEqual([]);
      expect(body, path).not.toMatch(/@import|@font-face|url\(\s*['"]?(?!data:)/i);
      // every src/href is a path on the kit, an anchor or inline data
      for (const m of body.matchAll(/\b(?:src|href|action)="([^"]*)"/g)) expect(m[1], `${path}: ${m[0]}`).toMatch(/^(\/(?!\/)|#|data:|http:\/\/10\.42\.0\.1\/)/);
    }
  });

  it('the scan itself catches external references', () => {
    expect(hostsReferenced('<link href="https://cdn.example.org/x.css">')).toEqual(['cdn.example.org']);
    expect(hostsReferenced('<img src="//fonts.example.com/a.woff2">')).toEqual(['fonts.example.com']);
    expect(hostsReferenced('<svg xmlns="http://www.w3.org/2000/svg"></svg>')).toEqual([]);
  });

  it('refuses service paths that leave the kit, bad ids and duplicates', () => {
    const one = input().services[0];
    for (const path of ['http://example.org/', '//example.org/', 'kiwix/', 'javascript:alert(1)', '/a b']) {
      expect(() => renderPortal(input({ services: [{ ...one, path }] })), path).toThrow(/absolute path on the kit/);
    }
    expect(() => renderPortal(input({ services: [{ ...one, id: 'Bad Id' }] }))).toThrow(/id must be/);
    expect(() => renderPortal(input({ services: [one, one] }))).toThrow(/declared twice/);
  });

  it('an empty list says so', () => {
    const none = renderPortal(input({ services: [] }));
    expect(text(none[`${WEB_ROOT}/index.en.html`])).toContain('No service is installed on this kit.');
  });
});

describe('settings errors script', () => {
  /** Runs the page's inline script against a minimal DOM and a fetch that returns `body`. */
  async function runScript(lang: 'fr' | 'en', body: unknown, ok = true) {
    const html = text(renderPortal(input())[`${WEB_ROOT}/index.${lang}.html`]);
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1];
    const items: string[] = [];
    const box = {
      hidden: true,
      querySelector: () => ({ appendChild: (li: { parts: string[] }) => items.push(li.parts.join('')) }),
    };
    const element = () => {
      const el = { parts: [] as string[], set textContent(v: string) { el.parts.push(`<${v}>`); }, appendChild: (c: { parts?: string[]; text?: string }) => el.parts.push(c.parts ? c.parts.join('') : String(c.text)) };
      return el;
    };
    const cards = ['my_webapp', 'yeswiki'].map((id) => ({ hidden: true, getAttribute: () => id }));
    const document = { getElementById: () => box, createElement: element, createTextNode: (t: string) => ({ text: t }), querySelectorAll: () => cards };
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const fetch = async () => ({ ok, json: async () => body });
    runInNewContext(script, { document, window: { fetch }, fetch, Array, String });
    setTimeout(done, 20);
    await finished;
    return { hidden: box.hidden, items, cards: Object.fromEntries(cards.map((c) => [c.getAttribute(), !c.hidden])) };
  }

  it('shows each error with its key, message and value; masks passphrases', async () => {
    const r = await runScript('en', [
      { key: 'wifi_channel', value: '99', message: 'not a wifi channel' },
      { key: 'wifi_passphrase', value: 'short', message: 'must be 8 to 63 characters' },
    ]);
    expect(r.hidden).toBe(false);
    expect(r.items).toEqual(['<wifi_channel> : not a wifi channel (value “99”)', '<wifi_passphrase> : must be 8 to 63 characters (value (hidden))']);
    const fr = await runScript('fr', [{ key: 'wifi_passphrase', value: 'short', message: 'x' }]);
    expect(fr.items).toEqual(['<wifi_passphrase> : x (valeur (masquée))']);
    // in the page's language when the kit gives it
    const both = [{ key: 'wifi_channel', value: '99', message: 'expected a 2.4 GHz wifi channel', message_fr: 'attendu un canal wifi 2,4 GHz' }];
    expect((await runScript('fr', both)).items).toEqual(['<wifi_channel> : attendu un canal wifi 2,4 GHz (valeur “99”)']);
    expect((await runScript('en', both)).items).toEqual(['<wifi_channel> : expected a 2.4 GHz wifi channel (value “99”)']);
  });

  it("shows an app's card only once the kit's app status says it is installed", async () => {
    const r = await runScript('fr', { postinstall: 'done', apps: [{ id: 'my_webapp', state: 'installed' }, { id: 'yeswiki', state: 'failed', message: 'x' }] });
    expect(r.cards).toEqual({ my_webapp: true, yeswiki: false });
    expect(r.items).toEqual(['<yeswiki> : x']);
    expect((await runScript('fr', null, false)).cards).toEqual({ my_webapp: false, yeswiki: false });
  });

  it('stays hidden with no errors, a missing file or garbage', async () => {
    expect((await runScript('en', [])).hidden).toBe(true);
    expect((await runScript('en', null, false)).hidden).toBe(true);
    expect((await runScript('en', { not: 'a list' })).hidden).toBe(true);
  });
});

describe('YunoHost apps on the portal', () => {
  const app: PortalService = { id: 'app-my-webapp', layer: 'apps', app: 'my_webapp', name: { fr: 'My Webapp', en: 'My Webapp' }, description: { fr: 'Application du kit', en: 'An app of this kit' }, path: '/site/' };

  it('an app card is hidden until the status says installed, linking to the app’s path on the kit', () => {
    const html = text(renderPortal(input({ services: [...input().services, app] }))[`${WEB_ROOT}/index.fr.html`]);
    expect(html).toContain('<li data-app="my_webapp" hidden><a href="/site/" data-service="app-my-webapp">');
  });

  it('takes an install path as a link, and none for the root or a strange one', () => {
    expect(appPortalPath('/wiki')).toBe('/wiki/');
    expect(appPortalPath('/pads/team/')).toBe('/pads/team/');
    for (const none of [undefined, '', '/', 'wiki', '//evil.example', '/a b', '/x"y']) expect(appPortalPath(none), String(none)).toBeNull();
  });

  it('the apps layer sends each app path on to YunoHost’s domain, and refuses a path the portal or a service holds', () => {
    const planWith = (paths: string[]) =>
      ({ services: [{ id: 'kiwix', layer: 'kiwix', path: '/kiwix/' }], apps: { layer: 'apps', resolved: paths.map((path, i) => ({ id: `app${i}`, args: { path } })) } }) as unknown as Plan;
    const conf = String(appLocations(planWith(['/site', '/wiki/']))['/etc/nginx/clic-services/yunohost_apps.conf']);
    expect(conf).toContain('location ^~ /site/ {\n    return 302 https://$clic_yunohost_domain$request_uri;\n}');
    expect(conf).toContain('location ^~ /wiki/ {');
    expect(() => appLocations(planWith(['/kiwix/docs']))).toThrow('app "app0": its path /kiwix/docs is under service "kiwix" of layer kiwix\'s; give it another one in its args (path: /app0)');
    expect(() => appLocations(planWith(['/yunohost']))).toThrow(/is under the portal's/);
    expect(() => appLocations(planWith(['/a', '/a/']))).toThrow(/is under app "app0"'s/);
  });
});

describe('portal nginx site', () => {
  const conf = portalNginx(ADDRESS, 'en');
  it('serves the kit by its address, the language page by index, the errors from /run, and the language switch', () => {
    expect(conf).toMatch(/server_name 10\.42\.0\.1 localhost "~\^\[0-9\]\+/);
    expect(conf).toMatch(/^ {4}index index\.\$clic_lang\.html;$/m);
    expect(conf).toMatch(/^ {4}set \$clic_settings_lang en;$/m);
    expect(conf).toMatch(/^ {4}include \/run\/clic\/portal\/nginx-lang\*\.conf;$/m);
    expect(conf).toMatch(/location = \/clic\/settings-errors\.json \{\n {8}root \/run;/);
    expect(conf).toMatch(/absolute_redirect off;/);
    expect(conf).not.toMatch(/default_server/);
  });

  it('the language switch goes back to a page of the kit only, never to another site', () => {
    const pattern = /location ~ (\S+) \{\n {8}add_header Set-Cookie "clic_lang=\$1;[^\n]*\n {8}return 302 \$2;/.exec(conf)?.[1];
    expect(pattern, conf).toBeTruthy();
    // nginx unescapes \\ \" \' in a token before PCRE compiles it; then PCRE reads this pattern
    // as JavaScript does. nginx matches the decoded, slash-merged path
    const unescaped = pattern!.replace(/\\(["'\\])/g, '$1');
    const location = new RegExp(unescaped);
    expect(location.exec('/clic/lang/fr/')?.[2]).toBe('/');
    expect(location.exec('/clic/lang/en/about/')?.[2]).toBe('/about/');
    expect(location.exec('/clic/lang/fr/kiwix/wikipedia/A/Paris')?.[2]).toBe('/kiwix/wikipedia/A/Paris');
    // browsers take "//host" and "/\\host" for another site
    for (const away of ['/clic/lang/fr//evil.example/', '/clic/lang/fr/\\evil.example/', '/clic/lang/en/\\/evil.example']) expect(location.test(away), away).toBe(false);
    expect(location.test('/clic/lang/de/')).toBe(false);
  });
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('portal-setup (boot script)', () => {
  async function run(settings?: string) {
    const root = mkdtempSync(join(tmpdir(), 'clic-portal-'));
    dirs.push(root);
    cpSync(join(ROOT, 'overlays/hotspot'), root, { recursive: true });
    cpSync(join(ROOT, 'overlays/portal'), root, { recursive: true });
    if (settings !== undefined) {
      mkdirSync(join(root, 'run/clic'), { recursive: true });
      writeFileSync(join(root, 'run/clic/settings.env'), settings);
    }
    const { stdout } = await exec('/bin/sh', [join(root, 'usr/lib/clic/portal-setup')], { env: { CLIC_ROOT: root, PATH: '/usr/bin:/bin' } });
    const file = join(root, 'run/clic/portal/nginx-lang.conf');
    return { stdout, conf: existsSync(file) ? readFileSync(file, 'utf8') : null };
  }

  it('gives nginx the settings language, or leaves the image default', async () => {
    expect((await run("CLIC_LANGUAGE='fr'\n")).conf).toBe('set $clic_settings_lang fr;\n');
    expect((await run("CLIC_LANGUAGE='en'\n")).conf).toBe('set $clic_settings_lang en;\n');
    const bad = await run("CLIC_LANGUAGE='de; evil'\n");
    expect(bad.conf).toBeNull();
    expect(bad.stdout).toMatch(/image default/);
    expect((await run()).conf).toBeNull();
  });
});

describe('portal layer generator', () => {
  it('lists the services of the shipped image (at least "about", with its icon) and writes them into a root', async () => {
    const plan = await planOf('clic-pc-x86_64');
    expect(plan.services.map((s) => s.id)).toContain('about');
    const files = await portalFiles(plan);
    expect(text(files[`${WEB_ROOT}/index.en.html`])).toContain('About this kit');
    expect(text(files[`${WEB_ROOT}/index.fr.html`])).toContain('À propos de ce kit');
    expect(text(files[`${WEB_ROOT}/clic/icons/about.svg`])).toMatch(/^<svg /);
    // without settings, nginx serves the firstboot layer's default language
    const language = plan.layers.find((l) => l.name === 'firstboot')?.vars.language ?? 'en';
    expect(text(files['/etc/nginx/sites-available/clic-portal'])).toContain(`set $clic_settings_lang ${language};`);
    const root = mkdtempSync(join(tmpdir(), 'clic-gen-'));
    dirs.push(root);
    await writeGenerated(root, files, 1_700_000_000);
    const page = statSync(join(root, WEB_ROOT, 'index.en.html'));
    expect(page.mode & 0o777).toBe(0o644);
    expect(page.mtimeMs).toBe(1_700_000_000_000);
    expect(statSync(join(root, WEB_ROOT, 'about')).mode & 0o777).toBe(0o755);
    await expect(writeGenerated(root, { 'etc/x': '' }, 0)).rejects.toThrow(/absolute path/);
    await expect(writeGenerated(root, { '/etc/../x': '' }, 0)).rejects.toThrow(/absolute path/);
    // never through a link (an absolute one would lead out of the image, into the build host)
    const outside = mkdtempSync(join(tmpdir(), 'clic-outside-'));
    dirs.push(outside);
    symlinkSync(outside, join(root, 'linked-dir'));
    symlinkSync(join(outside, 'f'), join(root, 'linked-file'));
    await expect(writeGenerated(root, { '/linked-dir/x': 'no' }, 0)).rejects.toThrow(/symbolic link/);
    await expect(writeGenerated(root, { '/linked-file': 'no' }, 0)).rejects.toThrow(/symbolic link/);
    expect(existsSync(join(outside, 'x')) || existsSync(join(outside, 'f'))).toBe(false);
    await writeGenerated(root, { '/usr/lib/x': { content: '#!/bin/sh\n', mode: 0o755 } }, 0);
    expect(statSync(join(root, 'usr/lib/x')).mode & 0o777).toBe(0o755);
  });
});
