/**
 * portal — the kit's service portal page (work in progress, issue P2).
 */
import { defineLayer } from '../../builder/recipe/define.ts';

export default defineLayer({
  name: 'portal',
  description: 'Service portal: the page listing the kit services, French and English',
  requires: ['captive-portal'],
});
