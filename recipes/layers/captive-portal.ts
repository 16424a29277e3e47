/**
 * captive-portal — every phone that joins the hotspot pops up the portal (work in progress, issue P2).
 */
import { defineLayer } from '../../builder/recipe/define.ts';

export default defineLayer({
  name: 'captive-portal',
  description: 'Captive portal: DNS to the kit, OS connectivity probes answered with the portal',
  requires: ['hotspot'],
});
