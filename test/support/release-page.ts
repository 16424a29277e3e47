/**
 * Opens a release's download page (index.html) from disk in headless Chromium (Debian's
 * /usr/bin/chromium, driven by playwright-core, see chromium.ts) at
 * phone size, aborting and recording every request that would leave the file (anything but
 * file: and data: URLs), reads each image's section and takes a full-page screenshot.
 *
 *   const page = await openReleasePage('out/index.html', 'release-page.png');
 *   page.externalRequests; // [] — the page loads nothing from elsewhere
 *   page.images[0];        // { name: 'clic-pc-x86_64', text: 'clic-pc-x86_64 … amd64 …', links: ['clic-pc-x86_64.img.zst', …] }
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { withPhoneBrowser } from './chromium.ts';

export interface ReleasePageVisit {
  /** Each `[data-image]` section: its name, its text (whitespace collapsed), its links' hrefs as written. */
  images: { name: string; text: string; links: string[] }[];
  externalRequests: string[];
  /** Page wider than the phone's screen (horizontal scrolling). */
  overflows: boolean;
}

const local = (url: string) => url.startsWith('file:') || url.startsWith('data:');

export async function openReleasePage(htmlFile: string, screenshot: string): Promise<ReleasePageVisit> {
  return withPhoneBrowser(async (context) => {
    const externalRequests: string[] = [];
    context.on('request', (r) => {
      if (!local(r.url())) externalRequests.push(r.url());
    });
    await context.route(
      (url) => !local(url.href),
      (route) => route.abort(),
    );
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(60_000);
    await page.goto(pathToFileURL(resolve(htmlFile)).href, { waitUntil: 'load' });
    const seen = await page.evaluate(() => ({
      images: [...document.querySelectorAll<HTMLElement>('[data-image]')].map((section) => ({
        name: section.dataset.image ?? '',
        text: (section.textContent ?? '').replace(/\s+/g, ' ').trim(),
        links: [...section.querySelectorAll('a[href]')].map((a) => a.getAttribute('href') ?? ''),
      })),
      overflows: document.documentElement.scrollWidth > window.innerWidth,
    }));
    await page.screenshot({ path: screenshot, fullPage: true });
    return { ...seen, externalRequests };
  });
}
