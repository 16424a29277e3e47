/**
 * The service portal, generated at build time from the services the image's layers declare
 * (`LayerDef.services`, gathered in `plan.services`: the one place that defines them).
 *
 * Pages, in French and English, each self-contained (inline CSS and SVG, system fonts, no
 * external resource of any kind): `/` (the services), `/about/` (the kit) and the portal's own
 * error pages, `/clic/errors/404.<lang>.html` ("this page does not exist on the kit") and
 * `50x.<lang>.html` ("this service is not available at the moment"), which nginx serves with
 * the error's own status (404, 502…) for anything on the portal's server, the services it
 * proxies included (kiwix-serve down: the kit's 50x page, not nginx's bare 502). nginx serves
 * the language of the settings file (`index index.$clic_lang.html`); a link on each page
 * switches language and remembers it in a cookie.
 *
 * A few lines of inline script, so that each page stays a static build artifact and the
 * browser, not a shell script at boot, parses the kit's JSON and escapes it (textContent):
 * - the settings-file errors, written at boot to /run/clic/settings-errors.json, in a small box
 *   for the kit's admin below the services, in the page's language;
 * - a YunoHost app's card appears once /clic/apps-status.json says the app is installed;
 * - a service that declares its `availability` (kiwix: its catalog lists a book) has its card
 *   hidden until that check passes, retried for about a minute: the portal never links to a
 *   service that is down or empty;
 * - on an image with the kit admin page (kit-admin layer), "About this kit" links to it once
 *   ADMIN_STATE_PATH says it is on, and says how to turn it on otherwise.
 *
 *   const files = renderPortal({ services, address: '10.42.0.1', image: { … } });
 *   files['/var/www/clic-portal/index.fr.html'];
 */
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { GeneratedFiles, ServiceDef } from '../recipe/define.ts';
import type { Plan } from '../recipe/plan.ts';
import { hotspotVars } from './hotspot.ts';

export const WEB_ROOT = '/var/www/clic-portal';
/** The deployer's settings file, at the root of the FAT partition (firstboot layer). */
export const SETTINGS_FILE = 'clic-settings.txt';
export const LANGUAGES = ['fr', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

export interface PortalService extends ServiceDef {
  layer: string;
  /** A YunoHost app's card: shown only once the kit's app status says the app is installed. */
  app?: string;
  /** The icon's bytes, read from the layer's overlay; served as /clic/icons/<id>.<ext>. */
  iconFile?: { ext: 'svg' | 'png'; bytes: Uint8Array };
}

/** The kit admin page (kit-admin layer), and the path that answers 204 when it is on, 404 when
 *  it is off (no admin password hash in the settings), without asking for the password. */
export const ADMIN_PATH = '/clic/admin/';
export const ADMIN_STATE_PATH = '/clic/admin-state';

export interface PortalInput {
  services: readonly PortalService[];
  /** The image has the kit admin page (kit-admin layer): "About this kit" leads to it. */
  admin?: boolean;
  /** The kit's hotspot address: the portal's own URL is http://<address>/. */
  address: string;
  /** Language served when the settings file names none. */
  defaultLanguage?: Language;
  image: { name: string; description: string; board: string; suite: string; layers: readonly string[]; sourceDateEpoch: number; settingsFile: string };
}

/** Every text of the portal's pages, in each language (tests read the expected words here). */
export const T = {
  title: { fr: 'Services du kit', en: 'Services of this kit' },
  intro: {
    fr: 'Ce kit fonctionne sans Internet : tout ce que vous consultez ici reste sur le kit. Choisissez un service.',
    en: 'This kit works without the Internet: everything you open here stays on the kit. Pick a service.',
  },
  switchTo: { fr: 'English', en: 'Français' },
  continueText: {
    fr: 'Pour que votre appareil reste sur ce wifi et y ouvre les services, même sans Internet :',
    en: 'To keep your device on this wifi and open the services here, even without the Internet:',
  },
  continueButton: { fr: 'Continuer', en: 'Continue' },
  connected: {
    fr: 'C’est fait : votre appareil reste sur le wifi du kit. Les services sont ci-dessous.',
    en: 'Done: your device stays on the kit’s wifi. The services are below.',
  },
  servicesLabel: { fr: 'Services', en: 'Services' },
  none: { fr: 'Aucun service n’est installé sur ce kit.', en: 'No service is installed on this kit.' },
  errorsTitle: { fr: 'Le fichier de réglages contient des erreurs', en: 'The settings file has errors' },
  errorsText: {
    fr: 'Ces réglages ont été ignorés ; le kit utilise à leur place les valeurs précédentes ou par défaut. Corrigez-les dans le fichier',
    en: 'These settings were ignored; the kit uses the previous or default values instead. Fix them in the file',
  },
  appsTitle: { fr: 'Des applications n’ont pas pu être installées', en: 'Some apps could not be installed' },
  appsText: {
    fr: 'Le kit les a installées à son premier démarrage, sans réseau ; il réessaie au prochain démarrage. Détails dans /var/lib/clic/apps/ sur le kit.',
    en: 'The kit installed them at its first boot, with no network; it tries again at the next boot. Details in /var/lib/clic/apps/ on the kit.',
  },
  errorsWhere: { fr: 'sur la partition de démarrage (FAT) de la carte SD ou du disque du kit.', en: 'on the boot (FAT) partition of the kit’s SD card or disk.' },
  hidden: { fr: '(masquée)', en: '(hidden)' },
  value: { fr: 'valeur', en: 'value' },
  home: { fr: 'Retour aux services', en: 'Back to the services' },
  footer: { fr: 'Kit CLIC — serveur hors ligne', en: 'CLIC kit — offline server' },
  aboutTitle: { fr: 'À propos de ce kit', en: 'About this kit' },
  aboutWhat: {
    fr: 'Ce kit CLIC est un petit serveur qui fonctionne sans Internet. Il diffuse son propre réseau wifi ; chaque téléphone ou ordinateur qui le rejoint voit s’ouvrir ce portail, qui mène aux services du kit.',
    en: 'This CLIC kit is a small server that works without the Internet. It runs its own wifi network; every phone or computer that joins it is shown this portal, which leads to the kit’s services.',
  },
  aboutHowTitle: { fr: 'Se connecter', en: 'Getting connected' },
  aboutHow: {
    fr: 'Rejoignez le réseau wifi du kit. Si ce portail ne s’ouvre pas tout seul, ouvrez n’importe quelle adresse web dans le navigateur, ou celle du kit :',
    en: 'Join the kit’s wifi network. If this portal does not open by itself, open any web address in the browser, or the kit’s own:',
  },
  aboutSettingsTitle: { fr: 'Réglages', en: 'Settings' },
  aboutSettings: {
    fr: 'Le nom du réseau wifi, sa phrase de passe, le pays, le canal, le nom du kit, la langue et la clé SSH d’administration se règlent dans le fichier',
    en: 'The wifi network name, its passphrase, country, channel, the kit’s name, the language and the administrator’s SSH key are set in the file',
  },
  aboutSettingsEnd: {
    fr: 'sur la partition de démarrage (FAT) de la carte SD ou du disque du kit, depuis n’importe quel ordinateur ; ils s’appliquent au démarrage suivant.',
    en: 'on the boot (FAT) partition of the kit’s SD card or disk, from any computer; they apply at the next start.',
  },
  aboutTechTitle: { fr: 'Détails techniques', en: 'Technical details' },
  image: { fr: 'Image', en: 'Image' },
  board: { fr: 'Matériel', en: 'Board' },
  system: { fr: 'Système', en: 'System' },
  built: { fr: 'Construite le', en: 'Built on' },
  layers: { fr: 'Couches', en: 'Layers' },
  address: { fr: 'Adresse du portail', en: 'Portal address' },
  aboutAdminTitle: { fr: 'Administration', en: 'Administration' },
  aboutAdminOn: {
    fr: 'L’administrateur du kit change le wifi, le nom du kit, sa langue et sa clé SSH depuis un téléphone ou un ordinateur, sur',
    en: 'The kit’s administrator changes the wifi, the kit’s name, its language and its SSH key from a phone or a computer, on',
  },
  aboutAdminLink: { fr: 'la page d’administration du kit', en: 'the kit admin page' },
  aboutAdminOff: {
    fr: 'La page d’administration du kit est éteinte. Pour l’allumer, donnez une empreinte de mot de passe à admin_password_hash dans le fichier',
    en: 'The kit admin page is off. To turn it on, give a password hash to admin_password_hash in the file',
  },
  aboutAdminOffEnd: {
    fr: 'sur la partition de démarrage (FAT), depuis n’importe quel ordinateur (le fichier explique comment fabriquer cette empreinte) ; elle s’allume au démarrage suivant.',
    en: 'on the boot (FAT) partition, from any computer (the file explains how to make that hash); it turns on at the next start.',
  },
  notFoundTitle: { fr: 'Cette page n’existe pas sur le kit', en: 'This page does not exist on the kit' },
  notFoundText: {
    fr: 'L’adresse ouverte ne mène à aucune page de ce kit. Ses services sont sur la page d’accueil du portail.',
    en: 'The address you opened leads to no page of this kit. Its services are on the portal’s home page.',
  },
  unavailableTitle: { fr: 'Ce service n’est pas disponible pour le moment', en: 'This service is not available at the moment' },
  unavailableText: {
    fr: 'Il est peut-être encore en train de démarrer. Réessayez dans une minute en rechargeant cette page.',
    en: 'It may still be starting up. Try again in a minute by reloading this page.',
  },
} satisfies Record<string, Record<Language, string>>;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const onTheKit = (path: string) => /^\/(?!\/)[^\s"'<>\\]*$/.test(path);

/** A service path must stay on the kit: an absolute path (`/kiwix/`), never another host. */
export function checkServicePath(s: { id: string; layer: string; path: string }): void {
  if (!onTheKit(s.path)) {
    throw new Error(`service "${s.id}" of layer "${s.layer}": path "${s.path}" must be an absolute path on the kit (like /kiwix/): the portal links to nothing outside the kit`);
  }
}

/** A service's availability check asks the kit only (the portal page fetches it), for text it can find. */
export function checkAvailability(s: Pick<PortalService, 'id' | 'layer' | 'availability'>): void {
  if (!s.availability) return;
  const { url, contains } = s.availability;
  const where = `service "${s.id}" of layer "${s.layer}": availability`;
  if (typeof url !== 'string' || !onTheKit(url)) throw new Error(`${where} url "${url}" must be an absolute path on the kit (like /kiwix/catalog/v2/entries): the portal fetches nothing outside the kit`);
  if (contains !== undefined && (typeof contains !== 'string' || contains === '')) throw new Error(`${where}: contains must be a non-empty text (or left out: any successful answer)`);
}

const LOGO = `<svg class="logo" viewBox="0 0 48 48" width="40" height="40" aria-hidden="true" focusable="false"><circle cx="24" cy="38" r="4" fill="currentColor"/><path d="M12 27a17 17 0 0 1 24 0M6 20a26 26 0 0 1 36 0" fill="none" stroke="currentColor" stroke-width="4" stroke-linecap="round"/></svg>`;

const CSS = `
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--text:#1b1f24;--muted:#59636e;--accent:#0b6e4f;--line:#d9dee3;--warn-bg:#fff4e5;--warn-line:#d97706}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1b2027;--text:#eef1f4;--muted:#a3adb8;--accent:#4fd1a5;--line:#2d343d;--warn-bg:#3a2a12;--warn-line:#f59e0b}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--text);font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Ubuntu,Cantarell,"DejaVu Sans",sans-serif}
header{display:flex;align-items:center;justify-content:space-between;gap:1rem;padding:.75rem 1rem;background:var(--accent);color:#fff}
header .brand{display:flex;align-items:center;gap:.5rem;font-weight:700;font-size:1.25rem;color:inherit;text-decoration:none}
header .lang{color:#fff;border:1px solid rgba(255,255,255,.7);border-radius:999px;padding:.4rem .9rem;text-decoration:none;min-height:44px;display:inline-flex;align-items:center}
@media (prefers-color-scheme:dark){header{color:#0b1b14}header .lang{color:#0b1b14;border-color:rgba(0,0,0,.5)}}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.intro{color:var(--muted);margin:0 0 1rem}
.services{list-style:none;margin:0;padding:0;display:grid;gap:.75rem;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr))}
.services a{display:flex;gap:.9rem;align-items:flex-start;min-height:4.5rem;padding:1rem;background:var(--card);border:1px solid var(--line);border-radius:.75rem;color:inherit;text-decoration:none}
.services a:hover,.services a:focus-visible{border-color:var(--accent);outline:2px solid var(--accent);outline-offset:1px}
.services img,.services .initial{flex:none;width:3rem;height:3rem;border-radius:.6rem}
.services .initial{display:flex;align-items:center;justify-content:center;background:var(--accent);color:#fff;font-weight:700;font-size:1.4rem}
.services .name{display:block;font-weight:650;font-size:1.1rem}
.services .desc{display:block;color:var(--muted);font-size:.95rem}
.continue{background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:.75rem 1rem;margin:0 0 1rem}
.continue p{margin:0 0 .5rem}
.continue button{font:inherit;font-weight:650;min-height:48px;padding:.6rem 1.6rem;border:0;border-radius:999px;background:var(--accent);color:#fff;cursor:pointer}
@media (prefers-color-scheme:dark){.continue button{color:#0b1b14}}
.errors{background:var(--warn-bg);border:1px solid var(--warn-line);border-left-width:.4rem;border-radius:.5rem;padding:.75rem 1rem;margin:1.5rem 0 1rem;font-size:.9rem}
.errors h2{margin:0 0 .25rem;font-size:1rem}
.errors ul{margin:.5rem 0 0;padding-left:1.2rem}
.errors code,.about code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.95em;overflow-wrap:anywhere}
.about dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
.about dt{color:var(--muted)}
.about dd{margin:0;overflow-wrap:anywhere}
a{color:var(--accent)}
footer{max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:var(--muted);font-size:.9rem}
[hidden]{display:none!important}
`.trim();

/** Checks of a service's `availability`: the first when the page loads, then every
 *  CHECK_RETRY_MS until one passes, CHECK_TRIES in all (about a minute: a kit that just
 *  booted, a service restarting); a visitor coming back later reloads the page. */
export const CHECK_TRIES = 6;
export const CHECK_RETRY_MS = 10_000;

/** Inline script (every answer's body is read, errors' included: a browser keeps an unread one
 *  open, and a page that never goes idle keeps a captive popup loading): after "Continue", says the device is connected; shows the settings errors
 *  the kit found at boot and the apps that failed (empty or missing: nothing); shows an app's
 *  card once it is installed, and a service's card once its availability check passes. */
function portalScript(lang: Language): string {
  const words = JSON.stringify({ hidden: T.hidden[lang], value: T.value[lang], message: lang === 'en' ? 'message' : `message_${lang}` });
  return `(function(){if(typeof location==='undefined'||!/[?&]connected\\b/.test(location.search))return;var f=document.getElementById('continue-form'),c=document.getElementById('connected');if(f&&c){f.hidden=true;c.hidden=false}})();
(function(){var box=document.getElementById('settings-errors');if(!box||!window.fetch)return;var w=${words};
fetch('/clic/settings-errors.json',{cache:'no-store'}).then(function(r){return r.ok?r.json():r.text().then(function(){return []})}).then(function(list){
if(!Array.isArray(list)||!list.length)return;var ul=box.querySelector('ul');
list.forEach(function(e){if(!e||typeof e!=='object')return;var li=document.createElement('li');var k=document.createElement('code');k.textContent=String(e.key||'?');li.appendChild(k);
li.appendChild(document.createTextNode(' : '+String(e[w.message]||e.message||'')));
if(e.value!==undefined&&e.value!==null&&String(e.value)!==''){var secret=/pass|secret|password|psk/i.test(String(e.key));li.appendChild(document.createTextNode(' ('+w.value+' '+(secret?w.hidden:'\\u201c'+String(e.value)+'\\u201d')+')'))}
ul.appendChild(li)});box.hidden=false}).catch(function(){})})();
(function(){var box=document.getElementById('apps-failed');if(!box||!window.fetch)return;
fetch('/clic/apps-status.json',{cache:'no-store'}).then(function(r){return r.ok?r.json():r.text().then(function(){return null})}).then(function(s){
var all=s&&Array.isArray(s.apps)?s.apps:[];if(document.querySelectorAll)all.forEach(function(a){if(!a||a.state!=='installed')return;
Array.prototype.forEach.call(document.querySelectorAll('li[data-app]'),function(li){if(li.getAttribute('data-app')===String(a.id))li.hidden=false})});
var apps=all.filter(function(a){return a&&a.state==='failed'});if(!apps.length)return;var ul=box.querySelector('ul');
apps.forEach(function(a){var li=document.createElement('li');var k=document.createElement('code');k.textContent=String(a.id||'?');li.appendChild(k);
if(a.message)li.appendChild(document.createTextNode(' : '+String(a.message)));ul.appendChild(li)});box.hidden=false}).catch(function(){})})();
(function(){if(!window.fetch||!document.querySelectorAll)return;
Array.prototype.forEach.call(document.querySelectorAll('li[data-check]'),function(li){var url=li.getAttribute('data-check'),want=li.getAttribute('data-check-contains')||'',tries=0;
(function check(){tries++;fetch(url,{cache:'no-store'}).then(function(r){return r.text().then(function(body){if(!r.ok||String(body).indexOf(want)<0)throw 'absent';li.hidden=false})})
.catch(function(){if(tries<${CHECK_TRIES})setTimeout(check,${CHECK_RETRY_MS})})})()})})();`;
}

/** A page of the portal, with its look (header, language switch, footer); `style` adds CSS rules. */
export function page(lang: Language, opts: { title: string; path: string; body: string; script?: string; style?: string }): string {
  const other = lang === 'fr' ? 'en' : 'fr';
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(opts.title)}</title>
<link rel="icon" href="data:,">
<style>${CSS}${opts.style ? `\n${opts.style}` : ''}</style>
</head>
<body>
<header><a class="brand" href="/">${LOGO}<span>CLIC</span></a><a class="lang" href="/clic/lang/${other}${opts.path}" hreflang="${other}" lang="${other}">${T.switchTo[lang]}</a></header>
<main>
${opts.body}
</main>
<footer>${escapeHtml(T.footer[lang])}</footer>
${opts.script ? `<script>${opts.script}</script>\n` : ''}</body>
</html>
`;
}

/** A card's attributes that keep it hidden until the script finds its service there: an app's
 *  waits for the kit's app status, a service with an availability check for that check; never
 *  a link to an app that is not installed, a service that is down or one that is empty. */
function cardGate(s: PortalService): string {
  if (s.app) return ` data-app="${escapeHtml(s.app)}" hidden`;
  if (s.availability) {
    const contains = s.availability.contains ? ` data-check-contains="${escapeHtml(s.availability.contains)}"` : '';
    return ` data-check="${escapeHtml(s.availability.url)}"${contains} hidden`;
  }
  return '';
}

function servicesPage(lang: Language, input: PortalInput): string {
  const items = input.services.map((s) => {
    const icon = s.iconFile
      ? `<img src="/clic/icons/${escapeHtml(s.id)}.${s.iconFile.ext}" alt="" width="48" height="48">`
      : `<span class="initial" aria-hidden="true">${escapeHtml([...s.name[lang]][0]?.toUpperCase() ?? '?')}</span>`;
    const li = `<li${cardGate(s)}>`;
    return `${li}<a href="${escapeHtml(s.path)}" data-service="${escapeHtml(s.id)}">${icon}<span><span class="name">${escapeHtml(s.name[lang])}</span><span class="desc">${escapeHtml(s.description[lang])}</span></span></a></li>`;
  });
  const body = [
    `<h1>${T.title[lang]}</h1>`,
    `<p class="intro">${T.intro[lang]}</p>`,
    // the captive portal's "Continue" (captive-portal layer): this device's probes then get their "online" answer
    `<section class="continue"><form id="continue-form" method="post" action="/clic/continue"><p>${T.continueText[lang]}</p><button type="submit" data-continue>${T.continueButton[lang]}</button></form><p id="connected" role="status" hidden>${T.connected[lang]}</p></section>`,
    items.length ? `<ul class="services" aria-label="${T.servicesLabel[lang]}">\n${items.join('\n')}\n</ul>` : `<p>${T.none[lang]}</p>`,
    // for the kit's admin, below the services: the visitor came for those
    `<section id="settings-errors" class="errors admin" hidden><h2>${T.errorsTitle[lang]}</h2><p>${T.errorsText[lang]} <code>${escapeHtml(input.image.settingsFile)}</code> ${T.errorsWhere[lang]}</p><ul></ul></section>`,
    // filled from /clic/apps-status.json, which only a kit with YunoHost apps serves (yunohost layer)
    `<section id="apps-failed" class="errors admin" hidden><h2>${T.appsTitle[lang]}</h2><p>${T.appsText[lang]}</p><ul></ul></section>`,
  ].join('\n');
  return page(lang, { title: `CLIC — ${T.title[lang]}`, path: '/', body, script: portalScript(lang) });
}

function aboutPage(lang: Language, input: PortalInput): string {
  const { image } = input;
  const built = new Date(image.sourceDateEpoch * 1000).toISOString().slice(0, 10);
  const portal = `http://${input.address}/`;
  const row = (k: string, v: string) => `<dt>${k}</dt><dd>${v}</dd>`;
  const body = [
    `<div class="about">`,
    `<h1>${T.aboutTitle[lang]}</h1>`,
    `<p>${T.aboutWhat[lang]}</p>`,
    `<h2>${T.aboutHowTitle[lang]}</h2>`,
    `<p>${T.aboutHow[lang]} <a href="/"><code>${escapeHtml(portal)}</code></a></p>`,
    `<h2>${T.aboutSettingsTitle[lang]}</h2>`,
    `<p>${T.aboutSettings[lang]} <code>${escapeHtml(image.settingsFile)}</code> ${T.aboutSettingsEnd[lang]}</p>`,
    `<h2>${T.aboutTechTitle[lang]}</h2>`,
    '<dl>',
    row(T.image[lang], `${escapeHtml(image.name)} — ${escapeHtml(image.description)}`),
    row(T.board[lang], escapeHtml(image.board)),
    row(T.system[lang], `Debian ${escapeHtml(image.suite)}`),
    row(T.built[lang], built),
    row(T.layers[lang], escapeHtml(image.layers.join(', '))),
    row(T.address[lang], `<code>${escapeHtml(portal)}</code>`),
    '</dl>',
    ...(input.admin ? aboutAdmin(lang, image.settingsFile) : []),
    `<p><a href="/">${T.home[lang]}</a></p>`,
    `</div>`,
  ].join('\n');
  return page(lang, { title: `CLIC — ${T.aboutTitle[lang]}`, path: '/about/', body, script: input.admin ? ADMIN_STATE_SCRIPT : undefined });
}

/** "About this kit" on an image with the kit admin page: a link to it once it answers that it
 *  is on, how to turn it on once it answers that it is off; nothing when it cannot tell. */
function aboutAdmin(lang: Language, settingsFile: string): string[] {
  return [
    `<h2>${T.aboutAdminTitle[lang]}</h2>`,
    `<p id="admin-on" hidden>${T.aboutAdminOn[lang]} <a href="${ADMIN_PATH}">${T.aboutAdminLink[lang]}</a>.</p>`,
    `<p id="admin-off" hidden>${T.aboutAdminOff[lang]} <code>${escapeHtml(settingsFile)}</code> ${T.aboutAdminOffEnd[lang]}</p>`,
  ];
}

const ADMIN_STATE_SCRIPT = `(function(){if(!window.fetch)return;fetch('${ADMIN_STATE_PATH}',{cache:'no-store'}).then(function(r){return r.text().then(function(){
var id=r.status===204?'admin-on':r.status===404?'admin-off':'';var p=id&&document.getElementById(id);if(p)p.hidden=false})}).catch(function(){})})();`;

/** Where the portal's error pages live on its site: only nginx's error_page reaches them. */
export const ERRORS_PATH = '/clic/errors';

/** The portal's own error pages (`<ERRORS_PATH>/<name>.<lang>.html`), each with the status codes
 *  nginx answers with it. 403 is nginx's answer for a folder without a page (`/clic/icons/`):
 *  for a visitor, a page that does not exist either. */
export const ERROR_PAGES = {
  '404': { codes: [403, 404], title: 'notFoundTitle', text: 'notFoundText' },
  '50x': { codes: [500, 502, 503, 504], title: 'unavailableTitle', text: 'unavailableText' },
} as const satisfies Record<string, { codes: readonly number[]; title: keyof typeof T; text: keyof typeof T }>;
export type ErrorPageName = keyof typeof ERROR_PAGES;

function errorPage(lang: Language, name: ErrorPageName): string {
  const { title, text } = ERROR_PAGES[name];
  const body = [`<h1>${T[title][lang]}</h1>`, `<p class="intro">${T[text][lang]}</p>`, `<p><a href="/">${T.home[lang]}</a></p>`].join('\n');
  // served at whatever address failed, unknown here: the language switch leads to the services
  // in the other language (/clic/lang/<other>/), never back to the failing address
  return page(lang, { title: `CLIC — ${T[title][lang]}`, path: '/', body });
}

export function portalNginx(address: string, defaultLanguage: Language): string {
  return [
    '# Service portal (clic-image, layer portal): the kit\'s own pages, in French and English.',
    '# The language: a visitor\'s choice (cookie set by /clic/lang/<lang>/<page>), otherwise the',
    '# settings file\'s, which /usr/lib/clic/portal-setup writes at boot in /run/clic/portal/.',
    'map $cookie_clic_lang $clic_lang {',
    '    default $clic_settings_lang;',
    ...LANGUAGES.map((l) => `    ${l} ${l};`),
    '}',
    '',
    'server {',
    '    listen 80;',
    '    listen [::]:80;',
    '    # the kit by its hotspot address, or by any address it has (a wired network, a test\'s',
    '    # port forward); other names go to the captive portal\'s redirect',
    `    server_name ${address} localhost "~^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$";`,
    `    root ${WEB_ROOT};`,
    '    absolute_redirect off;',
    '    # no nginx version in error pages and headers, for anyone on the hotspot',
    '    server_tokens off;',
    '    charset utf-8;',
    `    set $clic_settings_lang ${defaultLanguage};`,
    '    include /run/clic/portal/nginx-lang*.conf;',
    '    index index.$clic_lang.html;',
    '    add_header Cache-Control "no-cache";',
    '    add_header Vary "Cookie";',
    '    # the portal\'s own error pages, in the visitor\'s language, for the services it proxies too',
    '    # (kiwix-serve down: its 502); the status stays the error\'s. An error while serving one',
    '    # gets nginx\'s plain page (recursive_error_pages is off): never a loop',
    ...Object.entries(ERROR_PAGES).map(([name, { codes }]) => `    error_page ${codes.join(' ')} ${ERRORS_PATH}/${name}.$clic_lang.html;`),
    `    location ^~ ${ERRORS_PATH}/ {`,
    '        internal;',
    '        # a 50x page must not stay in a cache once the service is back',
    '        add_header Cache-Control "no-store" always;',
    '        add_header Vary "Cookie" always;',
    '    }',
    '    location / {',
    '    }',
    `    # the locations of services that other layers serve through the portal (e.g. /kiwix/)`,
    `    include ${SERVICE_LOCATIONS}/*.conf;`,
    '    location = /clic/settings-errors.json {',
    '        root /run;',
    '        default_type application/json;',
    '        add_header Cache-Control "no-store";',
    '    }',
    // the page to go back to is a path of this site: "//host/…" or "/\\host/…" would send the
    // browser away (\x5c: a backslash for PCRE; nginx would unescape a doubled one first)
    `    location ~ ^/clic/lang/(${LANGUAGES.join('|')})(/|/[^/\\x5c].*)$ {`,
    '        add_header Set-Cookie "clic_lang=$1; Path=/; Max-Age=31536000; SameSite=Lax";',
    '        return 302 $2;',
    '    }',
    '}',
    '',
  ].join('\n');
}

/** An app's install path as a portal link (`/wiki` → `/wiki/`), or null for none or the root. */
export function appPortalPath(path: string | undefined): string | null {
  if (!path || !/^\/[A-Za-z0-9._~\/-]*$/.test(path) || /\/\//.test(path)) return null;
  const trimmed = path.replace(/\/+$/, '');
  return trimmed ? `${trimmed}/` : null;
}

/** Folder where a layer puts the nginx `location` blocks of the services it serves on the portal. */
export const SERVICE_LOCATIONS = '/etc/nginx/clic-services';

/** Every file of the portal: pages (error pages included) in both languages, icons, nginx site. Pure. */
export function renderPortal(input: PortalInput): GeneratedFiles {
  const ids = new Set<string>();
  for (const s of input.services) {
    checkServicePath(s);
    checkAvailability(s);
    if (!/^[a-z0-9][a-z0-9-]*$/.test(s.id)) throw new Error(`service "${s.id}" of layer "${s.layer}": id must be lower-case letters, digits and dashes`);
    if (ids.has(s.id)) throw new Error(`service "${s.id}" is declared twice`);
    ids.add(s.id);
  }
  const files: GeneratedFiles = {};
  for (const lang of LANGUAGES) {
    files[`${WEB_ROOT}/index.${lang}.html`] = servicesPage(lang, input);
    files[`${WEB_ROOT}/about/index.${lang}.html`] = aboutPage(lang, input);
    for (const name of Object.keys(ERROR_PAGES) as ErrorPageName[]) files[`${WEB_ROOT}${ERRORS_PATH}/${name}.${lang}.html`] = errorPage(lang, name);
  }
  for (const s of input.services) if (s.iconFile) files[`${WEB_ROOT}/clic/icons/${s.id}.${s.iconFile.ext}`] = s.iconFile.bytes;
  files['/etc/nginx/sites-available/clic-portal'] = portalNginx(input.address, input.defaultLanguage ?? 'en');
  return files;
}

/** The portal layer's generator: services and icons from the plan (icons from the layers' overlays). */
export async function portalFiles(plan: Plan): Promise<GeneratedFiles> {
  const services: PortalService[] = [];
  for (const s of plan.services) {
    let iconFile: PortalService['iconFile'];
    if (s.icon) {
      const overlay = plan.layers.find((l) => l.name === s.layer)?.overlay;
      const ext = extname(s.icon).slice(1).toLowerCase();
      if (!overlay || (ext !== 'svg' && ext !== 'png')) throw new Error(`service "${s.id}" of layer "${s.layer}": icon "${s.icon}" must be an .svg or .png file in overlays/${s.layer}/`);
      iconFile = { ext, bytes: await readFile(join(overlay, s.icon)) };
    }
    services.push({ ...s, iconFile });
  }
  // the YunoHost apps the image installs at first boot, each at its path (the apps layer sends
  // the browser on to YunoHost's domain there); apps at a domain's root are in YunoHost's portal
  for (const app of plan.apps?.resolved ?? []) {
    const path = appPortalPath(app.args.path);
    if (!path) continue;
    services.push({
      id: `app-${app.id.replace(/_/g, '-')}`,
      layer: plan.apps!.layer,
      app: app.id,
      name: { fr: app.name, en: app.name },
      description: { fr: 'Application du kit', en: 'An app of this kit' },
      path,
    });
  }
  // the settings' default language comes from the firstboot layer's variable, when it has one
  const language = plan.layers.find((l) => l.name === 'firstboot')?.vars.language;
  return renderPortal({
    services,
    admin: plan.layers.some((l) => l.name === 'kit-admin'),
    address: String(hotspotVars(plan).address),
    defaultLanguage: LANGUAGES.find((l) => l === language) ?? 'en',
    image: {
      name: plan.image,
      description: plan.description,
      board: `${plan.board.name} (${plan.board.description})`,
      suite: plan.suite,
      layers: plan.layers.map((l) => l.name),
      // generators run once the build is dated (after the packages step)
      sourceDateEpoch: plan.sourceDateEpoch ?? 0,
      settingsFile: SETTINGS_FILE,
    },
  });
}
