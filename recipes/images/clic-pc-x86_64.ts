/** The CLIC image for board pc-x86_64: the release set's recipe for it. */
import { defineImage } from '../../builder/recipe/define.ts';

export default defineImage({
  name: 'clic-pc-x86_64',
  description: 'CLIC kit for x86_64 PCs and mini-PCs (UEFI)',
  board: 'pc-x86_64',
  layers: ['base', 'firstboot', 'hotspot', 'captive-portal', 'portal', 'kit-admin', 'kiwix'],
  vars: { base: { hostname: 'clic' } },
});
