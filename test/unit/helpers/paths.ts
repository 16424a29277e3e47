/** Where the unit tests find the project and its fixtures. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');
export const LABS = join(ROOT, 'test/fixtures/labs');
export const CLI = join(ROOT, 'bin/clic-image.js');
