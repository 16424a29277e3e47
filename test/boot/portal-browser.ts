/**
 * Opens the kit's portal in headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core; no browser is downloaded) at phone size, through the QEMU port forward,
 * recording every request the browser makes, and takes a screenshot. It also follows the
 * language switch and the "About this kit" link, as a visitor would. `services` lists every
 * card of the page's markup; `visibleServices` the ones a visitor sees once the page's checks
 * answered (a service with an availability check, kiwix's, and an app's card wait hidden).
 *
 *   const seen = await visitPortal({ url: 'http://127.0.0.1:8080/', screenshot: 'portal.png' });
 *   seen.requests; // every URL the browser asked for
 */
import { withPhoneBrowser } from '../support/chromium.ts';

export interface PortalVisit {
  requests: string[];
  lang: string;
  /** Every card of the page, shown or hidden. */
  services: { id: string; name: string; href: string }[];
  /** The ids of the cards shown once the page loaded and its checks answered (network idle). */
  visibleServices: string[];
  errors: string[];
  errorsVisible: boolean;
  /** Page wider than the phone's screen (horizontal scrolling). */
  overflows: boolean;
  fontSizePx: number;
  /** After the language switch link. */
  switched: { lang: string; services: string[] };
  about: { title: string; lang: string };
}

export async function visitPortal(opts: { url: string; screenshot: string; expectErrors: boolean }): Promise<PortalVisit> {
  return withPhoneBrowser(async (context) => {
    const requests: string[] = [];
    context.on('request', (r) => requests.push(r.url()));
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(60_000);
    await page.goto(opts.url, { waitUntil: 'networkidle' });
    if (opts.expectErrors) await page.waitForSelector('#settings-errors:not([hidden]) li');
    const seen = await page.evaluate(() => ({
      lang: document.documentElement.lang,
      services: [...document.querySelectorAll<HTMLAnchorElement>('.services a')].map((a) => ({
        id: a.dataset.service ?? '',
        name: a.querySelector('.name')?.textContent ?? '',
        href: a.getAttribute('href') ?? '',
      })),
      // laid out, hence seen: a card still [hidden] (display: none) has no box
      visibleServices: [...document.querySelectorAll<HTMLAnchorElement>('.services a')].filter((a) => a.getClientRects().length > 0).map((a) => a.dataset.service ?? ''),
      errors: [...document.querySelectorAll('#settings-errors li')].map((li) => li.textContent ?? ''),
      errorsVisible: !(document.getElementById('settings-errors')?.hidden ?? true),
      overflows: document.documentElement.scrollWidth > window.innerWidth,
      fontSizePx: parseFloat(getComputedStyle(document.body).fontSize),
    }));
    await page.screenshot({ path: opts.screenshot, fullPage: true });
    await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle' }), page.click('header a.lang')]);
    const switched = await page.evaluate(() => ({
      lang: document.documentElement.lang,
      services: [...document.querySelectorAll('.services .name')].map((n) => n.textContent ?? ''),
    }));
    await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle' }), page.click('a[data-service="about"]')]);
    const about = await page.evaluate(() => ({ title: document.querySelector('h1')?.textContent ?? '', lang: document.documentElement.lang }));
    return { requests, ...seen, switched, about };
  });
}
