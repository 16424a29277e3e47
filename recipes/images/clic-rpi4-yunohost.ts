/** The CLIC image for board rpi4 with YunoHost and the apps a lab chooses (none by default). */
import { defineImage } from '../../builder/recipe/define.ts';

export default defineImage({
  name: 'clic-rpi4-yunohost',
  description: 'CLIC kit with YunoHost and its apps, for Raspberry Pi 4',
  board: 'rpi4',
  layers: ['base', 'firstboot', 'hotspot', 'captive-portal', 'portal', 'kiwix', 'yunohost', 'apps'],
  vars: { base: { hostname: 'clic' } },
});
