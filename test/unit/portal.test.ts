/**
 * The service portal generated at build time: both languages, the services of the given list
 * (escaped), icons, no reference to anything outside the kit, the nginx site, the page's script
 * (run against a stand-in DOM made from the page's markup: settings errors, app cards, and the
 * availability checks that keep a service's card hidden while it is down or empty, kiwix's
 * checked against the real kiwix-serve run as the kit runs it), the portal's own 404 and 50x
 * pages and the nginx directives that serve them, the language boot script, and the layer
 * generator that writes the files into the image.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { appLocations } from '../../builder/apps/portal-locations.ts';
import { appPortalPath, CHECK_RETRY_MS, CHECK_TRIES, ERROR_PAGES, ERRORS_PATH, LANGUAGES, portalFiles, portalNginx, renderPortal, WEB_ROOT, type PortalInput, type PortalService } from '../../builder/portal/pages.ts';
import type { Plan } from '../../builder/recipe/plan.ts';
import { EMPTY_LIBRARY } from '../../builder/steps/content.ts';
import { writeGenerated } from '../../builder/steps/layer.ts';
import { planOf } from '../support/plans.ts';
import { makeZim } from '../support/zim.ts';
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

/** An answer of the kit to one of the page's fetches: a status and a body. */
interface Answer {
  status: number;
  body: string;
}

const APP_CARDS: PortalService[] = ['my_webapp', 'yeswiki'].map((app) => ({ id: `app-${app.replace(/_/g, '-')}`, layer: 'apps', app, name: { fr: app, en: app }, description: { fr: 'Application du kit', en: 'An app of this kit' }, path: `/${app}/` }));
const LIBRARY: PortalService = { ...input().services[0], id: 'library', path: '/library/', availability: { url: '/library/catalog/v2/entries?count=1', contains: '<entry' } };
const unescapeHtml = (v: string) => v.replace(/&(lt|gt|quot|#39|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!);

/**
 * Opens a generated page as a browser would run its inline script, against a stand-in DOM made
 * from the page's own markup: the boxes by id, the service cards (each <li> with its attributes)
 * for querySelectorAll('li[data-…]'). `answer` gives the kit's answer to each fetched path
 * (undefined: the connection fails); timers wait until `tick()` runs them.
 */
async function openPage(html: string, answer: (path: string, nth: number) => Answer | undefined | Promise<Answer | undefined>, search = '') {
  const items: string[] = [];
  const boxes = new Map<string, { hidden: boolean; querySelector: () => unknown }>();
  const getElementById = (id: string) => {
    const tag = new RegExp(`<[a-z]+ id="${id}"[^>]*>`).exec(html)?.[0];
    if (!tag) return null;
    if (!boxes.has(id)) boxes.set(id, { hidden: / hidden[ >]/.test(tag), querySelector: () => ({ appendChild: (li: { parts: string[] }) => items.push(li.parts.join('')) }) });
    return boxes.get(id)!;
  };
  const cards = [...html.matchAll(/<li((?: [a-z-]+(?:="[^"]*")?)*)><a href="[^"]*" data-service="([^"]*)"/g)].map((m) => {
    const attrs = new Map([...m[1].matchAll(/ ([a-z-]+)(?:="([^"]*)")?/g)].map((a) => [a[1], unescapeHtml(a[2] ?? '')]));
    return { id: m[2], hidden: attrs.has('hidden'), attrs, getAttribute: (name: string) => attrs.get(name) ?? null };
  });
  const querySelectorAll = (selector: string) => {
    const attr = /^li\[([a-z-]+)\]$/.exec(selector)?.[1];
    if (!attr) throw new Error(`the stand-in DOM does not know the selector ${selector}`);
    return cards.filter((c) => c.attrs.has(attr));
  };
  const element = () => {
    const el = { parts: [] as string[], set textContent(v: string) { el.parts.push(`<${v}>`); }, appendChild: (c: { parts?: string[]; text?: string }) => el.parts.push(c.parts ? c.parts.join('') : String(c.text)) };
    return el;
  };
  const document = { getElementById, createElement: element, createTextNode: (t: string) => ({ text: t }), querySelectorAll };
  const fetched: { path: string; cache?: string }[] = [];
  const inflight = new Set<Promise<unknown>>();
  /** Answers whose body the script never read (a browser keeps those requests open). */
  const unread = new Set<string>();
  const fetch = (path: string, opts?: { cache?: string }) => {
    fetched.push({ path, cache: opts?.cache });
    const answered = Promise.resolve(answer(path, fetched.filter((f) => f.path === path).length)).then((a) => {
      if (!a) throw new TypeError('Failed to fetch');
      const id = `${path} #${fetched.length}`;
      unread.add(id);
      const read = <T>(v: T) => (unread.delete(id), v);
      return { ok: a.status >= 200 && a.status < 300, status: a.status, text: async () => read(a.body), json: async () => read(JSON.parse(a.body)) };
    });
    inflight.add(answered);
    void answered.catch(() => {}).finally(() => inflight.delete(answered));
    return answered;
  };
  const timers: { run: () => void; ms: number }[] = [];
  const setTimeout = (run: () => void, ms: number) => timers.push({ run, ms });
  /** Every fetch answered and the script's handlers run. */
  const settle = async () => {
    while (inflight.size) await Promise.allSettled([...inflight]);
    await new Promise((r) => globalThis.setTimeout(r, 10));
  };
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1];
  runInNewContext(script, { document, window: { fetch }, fetch, setTimeout, location: { search }, Array, String, JSON });
  await settle();
  return {
    items,
    fetched,
    unread,
    timers,
    box: (id: string) => getElementById(id)?.hidden,
    /** Each card: shown (true) or hidden (false). */
    shown: () => Object.fromEntries(cards.map((c) => [c.id, !c.hidden])),
    /** Runs the timers due now (the script's retries), then lets their fetches settle. */
    async tick() {
      for (const t of timers.splice(0)) t.run();
      await settle();
    },
  };
}

const json = (v: unknown): Answer => ({ status: 200, body: JSON.stringify(v) });
const pageOf = (lang: 'fr' | 'en', services = [...input().services, ...APP_CARDS]) => text(renderPortal(input({ services }))[`${WEB_ROOT}/index.${lang}.html`]);

describe('settings errors script', () => {
  /** The page with the kit's settings errors and app status both answered by `body` (or a 404). */
  async function runScript(lang: 'fr' | 'en', body: unknown, ok = true) {
    const page = await openPage(pageOf(lang), () => (ok ? json(body) : { status: 404, body: '<!doctype html>' }));
    return { hidden: page.box('settings-errors') && page.box('apps-failed'), items: page.items, cards: page.shown() };
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
    expect(r.cards).toMatchObject({ 'app-my-webapp': true, 'app-yeswiki': false });
    expect(r.items).toEqual(['<yeswiki> : x']);
    expect((await runScript('fr', null, false)).cards).toMatchObject({ 'app-my-webapp': false, 'app-yeswiki': false });
  });

  it('stays hidden with no errors, a missing file or garbage', async () => {
    expect((await runScript('en', [])).hidden).toBe(true);
    expect((await runScript('en', null, false)).hidden).toBe(true);
    expect((await runScript('en', { not: 'a list' })).hidden).toBe(true);
  });

  it('after "Continue" (/?connected), says the device is connected instead of asking again', async () => {
    const html = pageOf('en');
    const after = await openPage(html, () => undefined, '?connected');
    expect([after.box('continue-form'), after.box('connected')]).toEqual([true, false]);
    const before = await openPage(html, () => undefined, '?connectedness');
    expect([before.box('continue-form'), before.box('connected')]).toEqual([false, true]);
  });
});

describe('service availability: the portal never links to a service that is down or empty', () => {
  const FEED = '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><totalResults>0</totalResults></feed>';
  const BOOK = '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><totalResults>1</totalResults><entry><name>wikipedia_fr_all_mini</name></entry></feed>';
  const CHECK = LIBRARY.availability!.url;
  const page = (lang: 'fr' | 'en' = 'en', services = [...input().services, LIBRARY]) => pageOf(lang, services);
  /** The kit: the library's check answered by `library` (its nth fetch), the JSON files missing. */
  const kit = (library: (nth: number) => Answer | undefined) => (path: string, nth: number) => (path === CHECK ? library(nth) : { status: 404, body: '<!doctype html>' });

  it("reads every answer's body, errors' included: a browser keeps an unread one open and the page never goes idle", async () => {
    for (const status of [200, 404, 502]) {
      const opened = await openPage(page('en'), () => ({ status, body: status === 200 ? '[]' : '<!doctype html>' }));
      expect(opened.fetched.length).toBeGreaterThan(0);
      expect([...opened.unread], `status ${status}`).toEqual([]);
    }
  });

  it('renders the card hidden, carrying its check; cards without one are shown', () => {
    for (const lang of LANGUAGES) {
      const html = page(lang);
      expect(html).toContain('<li data-check="/library/catalog/v2/entries?count=1" data-check-contains="&lt;entry" hidden><a href="/library/" data-service="library">');
      expect(html).toContain('<li><a href="/kiwix/" data-service="kiwix">');
    }
    // escaped in the attributes; with no text to look for, no data-check-contains
    const anyAnswer = page('en', [{ ...LIBRARY, availability: { url: '/library/status?a=1&b=2', contains: '"ready" & <up>' } }]);
    expect(anyAnswer).toContain('<li data-check="/library/status?a=1&amp;b=2" data-check-contains="&quot;ready&quot; &amp; &lt;up&gt;" hidden>');
    expect(page('en', [{ ...LIBRARY, availability: { url: '/library/status' } }])).toContain('<li data-check="/library/status" hidden>');
  });

  it('shows the card once the check answers with what it looks for, asking the kit with no cache', async () => {
    const p = await openPage(page(), kit(() => ({ status: 200, body: BOOK })));
    expect(p.shown()).toMatchObject({ library: true, kiwix: true, docs: true });
    expect(p.fetched.filter((f) => f.path === CHECK)).toEqual([{ path: CHECK, cache: 'no-store' }]);
    expect(p.timers).toEqual([]);
  });

  it('keeps it hidden for an empty service, retrying every CHECK_RETRY_MS, CHECK_TRIES times in all', async () => {
    const p = await openPage(page(), kit(() => ({ status: 200, body: FEED })));
    for (let i = 1; i < CHECK_TRIES; i++) {
      expect(p.shown().library, `try ${i}`).toBe(false);
      expect(p.timers.map((t) => t.ms)).toEqual([CHECK_RETRY_MS]);
      await p.tick();
    }
    expect(p.shown()).toMatchObject({ library: false, kiwix: true, docs: true });
    expect(p.fetched.filter((f) => f.path === CHECK)).toHaveLength(CHECK_TRIES);
    expect(p.timers).toEqual([]);
    expect(CHECK_TRIES * CHECK_RETRY_MS).toBeLessThanOrEqual(90_000);
  });

  it('keeps it hidden while the service is down (the kit’s 50x page, or no answer), and shows it once the service is up', async () => {
    const down = (await openPage(page(), () => undefined)).shown();
    expect(down.library).toBe(false);
    const fiftyX = text(renderPortal(input())[`${WEB_ROOT}/clic/errors/50x.en.html`]);
    // kiwix-serve starting: nginx's 502 (with the kit's 50x page), then the catalog with a book
    const p = await openPage(page(), kit((nth) => (nth < 3 ? { status: 502, body: fiftyX } : { status: 200, body: BOOK })));
    expect(p.shown().library).toBe(false);
    await p.tick();
    expect(p.shown().library).toBe(false);
    await p.tick();
    expect(p.shown().library).toBe(true);
    expect(p.timers).toEqual([]);
  });

  it('a check without `contains` passes on any success, never on an error status', async () => {
    const services = [{ ...LIBRARY, availability: { url: CHECK } }];
    expect((await openPage(page('fr', services), kit(() => ({ status: 200, body: '' })))).shown().library).toBe(true);
    expect((await openPage(page('fr', services), kit(() => ({ status: 404, body: BOOK })))).shown().library).toBe(false);
  });

  it('refuses a check outside the kit, or an empty text to look for', () => {
    for (const url of ['http://example.org/x', '//example.org/x', 'status', '/a b']) {
      expect(() => renderPortal(input({ services: [{ ...LIBRARY, availability: { url } }] })), url).toThrow(/availability url .* must be an absolute path on the kit/);
    }
    expect(() => renderPortal(input({ services: [{ ...LIBRARY, availability: { url: CHECK, contains: '' } }] }))).toThrow(/contains must be a non-empty text/);
  });

  it('the kiwix layer declares its check on its own catalog, and its card is rendered hidden with it', async () => {
    const plan = await planOf('clic-pc-x86_64');
    const kiwix = plan.services.find((s) => s.id === 'kiwix')!;
    expect(kiwix.availability).toEqual({ url: '/kiwix/catalog/v2/entries?count=1', contains: '<entry' });
    expect(kiwix.availability!.url.startsWith(kiwix.path)).toBe(true);
    const files = await portalFiles(plan);
    for (const lang of LANGUAGES) {
      const html = text(files[`${WEB_ROOT}/index.${lang}.html`]);
      expect(html).toContain('<li data-check="/kiwix/catalog/v2/entries?count=1" data-check-contains="&lt;entry" hidden><a href="/kiwix/" data-service="kiwix">');
      expect(html).toContain('<li><a href="/about/" data-service="about">');
    }
  });

  it('against the real kiwix-serve, run as the kit runs it: the library card shows with a book, not with an empty library nor with kiwix-serve stopped', async () => {
    const root = mkdtempSync(join(tmpdir(), 'clic-kiwix-check-'));
    dirs.push(root);
    const zim = await makeZim(root, { name: 'test_fr_mini', language: 'fra' });
    await exec('kiwix-manage', [join(root, 'library.xml'), 'add', zim.file]);
    writeFileSync(join(root, 'empty.xml'), EMPTY_LIBRARY);
    const html = text((await portalFiles(await planOf('clic-pc-x86_64')))[`${WEB_ROOT}/index.en.html`]);
    /** The kiwix card after the portal page's checks, on a kit whose kiwix-serve serves `library` (null: stopped). */
    const cardShown = async (library: string | null) => {
      const port = await freePort();
      const server = library ? await startKiwixServe(library, port) : undefined;
      try {
        // nginx's /kiwix/ location passes the path on as it is (proxy_pass with no URI)
        const page = await openPage(html, async (path) => {
          if (!path.startsWith('/kiwix/')) return { status: 404, body: '' };
          try {
            const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
            return { status: r.status, body: await r.text() };
          } catch {
            return undefined;
          }
        });
        while (page.timers.length) await page.tick();
        return page.shown().kiwix;
      } finally {
        if (server) await stopProcess(server);
      }
    };
    expect(await cardShown(join(root, 'library.xml'))).toBe(true);
    expect(await cardShown(join(root, 'empty.xml'))).toBe(false);
    expect(await cardShown(null)).toBe(false);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** kiwix-serve as clic-kiwix.service runs it on the kit (its very ExecStart), on `port`, serving `library`. */
async function startKiwixServe(library: string, port: number): Promise<ChildProcess> {
  const unit = readFileSync(join(ROOT, 'overlays/kiwix/etc/systemd/system/clic-kiwix.service'), 'utf8');
  const [command, ...args] = /^ExecStart=(.*)$/m.exec(unit)![1].trim().split(/\s+/);
  const argv = args.map((a, i) => (args[i - 1] === '--port' ? String(port) : a === '/srv/clic-data/kiwix/library.xml' ? library : a));
  expect(argv).toContain(library);
  expect(argv).toEqual(expect.arrayContaining(['--urlRootLocation', '/kiwix']));
  const child = spawn(command, argv, { stdio: 'ignore' });
  for (const end = Date.now() + 15_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    try {
      await fetch(`http://127.0.0.1:${port}/kiwix/`);
      return child;
    } catch {
      if (child.exitCode !== null) break;
    }
  }
  await stopProcess(child);
  throw new Error(`kiwix-serve ${argv.join(' ')} did not answer`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill();
  await exited;
}

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

/** The portal site's language-switch location, as a RegExp: group 2 is the page it goes back to. */
function langSwitchLocation(conf: string): RegExp {
  const pattern = /location ~ (\S+) \{\n {8}add_header Set-Cookie "clic_lang=\$1;[^\n]*\n {8}return 302 \$2;/.exec(conf)?.[1];
  expect(pattern, conf).toBeTruthy();
  // nginx unescapes \\ \" \' in a token before PCRE compiles it; then PCRE reads this pattern
  // as JavaScript does. nginx matches the decoded, slash-merged path
  return new RegExp(pattern!.replace(/\\(["'\\])/g, '$1'));
}

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
    const location = langSwitchLocation(conf);
    expect(location.exec('/clic/lang/fr/')?.[2]).toBe('/');
    expect(location.exec('/clic/lang/en/about/')?.[2]).toBe('/about/');
    expect(location.exec('/clic/lang/fr/kiwix/wikipedia/A/Paris')?.[2]).toBe('/kiwix/wikipedia/A/Paris');
    // browsers take "//host" and "/\\host" for another site
    for (const away of ['/clic/lang/fr//evil.example/', '/clic/lang/fr/\\evil.example/', '/clic/lang/en/\\/evil.example']) expect(location.test(away), away).toBe(false);
    expect(location.test('/clic/lang/de/')).toBe(false);
  });
});

describe('the portal’s own error pages', () => {
  const files = renderPortal(input());
  const conf = portalNginx(ADDRESS, 'fr');
  const TITLES = {
    '404': { fr: 'Cette page n’existe pas sur le kit', en: 'This page does not exist on the kit' },
    '50x': { fr: 'Ce service n’est pas disponible pour le moment', en: 'This service is not available at the moment' },
  };
  const styleOf = (html: string) => /<style>[\s\S]*?<\/style>/.exec(html)?.[0];

  it('exist in French and English, each in its language, with the look of the other pages and a link back to the services', () => {
    expect(Object.keys(ERROR_PAGES).sort()).toEqual(Object.keys(TITLES).sort());
    for (const [name, title] of Object.entries(TITLES)) {
      for (const lang of LANGUAGES) {
        const path = `${WEB_ROOT}${ERRORS_PATH}/${name}.${lang}.html`;
        const html = text(files[path]);
        expect(html, path).toMatch(new RegExp(`^<!doctype html>\\n<html lang="${lang}">`));
        expect(html, path).toContain(`<title>CLIC — ${title[lang]}</title>`);
        expect(html, path).toContain(`<h1>${title[lang]}</h1>`);
        expect(html, path).toContain(`<p><a href="/">${lang === 'fr' ? 'Retour aux services' : 'Back to the services'}</a></p>`);
        expect(styleOf(html), path).toBe(styleOf(text(files[`${WEB_ROOT}/index.${lang}.html`])));
        expect(html, path).toContain('<header><a class="brand" href="/">');
        // served at any address: every link is absolute; nothing reloads or moves the page by itself
        for (const m of html.matchAll(/\bhref="([^"]*)"/g)) expect(m[1], path).toMatch(/^(\/|data:)/);
        expect(html, path).not.toMatch(/<script|http-equiv/i);
      }
    }
    expect(text(files[`${WEB_ROOT}${ERRORS_PATH}/50x.fr.html`])).toContain('Réessayez dans une minute');
    expect(text(files[`${WEB_ROOT}${ERRORS_PATH}/50x.en.html`])).toContain('Try again in a minute');
  });

  it('their language switch leads to the services in the other language, through the switch location', () => {
    const location = langSwitchLocation(conf);
    for (const name of Object.keys(TITLES)) {
      for (const lang of LANGUAGES) {
        const other = lang === 'fr' ? 'en' : 'fr';
        const html = text(files[`${WEB_ROOT}${ERRORS_PATH}/${name}.${lang}.html`]);
        const href = /<a class="lang" href="([^"]*)"/.exec(html)?.[1];
        expect(href).toBe(`/clic/lang/${other}/`);
        // the switch's answer, a 302 to "/", is the services page: no error page in between
        expect(location.exec(href!)?.slice(1, 3)).toEqual([other, '/']);
      }
    }
  });

  it('nginx answers errors with them, in the visitor’s language, keeping the status, at the server level (services it proxies included)', () => {
    const directives = [...conf.matchAll(/^( *)error_page ([^;]+);$/gm)];
    expect(directives.map((m) => m[2])).toEqual(['403 404 /clic/errors/404.$clic_lang.html', '500 502 503 504 /clic/errors/50x.$clic_lang.html']);
    // in the server block itself, not in a location: every location inherits them, /kiwix/'s proxy too
    for (const m of directives) expect(m[1]).toBe('    ');
    // no "=code": a missing page stays a 404 and a service that is down a 502, never a 200
    expect(conf).not.toMatch(/error_page[^;]*=/);
    // each page named, in each language the cookie or the settings may give, is a file of the site
    for (const m of directives) {
      const uri = m[2].split(' ').pop()!;
      for (const lang of LANGUAGES) expect(files[`${WEB_ROOT}${uri.replace('$clic_lang', lang)}`], `${uri} (${lang})`).toBeDefined();
    }
  });

  it('nginx serves them only as error pages, uncached, and never loops on them', () => {
    // internal: asked for directly, the folder answers 404 (with the 404 page); ^~: no regex location takes them
    expect(conf).toMatch(/^ {4}location \^~ \/clic\/errors\/ \{\n {8}internal;\n/m);
    const block = /location \^~ \/clic\/errors\/ \{\n([\s\S]*?)\n {4}\}/.exec(conf)![1];
    expect(block).toMatch(/add_header Cache-Control "no-store" always;/);
    expect(block).toMatch(/add_header Vary "Cookie" always;/);
    expect(block).not.toMatch(/return|rewrite|error_page|proxy_pass|try_files/);
    // an error while serving an error page gets nginx's plain page, not another internal redirect
    expect(conf).not.toMatch(/^\s*recursive_error_pages\s+on/m);
    // the apps layer refuses an app path under /clic/, and no service overlay sets its own error_page
    // (it would replace the server's for its location: kiwix-serve down would give nginx's bare 502)
    for (const layer of readdirSync(join(ROOT, 'overlays'))) {
      const folder = join(ROOT, 'overlays', layer, 'etc/nginx/clic-services');
      if (!existsSync(folder)) continue;
      for (const f of readdirSync(folder)) expect(readFileSync(join(folder, f), 'utf8'), `${layer}/${f}`).not.toMatch(/^\s*(error_page|recursive_error_pages)\b/m);
    }
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
