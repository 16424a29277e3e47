/**
 * Global setup of the integration and boot tiers: builds the images they share, once.
 * Tests find them with imagesDir() from test/support/images.ts.
 */
import { ensureImages } from './images.ts';

export const SHARED_IMAGES = ['clic-pc-x86_64', 'clic-rpi4'];

export default async function setup(): Promise<void> {
  await ensureImages(SHARED_IMAGES);
}
