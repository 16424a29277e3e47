/** The CLIC image for board rpi3: the release set's recipe for it. */
import { defineImage } from '../../builder/recipe/define.ts';

export default defineImage({
  name: 'clic-rpi3',
  description: 'CLIC kit for Raspberry Pi 3',
  board: 'rpi3',
  layers: ['base', 'firstboot', 'hotspot', 'captive-portal', 'portal', 'kit-admin', 'kiwix'],
  vars: { base: { hostname: 'clic' } },
});
