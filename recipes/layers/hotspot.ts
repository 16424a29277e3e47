/**
 * hotspot — the kit's own wifi access point (work in progress, issue P2).
 */
import { defineLayer } from '../../builder/recipe/define.ts';

export default defineLayer({
  name: 'hotspot',
  description: 'Wifi hotspot: hostapd and DHCP on the first wifi interface',
  requires: ['firstboot'],
});
