/**
 * kiwix — the offline library: kiwix-serve (Debian's kiwix-tools) serves the image's ZIM files
 * (Wikipedia, Wiktionary, medical libraries…) under /kiwix/ on the portal, with no network.
 *
 * The ZIM files a lab lists in `zims` are looked up in the kiwix catalog (or given by URL and
 * sha256), downloaded and verified on the build host (builder/steps/content.ts), and put on the
 * content partition (CLICDATA, mounted at /srv/clic-data, grown to the card at first boot) with a
 * library.xml: rebuilding the system never copies them again. `clic-kiwix.service` starts once
 * that partition is mounted, listens on the loopback only (nginx proxies /kiwix/ to it), reloads
 * the library when it changes (ZIM files added later with kiwix-manage), and restarts on failure.
 * The portal shows the library's card once kiwix-serve's catalog lists a book (`availability`):
 * while kiwix-serve is down the card stays hidden (and /kiwix/ gives the portal's 50x page), and
 * an image with no ZIM file shows no card until a book is added.
 *
 *   # lab.yaml
 *   vars:
 *     kiwix:
 *       zims: [wikipedia_fr_all_mini, { url: https://example.org/guide.zim, sha256: 3f… }]
 */
import { defineLayer } from '../../builder/recipe/define.ts';
import { DEFAULT_CATALOG } from '../../builder/content/catalog.ts';

export default defineLayer({
  name: 'kiwix',
  description: 'Offline library: kiwix-serve with the image’s ZIM files, under /kiwix/ on the portal',
  requires: ['portal'],
  packages: ['kiwix-tools'],
  vars: {
    zims: {
      type: 'zims',
      default: [],
      description: 'ZIM files on the content partition: kiwix catalog names (e.g. wikipedia_fr_all_mini; add _YYYY-MM to pin a version) or { url, sha256 }',
    },
    catalog: {
      type: 'string',
      default: DEFAULT_CATALOG,
      pattern: '^https?://',
      description: 'kiwix OPDS catalog (v2 root) where ZIM names are looked up',
    },
  },
  content: { zimsVar: 'zims', catalogVar: 'catalog', dir: 'kiwix' },
  services: [
    {
      id: 'kiwix',
      name: { en: 'Offline library', fr: 'Bibliothèque hors ligne' },
      description: { en: 'Wikipedia and other encyclopedias, dictionaries and guides, readable without internet', fr: 'Wikipédia et d’autres encyclopédies, dictionnaires et guides, lisibles sans internet' },
      path: '/kiwix/',
      icon: 'usr/share/clic/icons/kiwix.svg',
      // the card appears once kiwix-serve answers and its catalog lists a book: never a link to
      // nginx's 502 (kiwix-serve down or still starting) nor to an empty library (no ZIM file)
      availability: { url: '/kiwix/catalog/v2/entries?count=1', contains: '<entry' },
    },
  ],
  commands: [
    'nginx -t -q',
    'systemctl enable clic-kiwix.service',
  ],
});
