/**
 * portal — the kit's service portal: pages generated at build time from the services the
 * image's layers declare (builder/portal/pages.ts), in French and English (the settings file's
 * language, switchable on the page), readable on a phone, with no external resource at all, and
 * showing the settings-file errors found at boot. Served by nginx at the kit's hotspot address
 * (and any address of the kit); the language is picked at boot by /usr/lib/clic/portal-setup.
 * It offers one service itself, "About this kit".
 */
import { defineLayer } from '../../builder/recipe/define.ts';
import { portalFiles } from '../../builder/portal/pages.ts';

export default defineLayer({
  name: 'portal',
  description: 'Service portal: the page listing the kit services, French and English',
  requires: ['captive-portal'],
  services: [
    {
      id: 'about',
      name: { en: 'About this kit', fr: 'À propos de ce kit' },
      description: { en: 'What this kit is, how to connect, how to change its settings', fr: 'Ce qu’est ce kit, comment s’y connecter, comment changer ses réglages' },
      path: '/about/',
      icon: 'usr/share/clic/icons/about.svg',
    },
  ],
  generate: (plan) => portalFiles(plan),
  commands: [
    'ln -sf ../sites-available/clic-portal /etc/nginx/sites-enabled/clic-portal',
    'nginx -t -q',
    'systemctl enable clic-portal.service',
  ],
});
