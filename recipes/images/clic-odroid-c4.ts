/** The CLIC image for board odroid-c4 (out of the release set until its u-boot is pinned). */
import { defineImage } from '../../builder/recipe/define.ts';

export default defineImage({
  name: 'clic-odroid-c4',
  description: 'CLIC kit for Odroid C4',
  board: 'odroid-c4',
  layers: ['base', 'firstboot', 'hotspot', 'captive-portal', 'portal', 'kit-admin', 'kiwix'],
  vars: { base: { hostname: 'clic' } },
  // not in the release set until its u-boot is pinned (recipes/boards/shared/odroid-blobs.ts)
  release: false,
});
