/**
 * The kit admin page (kit-admin layer), generated at build time in French and English with the
 * portal's look (`page()` of pages.ts): the settings form (wifi name, passphrase or open network,
 * country, channel, the kit's name, the portal's language, the admin SSH key), each field with
 * what it takes in the words of clic-settings' own messages, the devices on the wifi with the
 * hardware's known limit, and the result of the last change. A short inline script loads
 * GET /clic/admin/api, posts the form there (URL-encoded) and follows the change until the kit
 * says it is applied; it puts the kit's answers in the page as text only (textContent). No
 * external resource; readable on a phone. Also the page nginx shows when the admin's password
 * is missing or wrong (401).
 *
 *   adminPage('fr');   // the HTML of /clic/admin/index.fr.html
 */
import { ADMIN_PATH, escapeHtml, page, T, type Language } from './pages.ts';

export const ADMIN_API = `${ADMIN_PATH}api`;

/** Every text of the admin page, in each language (tests read the expected words here). */
export const A = {
  title: { fr: 'Administration du kit', en: 'Kit administration' },
  intro: {
    fr: 'Ces réglages sont enregistrés dans le fichier clic-settings.txt de la partition de démarrage (FAT) du kit, celui qu’on modifie aussi depuis un ordinateur, puis appliqués tout de suite.',
    en: 'These settings are saved in the file clic-settings.txt on the kit’s boot (FAT) partition, the one you can also edit from a computer, and applied at once.',
  },
  noscript: { fr: 'Cette page a besoin de JavaScript.', en: 'This page needs JavaScript.' },
  loading: { fr: 'Lecture des réglages du kit…', en: 'Reading the kit’s settings…' },
  loadFailed: { fr: 'Les réglages du kit n’ont pas pu être lus : rechargez la page.', en: 'The kit’s settings could not be read: reload the page.' },
  warnOpen: {
    fr: 'Le wifi du kit est ouvert : le mot de passe de cette page et ces réglages passent dans l’air en clair, lisibles par un appareil proche. Donnez un mot de passe au wifi ci-dessous.',
    en: 'The kit’s wifi is open: this page’s password and these settings cross the air in the clear, readable by a device nearby. Give the wifi a passphrase below.',
  },
  hotspotNone: { fr: 'Le wifi du kit est éteint : aucune carte wifi n’a été trouvée.', en: 'The kit’s wifi is off: no wifi hardware was found.' },
  hotspotRefused: { fr: 'Le wifi du kit est éteint : son mot de passe est invalide. Donnez-en un valide ci-dessous.', en: 'The kit’s wifi is off: its passphrase is invalid. Give a valid one below.' },
  clientsTitle: { fr: 'Appareils connectés', en: 'Connected devices' },
  clientsNow: { fr: 'Sur le wifi du kit en ce moment :', en: 'On the kit’s wifi now:' },
  clientsLeases: { fr: '(d’après les adresses données récemment : certains sont peut-être partis)', en: '(from the addresses handed out recently: some may have left)' },
  limitBefore: { fr: 'Limite de ce matériel : environ', en: 'Limit of this hardware: about' },
  limitAfter: { fr: 'appareils à la fois sur son wifi.', en: 'devices at once on its wifi.' },
  limitUnknown: { fr: 'Limite de ce matériel : inconnue (pas mesurée pour sa carte wifi).', en: 'Limit of this hardware: unknown (not measured for its wifi radio).' },
  settingsTitle: { fr: 'Réglages', en: 'Settings' },
  wifi: { fr: 'Wifi', en: 'Wifi' },
  kit: { fr: 'Kit', en: 'Kit' },
  passSet: { fr: 'Un mot de passe est défini.', en: 'A passphrase is set.' },
  passNone: { fr: 'Aucun mot de passe : le réseau est ouvert.', en: 'No passphrase: the network is open.' },
  passRefused: {
    fr: 'Le mot de passe du fichier de réglages est invalide : le wifi est éteint. Donnez-en un nouveau, ou cochez « réseau ouvert ».',
    en: 'The passphrase in the settings file is invalid: the wifi is off. Give a new one, or tick "open network".',
  },
  keyNow: { fr: 'Clé actuelle :', en: 'Current key:' },
  keyNone: { fr: 'Aucune clé pour le moment.', en: 'No key at the moment.' },
  save: { fr: 'Enregistrer et appliquer', en: 'Save and apply' },
  sending: { fr: 'Envoi…', en: 'Sending…' },
  applying: { fr: 'Le kit applique les réglages…', en: 'The kit is applying the settings…' },
  wifiRestart: {
    fr: 'Le wifi va redémarrer : cet appareil sera déconnecté un moment ; rejoignez le réseau du kit (sous son nouveau nom si vous l’avez changé), puis revenez sur cette page.',
    en: 'The wifi is about to restart: this device will be disconnected for a moment; join the kit’s network again (by its new name if you changed it), then come back to this page.',
  },
  lost: {
    fr: 'Plus de réponse du kit : si le wifi a changé, rejoignez son réseau, puis rechargez cette page.',
    en: 'No answer from the kit: if the wifi changed, join its network again, then reload this page.',
  },
  denied: { fr: 'Mot de passe refusé : rechargez la page pour vous identifier à nouveau.', en: 'Password refused: reload the page to log in again.' },
  busy: { fr: 'Trop de demandes à la fois : attendez une minute et réessayez.', en: 'Too many requests at once: wait a minute and try again.' },
  refused: { fr: 'Le kit a refusé la demande ; rien n’a été changé :', en: 'The kit refused the request; nothing was changed:' },
  resultTitle: { fr: 'Dernière modification', en: 'Last change' },
  loginTitle: { fr: 'Identification nécessaire', en: 'Login needed' },
  loginText: {
    fr: 'Cette page est réservée à l’administrateur du kit : identifiant admin, et le mot de passe dont l’empreinte est écrite dans le fichier clic-settings.txt (admin_password_hash). Le mot de passe du wifi ne suffit pas.',
    en: 'This page is for the kit’s administrator: user name admin, and the password whose hash is written in the file clic-settings.txt (admin_password_hash). The wifi passphrase is not enough.',
  },
} satisfies Record<string, Record<Language, string>>;

/** A field of the form: its label, and what it takes. `rule` is in the very words of
 *  clic-settings' message for a value it refuses (a test holds them to it); `more` is the
 *  page's own. */
interface Field {
  name: string;
  label: Record<Language, string>;
  rule?: Record<Language, string>;
  more?: Record<Language, string>;
}

export const FIELDS = {
  wifi_ssid: {
    name: 'wifi_ssid',
    label: { fr: 'Nom du réseau wifi', en: 'Wifi network name' },
    rule: { fr: 'au plus 32 octets (une lettre accentuée en prend 2 ou plus)', en: 'at most 32 bytes (an accented letter takes 2 or more)' },
  },
  wifi_passphrase: {
    name: 'wifi_passphrase',
    label: { fr: 'Nouveau mot de passe du wifi', en: 'New wifi passphrase' },
    rule: {
      fr: '8 à 63 caractères ASCII simples (lettres sans accents, chiffres, espaces, ponctuation)',
      en: '8 to 63 plain ASCII characters (letters without accents, digits, spaces, punctuation)',
    },
    more: { fr: 'Vide : le mot de passe actuel reste.', en: 'Empty: the current passphrase stays.' },
  },
  wifi_open: { name: 'wifi_open', label: { fr: 'Réseau ouvert, sans mot de passe', en: 'Open network, no passphrase' } },
  wifi_country: {
    name: 'wifi_country',
    label: { fr: 'Pays', en: 'Country' },
    rule: { fr: 'un code pays ISO 3166 de deux lettres, comme FR, BE, CH, SN, CM ou CA', en: 'a two-letter ISO 3166 country code, such as FR, BE, CH, SN, CM or CA' },
    more: { fr: 'Il fixe les canaux et puissances autorisés par la loi de ce pays.', en: 'It sets the channels and power the law of that country allows.' },
  },
  wifi_channel: {
    name: 'wifi_channel',
    label: { fr: 'Canal', en: 'Channel' },
    rule: { fr: 'un canal wifi 2,4 GHz, un nombre de 1 à 13', en: 'a 2.4 GHz wifi channel, a number from 1 to 13' },
    more: { fr: 'Choisissez 1, 6 ou 11 si d’autres wifi sont proches.', en: 'Pick 1, 6 or 11 when other wifi networks are near.' },
  },
  hostname: {
    name: 'hostname',
    label: { fr: 'Nom du kit sur le réseau', en: 'Name of the kit on the network' },
    rule: {
      fr: 'un nom de machine : 1 à 63 lettres (a-z), chiffres ou tirets, sans tiret au début ni à la fin',
      en: 'a host name: 1 to 63 letters (a-z), digits or dashes, not starting or ending with a dash',
    },
  },
  language: { name: 'language', label: { fr: 'Langue du portail', en: 'Language of the portal' } },
  admin_ssh_key: {
    name: 'admin_ssh_key',
    label: { fr: 'Nouvelle clé SSH d’administration', en: 'New admin SSH key' },
    rule: {
      fr: 'une ligne de clé publique OpenSSH, comme dans un fichier .pub (ssh-ed25519 AAAA… nom)',
      en: 'one OpenSSH public key line, as in a .pub file (ssh-ed25519 AAAA… name)',
    },
    more: { fr: 'Elle donne l’accès root par SSH. Vide : la clé actuelle reste.', en: 'It gives root access by SSH. Empty: the current key stays.' },
  },
  admin_ssh_key_remove: { name: 'admin_ssh_key_remove', label: { fr: 'Retirer la clé actuelle', en: 'Remove the current key' } },
} as const satisfies Record<string, Field>;

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function hint(lang: Language, f: Field): string {
  const words = [f.rule ? `${capital(f.rule[lang])}.` : '', f.more?.[lang] ?? ''].filter(Boolean).join(' ');
  return words ? `<span class="hint" id="${f.name}-hint">${escapeHtml(words)}</span>` : '';
}

function input(lang: Language, f: Field, attrs: string, after = ''): string {
  const described = f.rule || f.more ? ` aria-describedby="${f.name}-hint"` : '';
  return `<div class="field"><label for="${f.name}">${escapeHtml(f.label[lang])}</label><input id="${f.name}" name="${f.name}" ${attrs}${described}>${hint(lang, f)}${after}</div>`;
}

function checkbox(lang: Language, f: Field): string {
  return `<div class="field check"><input type="checkbox" id="${f.name}" name="${f.name}" value="1"><label for="${f.name}">${escapeHtml(f.label[lang])}</label></div>`;
}

function select(lang: Language, f: Field, options: [string, string][]): string {
  const opts = options.map(([value, text]) => `<option value="${escapeHtml(value)}">${escapeHtml(text)}</option>`).join('');
  return `<div class="field"><label for="${f.name}">${escapeHtml(f.label[lang])}</label><select id="${f.name}" name="${f.name}"${f.rule || f.more ? ` aria-describedby="${f.name}-hint"` : ''}>${opts}</select>${hint(lang, f)}</div>`;
}

export const ADMIN_CSS = `
.panel{background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:.75rem 1rem;margin:0 0 1rem}
.panel h2{margin:0 0 .5rem}
fieldset{border:0;padding:0;margin:0 0 1rem}
legend{font-weight:650;font-size:1.05rem;padding:0;margin:0 0 .5rem}
.field{margin:0 0 .9rem}
.field label{display:block;font-weight:600}
.field input[type=text],.field input[type=password],.field select{display:block;width:100%;font:inherit;min-height:44px;padding:.4rem .6rem;margin:.2rem 0;border:1px solid var(--line);border-radius:.5rem;background:var(--bg);color:inherit}
.field.check{display:flex;gap:.6rem;align-items:center;min-height:44px}
.field.check input{width:1.4rem;height:1.4rem;margin:0}
.field.check label{font-weight:400}
.hint,.now{display:block;color:var(--muted);font-size:.9rem}
.panel button{font:inherit;font-weight:650;min-height:48px;padding:.6rem 1.6rem;border:0;border-radius:999px;background:var(--accent);color:#fff;cursor:pointer}
.panel button:disabled{opacity:.6}
@media (prefers-color-scheme:dark){.panel button{color:#0b1b14}}
.clients{margin:.5rem 0 0;padding-left:1.2rem;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.9rem;overflow-wrap:anywhere}
.result.ok{border-left:.4rem solid var(--accent)}
.result.refused,.result.failed{border-left:.4rem solid var(--warn-line);background:var(--warn-bg)}
.result code{font-family:ui-monospace,"DejaVu Sans Mono",monospace}
`.trim();

/** Inline script: loads the settings and the clients, posts the form, follows the change. */
function adminScript(lang: Language): string {
  const pick = (keys: (keyof typeof A)[]) => Object.fromEntries(keys.map((k) => [k, A[k][lang]]));
  const words = JSON.stringify({
    ...pick(['loadFailed', 'passSet', 'passNone', 'passRefused', 'keyNow', 'keyNone', 'sending', 'applying', 'wifiRestart', 'lost', 'denied', 'busy', 'refused']),
    message: lang === 'en' ? 'message' : `message_${lang}`,
  });
  return `(function(){var w=${words},api='${ADMIN_API}',f=document.getElementById('admin-form');
if(!f||!window.fetch||!window.URLSearchParams||!window.FormData)return;
function el(id){return document.getElementById(id)}
function msg(o){return String(o&&(o[w.message]||o.message)||'')}
var loaded={};
function fill(s){['hostname','wifi_ssid','wifi_country','wifi_channel','language'].forEach(function(k){if(s[k]!==undefined&&s[k]!==null&&s[k]!=='')f.elements[k].value=String(s[k])});
f.elements.wifi_passphrase.value='';f.elements.admin_ssh_key.value='';f.elements.wifi_open.checked=false;f.elements.admin_ssh_key_remove.checked=false;
el('pass-state').textContent=s.wifi_refused?w.passRefused:s.wifi_passphrase_set?w.passSet:w.passNone;
el('key-state').textContent=s.admin_ssh_key_fingerprint?w.keyNow+' '+String(s.admin_ssh_key_fingerprint):w.keyNone;
el('warn-open').hidden=!!s.wifi_passphrase_set||!!s.wifi_refused}
function show(d){var c=d.clients||{},ul=el('clients');ul.textContent='';el('clients-count').textContent=String(c.count||0);el('clients-leases').hidden=c.source!=='leases';
(c.list||[]).forEach(function(x){var li=document.createElement('li');li.textContent=[x.name,x.ip,x.mac].filter(function(v){return v}).join(' \\u2014 ');ul.appendChild(li)});
var l=d.limit||{},known=typeof l.clients==='number';el('limit-known').hidden=!known;el('limit-unknown').hidden=known;if(known)el('limit-n').textContent=String(l.clients);
var h=d.hotspot||{};el('hotspot-none').hidden=h.state!=='none';el('hotspot-refused').hidden=h.state!=='refused'}
function result(r){if(!r||!r.state)return;var box=el('result'),ul=el('result-problems');box.hidden=false;box.className='panel result '+String(r.state);
el('result-message').textContent=msg(r);ul.textContent='';(r.problems||[]).forEach(function(p){var li=document.createElement('li');
if(p.key){var k=document.createElement('code');k.textContent=String(p.key);li.appendChild(k);li.appendChild(document.createTextNode(' : '))}
li.appendChild(document.createTextNode(msg(p)));ul.appendChild(li)})}
function say(t){result({state:'applying',message:t,message_fr:t})}
function load(){return fetch(api,{cache:'no-store',credentials:'same-origin'}).then(function(r){if(!r.ok)return r.text().then(function(){throw r.status});return r.json()})}
load().then(function(d){loaded=d.settings||{};fill(loaded);show(d);result(d.last);el('load-state').hidden=true}).catch(function(){el('load-state').textContent=w.loadFailed});
function wifiChanged(){return f.elements.wifi_passphrase.value!==''||f.elements.wifi_open.checked||['wifi_ssid','wifi_country','wifi_channel'].some(function(k){return f.elements[k].value!==String(loaded[k]===undefined||loaded[k]===null?'':loaded[k])})}
function follow(id,n){setTimeout(function(){load().then(function(d){show(d);if(d.last&&d.last.id===id&&d.last.state!=='applying'){result(d.last);if(d.last.state==='ok'){loaded=d.settings||loaded;fill(loaded)}}
else if(n<40)follow(id,n+1)}).catch(function(){say(w.lost);if(n<40)follow(id,n+1)})},3000)}
f.addEventListener('submit',function(e){e.preventDefault();var wifi=wifiChanged(),b=f.querySelector('button');b.disabled=true;say(w.sending);
fetch(api,{method:'POST',credentials:'same-origin',body:new URLSearchParams(new FormData(f))}).then(function(r){return r.json().catch(function(){return {}}).then(function(j){return {s:r.status,j:j}})})
.then(function(x){b.disabled=false;if(x.s===202&&x.j.id){say(w.applying+(wifi?' '+w.wifiRestart:''));follow(x.j.id,0);return}
var t=x.s===401?w.denied:x.s===429?w.busy:w.refused;result({state:'refused',message:t,message_fr:t,problems:x.j.problems||[]})})
.catch(function(){b.disabled=false;say(w.lost)})})})();`;
}

export function adminPage(lang: Language): string {
  const F = FIELDS;
  const channels: [string, string][] = Array.from({ length: 13 }, (_, i) => [String(i + 1), String(i + 1)]);
  const body = [
    `<h1>${A.title[lang]}</h1>`,
    `<p class="intro">${A.intro[lang]}</p>`,
    `<noscript><p class="errors">${A.noscript[lang]}</p></noscript>`,
    `<p id="load-state" role="status">${A.loading[lang]}</p>`,
    `<p id="warn-open" class="errors" hidden>${A.warnOpen[lang]}</p>`,
    `<p id="hotspot-none" class="errors" hidden>${A.hotspotNone[lang]}</p>`,
    `<p id="hotspot-refused" class="errors" hidden>${A.hotspotRefused[lang]}</p>`,
    `<section id="result" class="panel result" role="status" aria-live="polite" hidden><h2>${A.resultTitle[lang]}</h2><p id="result-message"></p><ul id="result-problems"></ul></section>`,
    `<section class="panel"><h2>${A.clientsTitle[lang]}</h2>`,
    `<p>${A.clientsNow[lang]} <strong id="clients-count">–</strong> <span id="clients-leases" hidden>${A.clientsLeases[lang]}</span></p>`,
    `<p id="limit-known" hidden>${A.limitBefore[lang]} <strong id="limit-n"></strong> ${A.limitAfter[lang]}</p>`,
    `<p id="limit-unknown" hidden>${A.limitUnknown[lang]}</p>`,
    `<ul id="clients" class="clients"></ul></section>`,
    `<form id="admin-form" class="panel" method="post" action="${ADMIN_API}" autocomplete="off">`,
    `<h2>${A.settingsTitle[lang]}</h2>`,
    `<fieldset><legend>${A.wifi[lang]}</legend>`,
    input(lang, F.wifi_ssid, 'type="text" required autocapitalize="none" spellcheck="false"'),
    input(lang, F.wifi_passphrase, 'type="password" autocomplete="new-password" spellcheck="false"', '<span class="now" id="pass-state"></span>'),
    checkbox(lang, F.wifi_open),
    input(lang, F.wifi_country, 'type="text" required maxlength="2" autocapitalize="characters" spellcheck="false"'),
    select(lang, F.wifi_channel, channels),
    `</fieldset>`,
    `<fieldset><legend>${A.kit[lang]}</legend>`,
    input(lang, F.hostname, 'type="text" required maxlength="63" autocapitalize="none" spellcheck="false"'),
    select(lang, F.language, [['fr', 'Français'], ['en', 'English']]),
    input(lang, F.admin_ssh_key, 'type="text" autocapitalize="none" spellcheck="false"', '<span class="now" id="key-state"></span>'),
    checkbox(lang, F.admin_ssh_key_remove),
    `</fieldset>`,
    `<button type="submit">${A.save[lang]}</button>`,
    `</form>`,
    `<p><a href="/">${T.home[lang]}</a></p>`,
  ].join('\n');
  return page(lang, { title: `CLIC — ${A.title[lang]}`, path: ADMIN_PATH, body, script: adminScript(lang), style: ADMIN_CSS });
}

/** nginx's answer when the admin's password is missing or wrong (401): who the page is for. */
export function loginPage(lang: Language): string {
  const body = [`<h1>${A.loginTitle[lang]}</h1>`, `<p class="intro">${A.loginText[lang]}</p>`, `<p><a href="/">${T.home[lang]}</a></p>`].join('\n');
  return page(lang, { title: `CLIC — ${A.loginTitle[lang]}`, path: '/', body });
}
