/** The CLIC image for board pc-x86_64 with YunoHost and the apps a lab chooses (none by default). */
import { defineImage } from '../../builder/recipe/define.ts';

export default defineImage({
  name: 'clic-pc-x86_64-yunohost',
  description: 'CLIC kit with YunoHost and its apps, for x86_64 PCs and mini-PCs (UEFI)',
  board: 'pc-x86_64',
  // yunohost before the captive portal: the portal's nginx check meets YunoHost's nginx files
  // only once the yunohost layer has made room for the kit's (see that layer)
  layers: ['base', 'firstboot', 'hotspot', 'yunohost', 'captive-portal', 'portal', 'kit-admin', 'kiwix', 'apps'],
  vars: { base: { hostname: 'clic' } },
});
