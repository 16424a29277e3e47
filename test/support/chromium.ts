/**
 * Headless Chromium for the tests that look at a page as a visitor does: Debian's
 * /usr/bin/chromium driven by playwright-core (no browser is downloaded), at a phone's size
 * (390×844, touch), in a throwaway profile removed afterwards.
 *
 *   const title = await withPhoneBrowser(async (context) => {
 *     const page = context.pages()[0] ?? (await context.newPage());
 *     await page.goto(url);
 *     return page.title();
 *   });
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function withPhoneBrowser<T>(fn: (context: BrowserContext) => Promise<T>): Promise<T> {
  const profile = mkdtempSync(join(tmpdir(), 'clic-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      timeout: 120_000,
    });
    try {
      return await fn(context);
    } finally {
      await context.close();
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
