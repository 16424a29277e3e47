/**
 * ZIM requests resolved through the kiwix OPDS catalog: the parsers on small documents, then
 * resolveZims against a local kiwix (test/support/kiwix-catalog.ts, loopback only) serving real
 * ZIM files made by zimwriterfs — names, pinned versions, typos, missing checksums, URL requests
 * that need no network, every problem at once, and the offline copy of the catalog.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CatalogError,
  CatalogUnavailableError,
  parseCatalog,
  parseMetalink,
  parseSha256File,
  resolveZims,
  type ResolveOptions,
} from '../../builder/content/catalog.ts';
import type { ZimRequest } from '../../builder/content/types.ts';
import { AbortedError } from '../../builder/errors.ts';
import { startKiwixCatalog, type KiwixCatalog, type KiwixCatalogOptions } from '../support/kiwix-catalog.ts';
import { makeZim, type MadeZim } from '../support/zim.ts';

const HEX = (c: string) => c.repeat(64);

describe('parseCatalog', () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/terms/" xmlns:opds="https://specs.opds.io/opds-1.2">
  <id>urn:uuid:00000000-0000-0000-0000-000000000000</id>
  <title>All Entries</title>
  <updated>2025-01-20T00:00:00Z</updated>
  <entry>
    <id>urn:uuid:3f1b9c2e-0000-4000-8000-000000000001</id>
    <title>Wikipédia &amp; co (mini)</title>
    <updated>2025-01-15T00:00:00Z</updated>
    <summary>L&#39;encyclopédie</summary>
    <language>fra</language>
    <name>wikipedia_fr_all</name>
    <flavour>mini</flavour>
    <category>wikipedia</category>
    <link rel="http://opds-spec.org/image/thumbnail" href="/catalog/v2/illustration/x/?size=48" type="image/png;width=48;height=48;scale=1"/>
    <link type="text/html" href="/content/wikipedia_fr_all_mini_2025-01" />
    <dc:issued>2025-01-15T00:00:00Z</dc:issued>
    <link rel="http://opds-spec.org/acquisition/open-access" type="application/x-zim" href="https://download.kiwix.org/zim/wikipedia/wikipedia_fr_all_mini_2025-01.zim.meta4" length="4123456789" />
  </entry>
  <entry>
    <id>urn:uuid:3f1b9c2e-0000-4000-8000-000000000002</id>
    <title>No file</title>
    <updated>2025-01-15T00:00:00Z</updated>
    <name>nothing</name>
    <link type="text/html" href="/content/nothing" />
  </entry>
  <entry>
    <id>urn:uuid:3f1b9c2e-0000-4000-8000-000000000003</id>
    <title>Relative</title>
    <updated>2024-11-02T00:00:00Z</updated>
    <name>guide_en_water</name>
    <link rel="http://opds-spec.org/acquisition/open-access" type="application/x-zim" href="/zim/other/guide%20en_water_2024-11.zim" />
  </entry>
</feed>`;

  it('reads each downloadable book: name, flavour, language, title, size, .zim url, file, version, date', () => {
    const entries = parseCatalog(xml, 'https://library.kiwix.org/catalog/v2/entries?count=-1');
    expect(entries).toEqual([
      {
        id: '3f1b9c2e-0000-4000-8000-000000000001',
        name: 'wikipedia_fr_all',
        flavour: 'mini',
        language: 'fra',
        title: 'Wikipédia & co (mini)',
        size: 4123456789,
        url: 'https://download.kiwix.org/zim/wikipedia/wikipedia_fr_all_mini_2025-01.zim',
        file: 'wikipedia_fr_all_mini_2025-01.zim',
        book: 'wikipedia_fr_all_mini',
        version: '2025-01',
        updated: '2025-01-15T00:00:00Z',
      },
      {
        id: '3f1b9c2e-0000-4000-8000-000000000003',
        name: 'guide_en_water',
        flavour: null,
        language: null,
        title: 'Relative',
        size: null,
        url: 'https://library.kiwix.org/zim/other/guide%20en_water_2024-11.zim',
        file: 'guide en_water_2024-11.zim',
        book: 'guide en_water',
        version: '2024-11',
        updated: '2024-11-02T00:00:00Z',
      },
    ]);
  });

  it('takes a feed without entries as empty, and refuses what is not a feed', () => {
    expect(parseCatalog('<feed xmlns="http://www.w3.org/2005/Atom"><title>All Entries</title></feed>')).toEqual([]);
    expect(parseCatalog('<feed xmlns="http://www.w3.org/2005/Atom"/>')).toEqual([]);
    expect(() => parseCatalog('<html><body>Sign in to the hotel Wi-Fi</body></html>')).toThrow(/not an OPDS catalog/);
    expect(() => parseCatalog('garbage < not xml')).toThrow(/not an OPDS catalog/);
  });
});

describe('parseMetalink', () => {
  it('gives the file sha-256 (not a piece hash), its size and its URLs by priority', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <generator>MirrorBrain/2.19.0</generator>
  <origin dynamic="true">https://download.kiwix.org/zim/wikipedia/x_2025-01.zim.meta4</origin>
  <file name="x_2025-01.zim">
    <size>123456</size>
    <hash type="md5">${'a'.repeat(32)}</hash>
    <pieces length="262144" type="sha-256"><hash>${HEX('b')}</hash></pieces>
    <hash type="sha-1">${'c'.repeat(40)}</hash>
    <hash type="sha-256">${HEX('D')}</hash>
    <metaurl mediatype="torrent">https://download.kiwix.org/zim/wikipedia/x_2025-01.zim.torrent</metaurl>
    <url location="de" priority="3">https://mirror-c.example/zim/x_2025-01.zim</url>
    <url>https://mirror-last.example/zim/x_2025-01.zim</url>
    <url location="fr" priority="1">https://mirror-a.example/zim/x_2025-01.zim</url>
    <url location="se" priority="2">https://mirror-b.example/zim/x_2025-01.zim</url>
    <url location="nl" priority="2">https://mirror-b2.example/zim/x_2025-01.zim</url>
    <url location="fr" priority="5">https://mirror-a.example/zim/x_2025-01.zim</url>
  </file>
</metalink>`;
    expect(parseMetalink(xml)).toEqual({
      sha256: HEX('d'),
      size: 123456,
      urls: [
        'https://mirror-a.example/zim/x_2025-01.zim',
        'https://mirror-b.example/zim/x_2025-01.zim',
        'https://mirror-b2.example/zim/x_2025-01.zim',
        'https://mirror-c.example/zim/x_2025-01.zim',
        'https://mirror-last.example/zim/x_2025-01.zim',
      ],
    });
  });

  it('says null for what the document lacks, and refuses what is not a metalink', () => {
    expect(parseMetalink('<metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="x.zim"><hash type="md5">00</hash><url>http://a/x.zim</url></file></metalink>')).toEqual({
      sha256: null,
      size: null,
      urls: ['http://a/x.zim'],
    });
    expect(parseMetalink('<metalink xmlns="urn:ietf:params:xml:ns:metalink"></metalink>')).toEqual({ sha256: null, size: null, urls: [] });
    expect(() => parseMetalink('<html><body>404 Not Found</body></html>')).toThrow(/not a Metalink/);
  });
});

describe('parseSha256File', () => {
  it('reads "<hex>  <name>", "<hex> *<name>" and a bare "<hex>", lowercased', () => {
    expect(parseSha256File(`${HEX('a')}  x_2025-01.zim\n`)).toBe(HEX('a'));
    expect(parseSha256File(`${HEX('A')}  x_2025-01.zim\n`, 'x_2025-01.zim')).toBe(HEX('a'));
    expect(parseSha256File(`${HEX('b')} *x_2025-01.zim`, 'x_2025-01.zim')).toBe(HEX('b'));
    expect(parseSha256File(`${HEX('c')}\n`, 'x_2025-01.zim')).toBe(HEX('c'));
    expect(parseSha256File(`${HEX('d')}  other.zim\n${HEX('e')}  x_2025-01.zim\n`, 'x_2025-01.zim')).toBe(HEX('e'));
  });

  it('throws on anything but 64 hex digits, or a line naming another file', () => {
    expect(() => parseSha256File('')).toThrow(/empty/);
    expect(() => parseSha256File('abc123  x.zim')).toThrow(/64 hexadecimal/);
    expect(() => parseSha256File(`${'g'.repeat(64)}  x.zim`)).toThrow(/64 hexadecimal/);
    expect(() => parseSha256File('<html>Not Found</html>')).toThrow(/64 hexadecimal/);
    expect(() => parseSha256File(`${HEX('a')}  other.zim`, 'x.zim')).toThrow(/for other\.zim, not x\.zim/);
  });
});

describe('resolveZims', () => {
  let root: string;
  let zims: { fr: MadeZim; maxi: MadeZim; en: MadeZim };
  let work: string;
  let kiwix: KiwixCatalog | null = null;
  let notices: string[];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'clic-catalog-test-'));
    const dir = join(root, 'zims');
    zims = {
      fr: await makeZim(dir, { name: 'test_fr_mini', title: 'Test français', language: 'fra' }),
      maxi: await makeZim(dir, { name: 'test_fr_maxi', title: 'Test français (maxi)', language: 'fra', flavour: 'maxi' }),
      en: await makeZim(dir, { name: 'test_en_guide', title: 'Guide', language: 'eng', articles: { 'Water.html': '<p>Boil water.</p>' } }),
    };
  }, 60_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(async () => {
    work = await mkdtemp(join(root, 'work-'));
    notices = [];
  });
  afterEach(async () => {
    await kiwix?.close();
    kiwix = null;
  });

  async function start(o: Partial<KiwixCatalogOptions> = {}): Promise<KiwixCatalog> {
    kiwix = await startKiwixCatalog({
      dir: join(work, 'kiwix'),
      zims: [
        { ...zims.fr, title: 'Test français', language: 'fra' },
        { ...zims.maxi, title: 'Test français (maxi)', language: 'fra', flavour: 'maxi' },
        { ...zims.en, title: 'Guide', lang: 'eng' },
      ],
      ...o,
    });
    return kiwix;
  }
  const options = (catalogUrl: string, o: Partial<ResolveOptions> = {}): ResolveOptions => ({
    catalogUrl,
    cacheDir: join(work, 'cache', 'catalog'),
    timeoutMs: 5000,
    onNotice: (m) => notices.push(m),
    ...o,
  });
  async function problemsOf(requests: ZimRequest[], opts: ResolveOptions): Promise<CatalogError['problems']> {
    const err = await resolveZims(requests, opts).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CatalogError);
    return (err as CatalogError).problems;
  }

  it('resolves a name to the current file: its URL then the mirrors, size, sha256, title, language', async () => {
    const k = await start({ mirror: true });
    const [zim] = await resolveZims(['test_fr_mini'], options(k.url));
    expect(zim).toEqual({
      name: 'test_fr_mini',
      file: 'test_fr_mini_2026-01.zim',
      urls: [k.zimUrl('test_fr_mini'), k.mirrorUrl('test_fr_mini')],
      size: zims.fr.size,
      sha256: zims.fr.sha256,
      title: 'Test français',
      language: 'fra',
      source: 'catalog',
    });
    expect(k.requests.map((r) => r.path)).toEqual(['/catalog/v2/entries?count=-1', '/zim/wikipedia/test_fr_mini_2026-01.zim.meta4']);
    expect(notices).toEqual([]);
  });

  it('resolves { name } and a name pinned to the current version alike', async () => {
    const k = await start();
    const [byName, pinned] = await resolveZims([{ name: 'test_en_guide' }, 'test_fr_maxi_2026-01'], options(k.url));
    expect(byName).toMatchObject({ name: 'test_en_guide', file: 'test_en_guide_2026-01.zim', sha256: zims.en.sha256, language: 'eng', urls: [k.zimUrl('test_en_guide')] });
    expect(pinned).toMatchObject({ name: 'test_fr_maxi', file: 'test_fr_maxi_2026-01.zim', sha256: zims.maxi.sha256, size: zims.maxi.size });
  });

  it('reports a name with a typo, suggesting the close names of the catalog', async () => {
    const k = await start();
    const problems = await problemsOf(['test_fr_mnii'], options(k.url));
    expect(problems).toEqual([{ index: 0, request: 'test_fr_mnii', message: expect.stringContaining(`unknown ZIM "test_fr_mnii" in the catalog ${k.url} — did you mean test_fr_mini`) }]);
    expect(problems[0].message).toContain('test_fr_maxi');
    expect(problems[0].message).not.toContain('test_en_guide');
  });

  it('reports a pinned version the catalog no longer lists, and how to use it anyway', async () => {
    const k = await start();
    const problems = await problemsOf(['test_fr_mini_2025-06'], options(k.url));
    expect(problems).toHaveLength(1);
    expect(problems[0].message).toMatch(/"test_fr_mini_2025-06" is not in the catalog .*current versions only \(test_fr_mini is at 2026-01 there\).*\{ url, sha256 \}/);
    expect(k.count('/zim/')).toBe(0);
  });

  it('uses the .sha256 when the .meta4 is missing', async () => {
    const k = await start({ omitMeta4: ['test_fr_mini'] });
    const [zim] = await resolveZims(['test_fr_mini'], options(k.url));
    expect(zim).toMatchObject({ sha256: zims.fr.sha256, size: zims.fr.size, urls: [k.zimUrl('test_fr_mini')] });
    expect(k.requests.map((r) => r.path)).toEqual([
      '/catalog/v2/entries?count=-1',
      '/zim/wikipedia/test_fr_mini_2026-01.zim.meta4',
      '/zim/wikipedia/test_fr_mini_2026-01.zim.sha256',
    ]);
  });

  it('reports a book with neither .meta4 nor .sha256', async () => {
    const k = await start({ omitMeta4: ['test_fr_mini'], omitSha256: ['test_fr_mini'] });
    const problems = await problemsOf(['test_fr_mini', 'test_en_guide'], options(k.url));
    expect(problems).toEqual([
      { index: 0, request: 'test_fr_mini', message: expect.stringMatching(/no sha256 for ZIM "test_fr_mini" \(test_fr_mini_2026-01\.zim\).*\.meta4 not found.*\.sha256 not found/) },
    ]);
  });

  it('resolves { url, sha256 } without any request', async () => {
    const k = await start();
    const sha = zims.en.sha256.toUpperCase();
    const zimsOut = await resolveZims(
      [
        { url: k.zimUrl('test_en_guide'), sha256: sha },
        { url: 'https://example.org/files/My%20Guide_2024-05.zim', sha256: HEX('a'), name: 'guide', size: 1234 },
        { url: 'https://example.org/plain.zim', sha256: HEX('b') },
      ],
      options(k.url),
    );
    expect(zimsOut).toEqual([
      { name: 'test_en_guide', file: 'test_en_guide_2026-01.zim', urls: [k.zimUrl('test_en_guide')], size: null, sha256: zims.en.sha256, source: 'url' },
      { name: 'guide', file: 'My Guide_2024-05.zim', urls: ['https://example.org/files/My%20Guide_2024-05.zim'], size: 1234, sha256: HEX('a'), source: 'url' },
      { name: 'plain', file: 'plain.zim', urls: ['https://example.org/plain.zim'], size: null, sha256: HEX('b'), source: 'url' },
    ]);
    expect(k.requests).toEqual([]);
    expect(await readdir(work)).not.toContain('cache');
  });

  it('reports a bad sha256 of a { url, sha256 } request', async () => {
    const problems = await problemsOf([{ url: 'https://example.org/x_2024-05.zim', sha256: 'abc123' }], options('http://127.0.0.1:9/catalog/v2'));
    expect(problems).toEqual([{ index: 0, request: 'https://example.org/x_2024-05.zim', message: 'sha256 must be 64 hexadecimal digits, got "abc123"' }]);
  });

  it('reports every bad request at once, in order', async () => {
    const k = await start();
    const problems = await problemsOf(
      [
        'test_en_guide',
        'test_fr_mnii',
        { url: 'not a url', sha256: 'zz' },
        'test_fr_mini_2025-06',
        { url: 'https://example.org/dir/', sha256: HEX('c') },
        'test_fr_mini',
        { url: k.zimUrl('test_fr_mini'), sha256: zims.fr.sha256 },
      ],
      options(k.url),
    );
    expect(problems.map((p) => [p.index, p.request])).toEqual([
      [1, 'test_fr_mnii'],
      [2, 'not a url'],
      [2, 'not a url'],
      [3, 'test_fr_mini_2025-06'],
      [4, 'https://example.org/dir/'],
      [6, k.zimUrl('test_fr_mini')],
    ]);
    expect(problems[1].message).toBe('"not a url" is not a URL');
    expect(problems[2].message).toMatch(/sha256 must be 64 hexadecimal digits/);
    expect(problems[4].message).toMatch(/does not end with a file name/);
    expect(problems[5].message).toBe('listed twice: resolves to test_fr_mini_2026-01.zim, as request 5 (test_fr_mini) does');
    expect(k.count('/catalog/v2/entries')).toBe(1);
  });

  it('reads the catalog once for several names', async () => {
    const k = await start();
    const out = await resolveZims(['test_fr_mini', { name: 'test_fr_maxi' }, 'test_en_guide_2026-01'], options(k.url));
    expect(out.map((z) => z.file)).toEqual(['test_fr_mini_2026-01.zim', 'test_fr_maxi_2026-01.zim', 'test_en_guide_2026-01.zim']);
    expect(out.map((z) => z.sha256)).toEqual([zims.fr.sha256, zims.maxi.sha256, zims.en.sha256]);
    expect(k.count('/catalog/v2/entries')).toBe(1);
    expect(k.count('/zim/')).toBe(3);
  });

  it('works offline from the copies kept by an earlier resolution, and says so', async () => {
    const k = await start({ mirror: true });
    const opts = options(k.url);
    const online = await resolveZims(['test_fr_mini', 'test_en_guide'], opts);
    expect(notices).toEqual([]);
    await k.close();
    const offline = await resolveZims(['test_fr_mini', 'test_en_guide'], opts);
    expect(offline).toEqual(online);
    expect(notices).toEqual([expect.stringMatching(new RegExp(`^the kiwix catalog ${k.url} cannot be read \\(connection refused\\): using the copy kept on \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC$`))]);
  });

  it('uses the kept catalog when it answers errors, the checksums still coming from the server', async () => {
    const k = await start();
    const opts = options(k.url, { timeoutMs: 2000 });
    await resolveZims(['test_fr_mini'], opts);
    k.setCatalogAvailable(false);
    const before = k.count('/zim/');
    const [zim] = await resolveZims(['test_en_guide'], opts);
    expect(zim).toMatchObject({ file: 'test_en_guide_2026-01.zim', sha256: zims.en.sha256 });
    expect(notices).toEqual([expect.stringContaining('cannot be read (HTTP 503 Service Unavailable): using the copy kept on')]);
    // 3 tries of the catalog, then the book's .meta4
    expect(k.count('/catalog/v2/entries')).toBe(4);
    expect(k.count('/zim/') - before).toBe(1);
  });

  it('names the catalog when it cannot be reached and was never read', async () => {
    const closed: Server = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/catalog/v2`;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await resolveZims(['test_fr_mini'], options(url)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CatalogUnavailableError);
    expect((err as Error).message).toBe(
      `the kiwix catalog ${url} cannot be read (connection refused), and no copy of it was kept by an earlier build — check the network and the catalog URL, or give the ZIM files as { url, sha256 }`,
    );
  });

  it('gives up on a catalog that never answers after its timeout, tried 3 times', async () => {
    let seen = 0;
    const silent: Server = createServer(() => {
      seen++; // never answers
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/catalog/v2`;
      const started = Date.now();
      const err = await resolveZims(['test_fr_mini'], options(url, { timeoutMs: 200 })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CatalogUnavailableError);
      expect((err as Error).message).toContain('(no answer within 0.2 s)');
      expect(seen).toBe(3);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('stops when its signal is aborted', async () => {
    const k = await start();
    const controller = new AbortController();
    controller.abort('SIGINT');
    await expect(resolveZims(['test_fr_mini'], options(k.url, { signal: controller.signal }))).rejects.toBeInstanceOf(AbortedError);
    expect(k.requests).toEqual([]);
  });
});

describe('the local kiwix (test fixture)', () => {
  let root: string;
  let kiwix: KiwixCatalog;
  let zim: MadeZim;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'clic-kiwix-fixture-'));
    zim = await makeZim(join(root, 'zims'), { name: 'test_fixture_mini' });
    kiwix = await startKiwixCatalog({ dir: join(root, 'kiwix'), zims: [zim], cutAfterBytes: { test_fixture_mini: 1000 } });
  }, 60_000);
  afterAll(async () => {
    await kiwix.close();
    await rm(root, { recursive: true, force: true });
  });

  it('serves byte ranges of the .zim files, and cuts the first download when asked to', async () => {
    const url = kiwix.zimUrl('test_fixture_mini');
    const cut = await fetch(url).then((r) => r.arrayBuffer()).then(
      (b) => b.byteLength,
      () => 'cut',
    );
    expect(cut).toBe('cut');
    const whole = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(whole.length).toBe(zim.size);
    const part = await fetch(url, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${zim.size}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(whole.subarray(100, 200));
    const tail = await fetch(url, { headers: { range: `bytes=${zim.size - 10}-` } });
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(whole.subarray(zim.size - 10));
    const beyond = await fetch(url, { headers: { range: `bytes=${zim.size}-` } });
    expect(beyond.status).toBe(416);
    await beyond.arrayBuffer();
    const stale = await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': '"other"' } });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(zim.size));
    expect(head.headers.get('accept-ranges')).toBe('bytes');
  });

  it('serves a catalog its own parser reads back', async () => {
    const entries = parseCatalog(await (await fetch(`${kiwix.url}/entries?count=-1`)).text());
    expect(entries).toMatchObject([{ name: 'test_fixture_mini', flavour: 'mini', language: 'fra', size: zim.size, url: kiwix.zimUrl('test_fixture_mini'), file: 'test_fixture_mini_2026-01.zim' }]);
    const meta = parseMetalink(await (await fetch(`${kiwix.zimUrl('test_fixture_mini')}.meta4`)).text());
    expect(meta).toEqual({ sha256: zim.sha256, size: zim.size, urls: [kiwix.zimUrl('test_fixture_mini')] });
    expect(parseSha256File(await (await fetch(`${kiwix.zimUrl('test_fixture_mini')}.sha256`)).text(), 'test_fixture_mini_2026-01.zim')).toBe(zim.sha256);
  });
});
