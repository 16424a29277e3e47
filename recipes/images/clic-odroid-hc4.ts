/** The CLIC image for board odroid-hc4 (out of the release set until its u-boot is pinned). */
import { defineImage } from '../../builder/recipe/define.ts';

export default defineImage({
  name: 'clic-odroid-hc4',
  description: 'CLIC kit for Odroid HC4',
  board: 'odroid-hc4',
  layers: ['base', 'firstboot', 'hotspot', 'captive-portal', 'portal', 'kit-admin', 'kiwix'],
  vars: { base: { hostname: 'clic' } },
  // not in the release set until its u-boot is pinned (recipes/boards/shared/odroid-blobs.ts)
  release: false,
});
