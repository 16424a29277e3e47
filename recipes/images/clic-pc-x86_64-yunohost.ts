/** The CLIC image for board pc-x86_64 with YunoHost and the apps a lab chooses (none by default). */
import { defineImage } from '../../builder/recipe/define.ts';

export default defineImage({
  name: 'clic-pc-x86_64-yunohost',
  description: 'CLIC kit with YunoHost and its apps, for x86_64 PCs and mini-PCs (UEFI)',
  board: 'pc-x86_64',
  layers: ['base', 'firstboot', 'hotspot', 'captive-portal', 'portal', 'kiwix', 'yunohost', 'apps'],
  vars: { base: { hostname: 'clic' } },
});
