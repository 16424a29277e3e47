/**
 * Test tiers. `unit`: seconds, no root, no network. `integration`: builds real images (root,
 * mmdebstrap, mkfs) and inspects them with sfdisk, mtools and debugfs. `boot`: boots the built
 * images under QEMU. Images are built once per source tree by test/support/images.ts and shared
 * by the integration and boot tiers.
 */
import { defineConfig } from 'vitest/config';

const HOUR = 60 * 60 * 1000;

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: HOUR,
          hookTimeout: HOUR,
          // one image build or QEMU at a time: the machine has 2 cores
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          name: 'boot',
          include: ['test/boot/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: HOUR,
          hookTimeout: HOUR,
          // one image build or QEMU at a time: the machine has 2 cores
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
