/** The CLIC image for board rpi4: the release set's recipe for it. */
import { defineImage } from '../../builder/recipe/define.ts';

export default defineImage({
  name: 'clic-rpi4',
  description: 'CLIC kit for Raspberry Pi 4 and 400',
  board: 'rpi4',
  layers: ['base', 'firstboot', 'hotspot', 'captive-portal', 'portal', 'kit-admin', 'kiwix'],
  vars: { base: { hostname: 'clic' } },
});
