/**
 * Global setup of the integration and boot tiers: builds the images they share, once, in two
 * chains side by side (emulated builds use about one core each; one architecture per chain at
 * a time, as their apt caches are per architecture): the Pi image then the arm64 Odroid boards,
 * beside the PC image, the armhf XU4, then the Pi image's compressed copies (its build again,
 * replayed from the step cache, with xz and zstd). Tests find them with imagesDir() from
 * test/support/images.ts and ensureOdroidImages() from test/support/odroid-images.ts.
 */
import { COMPRESSED_IMAGE, ensureCompressed, ensureImages, pruneTestCache } from './images.ts';
import { ensureOdroidImages } from './odroid-images.ts';

export default async function setup(): Promise<void> {
  await ensureImages([]);
  const pi = ensureImages([COMPRESSED_IMAGE], { prune: false });
  const chains = [
    async () => {
      await pi;
      await ensureOdroidImages(['odroid-c4', 'odroid-n2', 'odroid-hc4'], { prune: false });
    },
    async () => {
      await ensureImages(['clic-pc-x86_64'], { prune: false });
      await ensureOdroidImages(['odroid-xu4'], { prune: false });
      // the Pi image's xz and zstd copies, once it is built: minutes of compression, here
      // rather than before the arm64 Odroid builds of the other chain
      await pi;
      await ensureCompressed();
    },
  ];
  // both chains end before setup returns, even when one fails
  const results = await Promise.allSettled(chains.map((chain) => chain()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  await pruneTestCache();
}
