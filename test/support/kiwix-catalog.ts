/**
 * A local kiwix for tests, on the loopback: the OPDS catalog v2 (`/catalog/v2/entries`, shaped
 * like library.kiwix.org's) listing the given ZIM files, and beside each file, laid out like
 * download.kiwix.org (`/zim/<project>/<file>.zim`), its `.meta4` (Metalink 4: size, md5, sha-1,
 * sha-256, sha-1 pieces, URLs by priority) and `.sha256`. The .zim files are served with Range
 * support (206, 416, If-Range), for downloaders. The documents are written under `dir` too.
 *
 *   const zim = await makeZim(join(dir, 'zims'), { name: 'test_fr_mini' });
 *   const kiwix = await startKiwixCatalog({ dir: join(dir, 'kiwix'), zims: [zim], mirror: true });
 *   kiwix.url;                        // http://127.0.0.1:PORT/catalog/v2 (the catalog root)
 *   kiwix.zimUrl('test_fr_mini');     // http://127.0.0.1:PORT/zim/wikipedia/test_fr_mini_2026-01.zim
 *   kiwix.requests;                   // [{ method: 'GET', path: '/catalog/v2/entries?count=-1' }, …]
 *   await kiwix.close();
 *
 * Options: `project` (folder under /zim/, default `wikipedia`; each ZIM may give its own),
 * `omitMeta4` / `omitSha256` (book or file names whose document answers 404), `mirror` (a
 * second URL in each .meta4, priority 2, served under /mirror/), `cutAfterBytes` (book name →
 * the first GET of its .zim is cut after that many bytes, to test resuming).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { MadeZim } from './zim.ts';

/** A ZIM file made by makeZim, with what its catalog entry should say (defaults: makeZim's). */
export type CatalogZim = MadeZim & {
  title?: string;
  /** ISO 639-3 (`lang` is accepted too); default `fra`, like makeZim. */
  language?: string;
  lang?: string;
  /** Default `mini`, like makeZim. */
  flavour?: string;
  description?: string;
  /** Folder under /zim/ (default: the catalog's `project`). */
  project?: string;
};

export interface KiwixCatalogOptions {
  /** Where the catalog, .meta4 and .sha256 documents are written (created if missing). */
  dir: string;
  zims: CatalogZim[];
  project?: string;
  /** Book (or file) names whose .meta4 answers 404, so that the .sha256 is used. */
  omitMeta4?: string[];
  /** Book (or file) names whose .sha256 answers 404. */
  omitSha256?: string[];
  /** Lists a second URL (priority 2) in each .meta4, served under /mirror/. */
  mirror?: boolean;
  /** Book name → the first GET of its .zim is cut (connection closed) after that many bytes. */
  cutAfterBytes?: Record<string, number>;
}

export interface RecordedRequest {
  method: string;
  /** Path and query, as requested. */
  path: string;
  range?: string;
}

export interface KiwixCatalog {
  /** Catalog root (`…/catalog/v2`), what recipes give as the kiwix layer's `catalog`. */
  url: string;
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  /** URL of a ZIM file, by book name (`test_fr_mini`) or file name. */
  zimUrl(name: string): string;
  /** Its URL under /mirror/ (served whether or not `mirror` lists it). */
  mirrorUrl(name: string): string;
  /** The catalog document served at /catalog/v2/entries. */
  entriesXml: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** How many requests had a path starting with `prefix` (e.g. '/catalog/v2/entries'). */
  count(prefix: string): number;
  /** While false, the catalog answers 503 (the ZIM files and their documents are still served). */
  setCatalogAvailable(available: boolean): void;
  close(): Promise<void>;
}

interface Book {
  zim: CatalogZim;
  name: string;
  file: string;
  project: string;
  size: number;
  sha256: string;
  etag: string;
  mtime: Date;
  meta4: string | null;
  sha256File: string | null;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/** A stable UUID-shaped id from a digest. */
const uuidOf = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;

/** `2026-01` in the file name → `2026-01-01T00:00:00Z`; else the file's date. */
function updatedOf(file: string, mtime: Date): string {
  const m = /_(\d{4}-\d{2})\.zim$/.exec(file);
  return m ? `${m[1]}-01T00:00:00Z` : mtime.toISOString().replace(/\.\d+Z$/, 'Z');
}

function metalink(book: Book, bytes: Buffer, urls: string[], self: string): string {
  const digest = (algo: string, data: Buffer) => createHash(algo).update(data).digest('hex');
  const PIECE = 256 * 1024;
  const pieces: string[] = [];
  for (let at = 0; at < bytes.length; at += PIECE) pieces.push(`      <hash>${digest('sha1', bytes.subarray(at, at + PIECE))}</hash>`);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<metalink xmlns="urn:ietf:params:xml:ns:metalink">',
    '  <generator>clic-image tests</generator>',
    `  <origin dynamic="true">${esc(self)}</origin>`,
    `  <published>${updatedOf(book.file, book.mtime)}</published>`,
    `  <file name="${esc(book.file)}">`,
    `    <size>${book.size}</size>`,
    `    <hash type="md5">${digest('md5', bytes)}</hash>`,
    `    <hash type="sha-1">${digest('sha1', bytes)}</hash>`,
    `    <hash type="sha-256">${book.sha256}</hash>`,
    `    <pieces length="${PIECE}" type="sha-1">`,
    ...pieces,
    '    </pieces>',
    // listed last-priority first: readers must order by priority, not by position
    ...urls
      .map((u, i) => `    <url location="${i ? 'zz' : 'fr'}" priority="${i + 1}">${esc(u)}</url>`)
      .reverse(),
    '  </file>',
    '</metalink>',
    '',
  ].join('\n');
}

function entry(book: Book, origin: string): string {
  const z = book.zim;
  const id = uuidOf(book.sha256);
  const updated = updatedOf(book.file, book.mtime);
  const stem = book.file.replace(/\.zim$/, '');
  return [
    '  <entry>',
    `    <id>urn:uuid:${id}</id>`,
    `    <title>${esc(z.title ?? book.name)}</title>`,
    `    <updated>${updated}</updated>`,
    `    <summary>${esc(z.description ?? `test content ${book.name}`)}</summary>`,
    `    <language>${esc(z.language ?? z.lang ?? 'fra')}</language>`,
    `    <name>${esc(book.name)}</name>`,
    `    <flavour>${esc(z.flavour ?? 'mini')}</flavour>`,
    `    <category>${esc(book.project)}</category>`,
    `    <tags>_category:${esc(book.project)};_pictures:no;_videos:no;_details:yes;_ftindex:no</tags>`,
    '    <articleCount>1</articleCount>',
    '    <mediaCount>1</mediaCount>',
    `    <link rel="http://opds-spec.org/image/thumbnail" href="/catalog/v2/illustration/${id}/?size=48" type="image/png;width=48;height=48;scale=1"/>`,
    `    <link type="text/html" href="/content/${encodeURIComponent(stem)}" />`,
    '    <author>',
    '      <name>clic-image tests</name>',
    '    </author>',
    '    <publisher>',
    '      <name>clic-image tests</name>',
    '    </publisher>',
    `    <dc:issued>${updated}</dc:issued>`,
    `    <link rel="http://opds-spec.org/acquisition/open-access" type="application/x-zim" href="${esc(zimPath(origin, book))}.meta4" length="${book.size}" />`,
    '  </entry>',
  ].join('\n');
}

function feed(books: Book[], origin: string): string {
  const updated = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<feed xmlns="http://www.w3.org/2005/Atom"',
    '      xmlns:dc="http://purl.org/dc/terms/"',
    '      xmlns:opds="https://specs.opds.io/opds-1.2"',
    '      xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">',
    `  <id>urn:uuid:${uuidOf(createHash('sha256').update(origin).digest('hex'))}</id>`,
    '  <link rel="self" href="/catalog/v2/entries?count=-1" type="application/atom+xml;profile=opds-catalog;kind=acquisition"/>',
    '  <link rel="start" href="/catalog/v2/root.xml" type="application/atom+xml;profile=opds-catalog;kind=navigation"/>',
    '  <link rel="up" href="/catalog/v2/root.xml" type="application/atom+xml;profile=opds-catalog;kind=navigation"/>',
    '  <title>All Entries</title>',
    `  <updated>${updated}</updated>`,
    ...books.map((b) => entry(b, origin)),
    '</feed>',
    '',
  ].join('\n');
}

const zimPath = (origin: string, book: Book) => `${origin}/zim/${encodeURIComponent(book.project)}/${encodeURIComponent(book.file)}`;

function send(res: ServerResponse, status: number, type: string, body: string, head: boolean): void {
  const bytes = Buffer.from(body);
  res.writeHead(status, { 'content-type': type, 'content-length': bytes.length });
  res.end(head ? undefined : bytes);
}

/** Serves a .zim: whole, or one byte range of it (RFC 9110: 206, 416, If-Range). */
function serveZim(req: IncomingMessage, res: ServerResponse, book: Book, cutAfter: number | null): void {
  const lastModified = book.mtime.toUTCString();
  const headers: Record<string, string | number> = {
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    etag: book.etag,
    'last-modified': lastModified,
  };
  let start = 0;
  let end = book.size - 1;
  let status = 200;
  const range = req.headers.range;
  const ifRange = req.headers['if-range'];
  if (range && (!ifRange || ifRange === book.etag || ifRange === lastModified)) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    // a malformed or multiple range is ignored: the whole file is sent
    if (m && (m[1] !== '' || m[2] !== '')) {
      if (m[1] === '') {
        start = Math.max(0, book.size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(Number(m[2]), book.size - 1);
      }
      if (start >= book.size || end < start || (m[1] === '' && Number(m[2]) === 0)) {
        res.writeHead(416, { 'content-range': `bytes */${book.size}`, 'content-length': 0 });
        res.end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${book.size}`;
    }
  }
  headers['content-length'] = end - start + 1;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || book.size === 0) {
    res.end();
    return;
  }
  if (cutAfter !== null) {
    // send that many bytes, then drop the connection: the client sees a body cut short
    const stream = createReadStream(book.zim.file, { start, end: Math.min(end, start + Math.max(cutAfter, 1) - 1) });
    stream.on('data', (chunk) => res.write(chunk));
    stream.on('end', () => setTimeout(() => res.destroy(), 20));
    stream.on('error', () => res.destroy());
    return;
  }
  const stream = createReadStream(book.zim.file, { start, end });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

export async function startKiwixCatalog(opts: KiwixCatalogOptions): Promise<KiwixCatalog> {
  const requests: RecordedRequest[] = [];
  const cut = new Map(Object.entries(opts.cutAfterBytes ?? {}));
  const omitted = (list: string[] | undefined, b: { name: string; file: string }) => !!list && (list.includes(b.name) || list.includes(b.file));
  let catalogAvailable = true;
  const books: Book[] = [];
  let entriesXml = '';
  const byPath = new Map<string, { book: Book; kind: 'zim' | 'meta4' | 'sha256' | 'mirror' }>();

  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', path, ...(req.headers.range ? { range: req.headers.range } : {}) });
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) return send(res, 405, 'text/plain', 'method not allowed\n', false);
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(path, 'http://x').pathname);
    } catch {
      return send(res, 400, 'text/plain', 'bad request\n', head);
    }
    if (pathname === '/catalog/v2/entries' || pathname === '/catalog/v2/entries/') {
      if (!catalogAvailable) return send(res, 503, 'text/plain', 'catalog unavailable\n', head);
      return send(res, 200, 'application/atom+xml;profile=opds-catalog;kind=acquisition;charset=utf-8', entriesXml, head);
    }
    const hit = byPath.get(pathname);
    if (!hit) return send(res, 404, 'text/plain', 'not found\n', head);
    const { book, kind } = hit;
    if (kind === 'meta4') return book.meta4 === null ? send(res, 404, 'text/plain', 'not found\n', head) : send(res, 200, 'application/metalink4+xml', book.meta4, head);
    if (kind === 'sha256') return book.sha256File === null ? send(res, 404, 'text/plain', 'not found\n', head) : send(res, 200, 'text/plain; charset=utf-8', book.sha256File, head);
    let cutAfter: number | null = null;
    if (kind === 'zim' && !head && cut.has(book.name)) {
      cutAfter = cut.get(book.name)!;
      cut.delete(book.name);
    }
    serveZim(req, res, book, cutAfter);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };

  try {
    for (const zim of opts.zims) {
      const file = basename(zim.file);
      const bytes = await readFile(zim.file);
      const st = await stat(zim.file);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const book: Book = {
        zim,
        name: zim.name,
        file,
        project: zim.project ?? opts.project ?? 'wikipedia',
        size: bytes.length,
        sha256,
        etag: `"${sha256.slice(0, 16)}"`,
        mtime: st.mtime,
        meta4: null,
        sha256File: null,
      };
      if (books.some((b) => b.file === file)) throw new Error(`startKiwixCatalog: ${file} is given twice`);
      const url = zimPath(origin, book);
      const mirror = `${origin}/mirror${new URL(url).pathname}`;
      if (!omitted(opts.omitMeta4, book)) book.meta4 = metalink(book, bytes, opts.mirror ? [url, mirror] : [url], `${url}.meta4`);
      if (!omitted(opts.omitSha256, book)) book.sha256File = `${sha256}  ${file}\n`;
      books.push(book);
      const p = decodeURIComponent(new URL(url).pathname);
      byPath.set(p, { book, kind: 'zim' });
      byPath.set(`${p}.meta4`, { book, kind: 'meta4' });
      byPath.set(`${p}.sha256`, { book, kind: 'sha256' });
      byPath.set(`/mirror${p}`, { book, kind: 'mirror' });
    }
    entriesXml = feed(books, origin);

    // the documents on disk too, laid out as served (handy when a test fails)
    const write = async (rel: string, text: string) => {
      await mkdir(dirname(join(opts.dir, rel)), { recursive: true });
      await writeFile(join(opts.dir, rel), text);
    };
    await write('catalog/v2/entries.xml', entriesXml);
    for (const b of books) {
      if (b.meta4 !== null) await write(`zim/${b.project}/${b.file}.meta4`, b.meta4);
      if (b.sha256File !== null) await write(`zim/${b.project}/${b.file}.sha256`, b.sha256File);
    }
  } catch (err) {
    await close();
    throw err;
  }

  const find = (name: string): Book => {
    const b = books.find((x) => x.name === name) ?? books.find((x) => x.file === name || x.file === `${name}.zim`);
    if (!b) throw new Error(`startKiwixCatalog: no ZIM named ${name} (have ${books.map((x) => x.name).join(', ')})`);
    return b;
  };

  return {
    url: `${origin}/catalog/v2`,
    origin,
    zimUrl: (name) => zimPath(origin, find(name)),
    mirrorUrl: (name) => `${origin}/mirror${new URL(zimPath(origin, find(name))).pathname}`,
    entriesXml,
    requests,
    count: (prefix) => requests.filter((r) => r.path.startsWith(prefix)).length,
    setCatalogAvailable: (available) => {
      catalogAvailable = available;
    },
    close,
  };
}
