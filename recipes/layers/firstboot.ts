/**
 * firstboot — per-device identity and the deployer's settings file (work in progress, issue P2).
 */
import { defineLayer } from '../../builder/recipe/define.ts';

export default defineLayer({
  name: 'firstboot',
  description: 'First boot: device identity, settings file from the FAT partition',
  requires: ['base'],
});
