/** The CLIC image for board odroid-n2 (out of the release set until its u-boot is pinned). */
import { defineImage } from '../../builder/recipe/define.ts';

export default defineImage({
  name: 'clic-odroid-n2',
  description: 'CLIC kit for Odroid N2 and N2+',
  board: 'odroid-n2',
  layers: ['base', 'firstboot', 'hotspot', 'captive-portal', 'portal', 'kit-admin', 'kiwix'],
  vars: { base: { hostname: 'clic' } },
  // not in the release set until its u-boot is pinned (recipes/boards/shared/odroid-blobs.ts)
  release: false,
});
