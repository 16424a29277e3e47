/** The CLIC image for board odroid-xu4: the release set's recipe for it. */
import { defineImage } from '../../builder/recipe/define.ts';

export default defineImage({
  name: 'clic-odroid-xu4',
  description: 'CLIC kit for Odroid XU4',
  board: 'odroid-xu4',
  layers: ['base', 'firstboot', 'hotspot', 'captive-portal', 'portal', 'kit-admin', 'kiwix'],
  vars: { base: { hostname: 'clic' } },
});
