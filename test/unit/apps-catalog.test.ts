/**
 * YunoHost's app catalog (v3) and the apps resolved through it: the catalog read from a loopback
 * server, kept in the cache and used from there when the server fails (with a notice), its
 * trimmed copy for the image; resolveApps on every kind of problem; and the packages, fetched
 * from a bare git repository served over git's dumb HTTP by a small static server here (fixed
 * names and dates, so the commits are always the same), kept as tar archives and reused.
 * Catalogs are test/fixtures/apps/*.json. Loopback only, temporary folders, no root.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppCatalogError, catalogForImage, loadAppCatalog, parseAppCatalog, type AppCatalog } from '../../builder/apps/catalog.ts';
import { AppPackageError, fetchAppPackage, readPackageManifest, resolveApps, withPackageManifests } from '../../builder/apps/resolve.ts';
import type { AppRequest } from '../../builder/apps/types.ts';
import { AbortedError } from '../../builder/errors.ts';

const exec = promisify(execFile);
const FIXTURES = join(import.meta.dirname, '../fixtures/apps');
const SERVED = readFileSync(join(FIXTURES, 'catalog-v3.json'), 'utf8');
const FULL = readFileSync(join(FIXTURES, 'catalog-v3-full-manifests.json'), 'utf8');

// ---------------------------------------------------------------------------------------------
// a loopback server: a few routes, the files of a folder (enough for git's dumb HTTP), a path
// that never answers

interface TestServer {
  url: string;
  requests: string[];
  route(path: string, answer: { status?: number; body: string } | 'hang'): void;
  close(): Promise<void>;
}

async function startServer(dir: string): Promise<TestServer> {
  const routes = new Map<string, { status?: number; body: string } | 'hang'>();
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    requests.push(req.url ?? '/');
    const answer = routes.get(path) ?? (path.startsWith('/hang/') ? 'hang' : undefined);
    if (answer === 'hang') return;
    if (answer) return void res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' }).end(answer.body);
    const file = join(dir, normalize(path));
    if (!file.startsWith(dir)) return void res.writeHead(403).end();
    stat(file).then(
      (st) => (st.isFile() ? (res.writeHead(200, { 'content-length': st.size }), createReadStream(file).pipe(res)) : res.writeHead(404).end()),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    route: (path, answer) => void routes.set(path, answer),
    close: () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); }),
  };
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'clic-apps-test-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

let dirs = 0;
const freshDir = async () => {
  const d = join(work, `case-${++dirs}`);
  await mkdir(d, { recursive: true });
  return d;
};

const catalogFrom = (text: string, url = 'https://app.example.org/default/v3/apps.json'): AppCatalog => ({
  url, offline: false, document: parseAppCatalog(text), packageManifests: new Map(), packageProblems: new Map(),
});

// ---------------------------------------------------------------------------------------------

describe('loadAppCatalog', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(await freshDir());
  });
  afterAll(() => server.close());

  it('reads the catalog and keeps it in <cacheDir>/app-catalog/<sha256 of url>.json', async () => {
    server.route('/default/v3/apps.json', { body: SERVED });
    const cacheDir = await freshDir();
    const url = `${server.url}/default/v3/apps.json`;
    const notices: string[] = [];
    const catalog = await loadAppCatalog(url, { cacheDir, onNotice: (m) => notices.push(m) });
    expect(catalog).toMatchObject({ url, offline: false });
    expect(Object.keys(catalog.document.apps)).toEqual(['hedgedoc', 'nextcloud', 'roundcube', 'yeswiki']);
    expect(notices).toEqual([]);
    const copy = join(cacheDir, 'app-catalog', `${createHash('sha256').update(url).digest('hex')}.json`);
    expect(await readFile(copy, 'utf8')).toBe(SERVED);
    expect(await readdir(join(cacheDir, 'app-catalog'))).toHaveLength(1);
  });

  it('uses the copy kept, and says so, when the server answers garbage or is gone', async () => {
    const cacheDir = await freshDir();
    const gone = await startServer(await freshDir());
    gone.route('/apps.json', { body: SERVED });
    const url = `${gone.url}/apps.json`;
    await loadAppCatalog(url, { cacheDir });

    // a captive portal's page instead of the catalog: the copy is kept, not replaced
    gone.route('/apps.json', { body: '<html>Welcome to the hotel Wi-Fi</html>' });
    const notices: string[] = [];
    const fromCopy = await loadAppCatalog(url, { cacheDir, onNotice: (m) => notices.push(m) });
    expect(fromCopy.offline).toBe(true);
    expect(Object.keys(fromCopy.document.apps)).toContain('yeswiki');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(new RegExp(`^the YunoHost app catalog ${url} cannot be read \\(not JSON: .*\\): using the copy kept on \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC$`));

    await gone.close();
    notices.length = 0;
    const offline = await loadAppCatalog(url, { cacheDir, onNotice: (m) => notices.push(m) });
    expect(offline.offline).toBe(true);
    expect(offline.document).toEqual(JSON.parse(SERVED));
    expect(notices[0]).toMatch(/cannot be read \(connection refused\): using the copy kept on/);
  });

  it('with no copy kept, fails with an AppCatalogError naming the URL', async () => {
    const cacheDir = await freshDir();
    server.route('/missing.json', { status: 404, body: 'no' });
    const url = `${server.url}/missing.json`;
    const err = await loadAppCatalog(url, { cacheDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppCatalogError);
    expect(err).toMatchObject({ url, reason: 'not found (HTTP 404)' });
    expect((err as Error).message).toContain(`the YunoHost app catalog ${url} cannot be read (not found (HTTP 404))`);
    server.route('/not-a-catalog.json', { body: '{"apps": []}' });
    await expect(loadAppCatalog(`${server.url}/not-a-catalog.json`, { cacheDir })).rejects.toThrow(/not a YunoHost v3 app catalog/);
  });

  it('gives up on a server that does not answer within the timeout, and stops at once on abort', async () => {
    const cacheDir = await freshDir();
    const err = await loadAppCatalog(`${server.url}/hang/apps.json`, { cacheDir, timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppCatalogError);
    expect((err as AppCatalogError).reason).toBe('no answer within 0.1 s');
    const abort = new AbortController();
    setTimeout(() => abort.abort('SIGINT'), 100);
    await expect(loadAppCatalog(`${server.url}/hang/apps.json`, { cacheDir, signal: abort.signal })).rejects.toBeInstanceOf(AbortedError);
  });
});

describe('catalogForImage', () => {
  it('keeps the document as served, with only the chosen apps and the API version YunoHost stamps', () => {
    const catalog = catalogFrom(SERVED);
    const doc = JSON.parse(catalogForImage(catalog, ['yeswiki', 'hedgedoc']));
    const served = JSON.parse(SERVED);
    expect(Object.keys(doc.apps)).toEqual(['yeswiki', 'hedgedoc']);
    expect(doc.apps.yeswiki).toEqual(served.apps.yeswiki);
    expect(doc.categories).toEqual(served.categories);
    expect(doc.antifeatures).toEqual(served.antifeatures);
    expect(doc.from_api_version).toBe(3);
    expect(() => catalogForImage(catalog, ['wordpress'])).toThrow(/"wordpress" is not in the catalog/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('resolveApps', () => {
  const catalog = catalogFrom(FULL);
  const full = JSON.parse(FULL);
  const resolve = (requests: AppRequest[], arch: 'amd64' | 'arm64' | 'armhf' = 'arm64') => resolveApps(requests, catalog, arch);

  it('resolves an app: pinned revision, sources for the architecture, Debian packages, answers with defaults', () => {
    const { apps, problems } = resolve(['yeswiki', { id: 'hedgedoc', args: { note_title: 'Bienvenue & co', is_public: false, path: '/pad' } }]);
    expect(problems).toEqual([]);
    expect(apps[0]).toEqual({
      id: 'yeswiki',
      name: 'YesWiki',
      revision: full.apps.yeswiki.git.revision,
      gitUrl: 'https://github.com/YunoHost-Apps/yeswiki_ynh',
      sources: [{ id: 'main', url: 'https://repository.yeswiki.net/doryphore/yeswiki-doryphore-4.5.1.zip', sha256: full.apps.yeswiki.manifest.resources.sources.main.sha256 }],
      aptPackages: ['mariadb-server', 'php8.2-fpm', 'php8.2-mysql', 'php8.2-curl'],
      args: { path: '/yeswiki', init_main_permission: 'visitors', language: 'fr' },
      argsQuery: 'init_main_permission=visitors&language=fr&path=%2Fyeswiki',
    });
    // (the fixture's keys are sorted, as list_builder.py writes them)
    expect(apps[1].sources.map((s) => [s.id, s.url.replace(/.*\//, '')])).toEqual([['fonts', 'fonts.zip'], ['main', 'hedgedoc-1.10.0-arm64.tar.gz']]);
    expect(apps[1].sources[0]).toMatchObject({ format: 'zip', extract: false, rename: 'fonts.zip' });
    expect(apps[1].aptPackages).toEqual(['postgresql', 'nodejs']);
    expect(apps[1].args).toEqual({ path: '/pad', init_main_permission: 'visitors', is_public: '0', note_title: 'Bienvenue & co' });
    expect(apps[1].argsQuery).toBe('init_main_permission=visitors&is_public=0&note_title=Bienvenue%20%26%20co&path=%2Fpad');
    expect(Object.fromEntries(new URLSearchParams(apps[1].argsQuery))).toEqual(apps[1].args);
  });

  it('names a required question left unanswered, with its prompt', () => {
    expect(resolve(['hedgedoc']).problems).toEqual([
      { index: 0, path: '', message: 'app "hedgedoc" asks "Title of the welcome note" (install question "note_title", string), which has no default: answer it in args, e.g. { id: hedgedoc, args: { note_title: … } }' },
    ]);
    expect(resolve([{ id: 'hedgedoc', args: { path: '/pad' } }]).problems.map((p) => p.path)).toEqual(['/args']);
  });

  it('suggests close matches for an unknown app and an unknown answer', () => {
    const { apps, problems } = resolve(['yeswki', 'etherpad-mypads-nope', { id: 'yeswiki', args: { pth: '/w', info: 'x' } }, { id: 'hedgedoc', args: { note_title: 't', info: 'x' } }]);
    expect(apps).toEqual([]);
    expect(problems).toEqual([
      { index: 0, path: '', message: 'unknown app "yeswki" in the catalog https://app.example.org/default/v3/apps.json — did you mean "yeswiki"?' },
      { index: 1, path: '', message: 'unknown app "etherpad-mypads-nope" in the catalog https://app.example.org/default/v3/apps.json — no app there has a similar id (4 apps listed)' },
      { index: 2, path: '/args/pth', message: 'app "yeswiki" has no install question "pth" — did you mean "path"?' },
      { index: 2, path: '/args/info', message: 'app "yeswiki" has no install question "info" — its questions are admin, domain, init_main_permission, language, path' },
      { index: 3, path: '/args/info', message: '"info" of app "hedgedoc" is text shown at install (alert): it takes no answer' },
    ]);
  });

  it('reports the same app twice, an answer outside the choices, malformed requests', () => {
    const { problems } = resolve(['yeswiki', { id: 'yeswiki' }, { id: 'hedgedoc', arg: { path: '/x' } } as unknown as AppRequest, { id: 'yeswiki', args: { language: 'de' } }, 42 as unknown as AppRequest, { id: 'nextcloud', args: { path: ['a'] } } as unknown as AppRequest]);
    expect(problems).toEqual([
      { index: 1, path: '', message: 'app "yeswiki" is listed twice (also request 0): each app is installed once' },
      { index: 2, path: '/arg', message: 'unknown field "arg" — did you mean "args"?' },
      { index: 3, path: '', message: 'app "yeswiki" is listed twice (also request 0): each app is installed once' },
      { index: 4, path: '', message: 'expected an app id (yeswiki) or { id, args }, got 42' },
      { index: 5, path: '/args/path', message: 'expected a string, number or boolean answer, got ["a"]' },
    ]);
    expect(resolve([{ id: 'yeswiki', args: { language: 'de' } }]).problems).toEqual([
      { index: 0, path: '/args/language', message: '"de" is not an answer to "Language of the wiki" of app "yeswiki" — expected one of: fr, en, es' },
    ]);
  });

  it('refuses an app for another architecture, one marked notworking, one needing an extra apt repository', () => {
    const { problems } = resolve([{ id: 'hedgedoc', args: { note_title: 't' } }, 'roundcube', { id: 'nextcloud' }], 'armhf');
    expect(problems).toEqual([
      { index: 0, path: '', message: 'app "hedgedoc" runs on amd64, arm64 only, not on this board\'s armhf' },
      { index: 1, path: '', message: 'app "roundcube" is marked "notworking" in the catalog https://app.example.org/default/v3/apps.json: its install is known to fail' },
      { index: 2, path: '', message: 'app "nextcloud": resources.apt.extras takes packages from another apt repository (sury), which cannot be staged offline yet' },
    ]);
  });

  it('refuses an app whose install downloads a toolchain (Node.js here, as the real hedgedoc does), with the other apps still resolved', () => {
    const doc = JSON.parse(FULL);
    doc.apps.hedgedoc.manifest.resources.nodejs = { version: '22' };
    const { apps, problems } = resolveApps(['yeswiki', { id: 'hedgedoc', args: { note_title: 't' } }], catalogFrom(JSON.stringify(doc)), 'amd64');
    expect(problems).toEqual([{ index: 1, path: '', message: 'app "hedgedoc": resources.nodejs (Node.js 22 from nodejs.org (with "n")) is downloaded by YunoHost while installing, which cannot be staged offline yet' }]);
    expect(apps.map((a) => a.id)).toContain('yeswiki');
  });

  it('refuses a source with no file for the architecture, though the app claims to run there', () => {
    const doc = JSON.parse(FULL);
    doc.apps.hedgedoc.manifest.integration.architectures = 'all';
    const { problems } = resolveApps([{ id: 'hedgedoc', args: { note_title: 't' } }], catalogFrom(JSON.stringify(doc)), 'armhf');
    expect(problems).toEqual([{ index: 0, path: '', message: 'app "hedgedoc": source "main" has no file for armhf (only for amd64, arm64)' }]);
  });

  it('will not resolve from the served catalog alone, which lacks install questions and resources', () => {
    expect(() => resolveApps(['yeswiki'], catalogFrom(SERVED), 'amd64')).toThrow(/drops them\): read the packages first with withPackageManifests/);
  });
});

// ---------------------------------------------------------------------------------------------
// packages: a bare repository served over git's dumb HTTP

const GIT_ENV = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'clic-image tests',
  GIT_AUTHOR_EMAIL: 'tests@clic-test.invalid',
  GIT_AUTHOR_DATE: '@1700000000 +0000',
  GIT_COMMITTER_NAME: 'clic-image tests',
  GIT_COMMITTER_EMAIL: 'tests@clic-test.invalid',
  GIT_COMMITTER_DATE: '@1700000000 +0000',
  LC_ALL: 'C',
};
const git = async (args: string[], cwd?: string) => (await exec('git', args, { cwd, env: { ...process.env, ...GIT_ENV } })).stdout.trim();

const demoManifest = (version: string, base: string) => `packaging_format = 2
id = "demo"
name = "Demo"
version = "${version}"
description.en = "The clic-image tests' app"

[integration]
architectures = ["amd64", "arm64"]

[install]
    [install.domain]
    type = "domain"

    [install.path]
    type = "path"
    default = "/demo"

    [install.greeting]
    ask.en = "Greeting shown on the page"
    type = "string"

[resources]
    [resources.sources.main]
    amd64.url = "${base}/demo-1.0-amd64.tar.gz"
    amd64.sha256 = "${'a'.repeat(64)}"
    arm64.url = "${base}/demo-1.0-arm64.tar.gz"
    arm64.sha256 = "${'b'.repeat(64)}"

    [resources.apt]
    packages = "jq"
`;

// fixed names, dates and contents: these ids never change
const FIRST = '84b549ca849917d1b5a464132b8923245236b871';

describe('fetchAppPackage and withPackageManifests', () => {
  let server: TestServer;
  let www: string;
  let first: string;
  let second: string;
  let gitUrl: string;

  beforeAll(async () => {
    www = await freshDir();
    server = await startServer(www);
    const pkg = join(await freshDir(), 'demo_ynh');
    await mkdir(join(pkg, 'scripts'), { recursive: true });
    await writeFile(join(pkg, 'manifest.toml'), demoManifest('1.0~ynh1', 'https://sources.example.org'));
    await writeFile(join(pkg, 'scripts', 'install'), '#!/bin/bash\necho install\n');
    await chmod(join(pkg, 'scripts', 'install'), 0o755);
    await git(['init', '-q', '-b', 'main'], pkg);
    await git(['add', '-A'], pkg);
    await git(['commit', '-q', '-m', 'demo 1.0~ynh1'], pkg);
    first = await git(['rev-parse', 'HEAD'], pkg);
    // the catalog pins the first commit, which is not the branch's tip
    await writeFile(join(pkg, 'manifest.toml'), demoManifest('1.1~ynh1', 'https://sources.example.org'));
    await git(['commit', '-q', '-am', 'demo 1.1~ynh1'], pkg);
    second = await git(['rev-parse', 'HEAD'], pkg);
    await git(['clone', '-q', '--bare', pkg, join(www, 'demo_ynh.git')]);
    await git(['update-server-info'], join(www, 'demo_ynh.git'));
    gitUrl = `${server.url}/demo_ynh.git`;
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
  });

  it('makes the same commits on every run', () => {
    expect(first).toBe(FIRST);
    expect(second).not.toBe(first);
  });

  it('fetches the pinned commit over dumb HTTP and keeps its tree as <cacheDir>/app-packages/<id>-<revision>.tar', async () => {
    const cacheDir = await freshDir();
    const tar = await fetchAppPackage({ id: 'demo', gitUrl, revision: first, cacheDir });
    expect(tar).toBe(join(cacheDir, 'app-packages', `demo-${first}.tar`));
    expect(server.requests.some((r) => r.startsWith('/demo_ynh.git/info/refs'))).toBe(true);
    const { stdout } = await exec('tar', ['-tf', tar]);
    expect(stdout.split('\n').filter(Boolean).sort()).toEqual(['manifest.toml', 'scripts/', 'scripts/install']);
    expect(await readPackageManifest(tar, 'demo')).toContain('version = "1.0~ynh1"');
    // nothing else left behind: the temporary repository is gone
    expect(await readdir(join(cacheDir, 'app-packages'))).toEqual([`demo-${first}.tar`]);

    // reused: the server is not asked again, and need not be there
    server.requests.length = 0;
    expect(await fetchAppPackage({ id: 'demo', gitUrl: 'http://127.0.0.1:9/gone.git', revision: first.toUpperCase(), cacheDir })).toBe(tar);
    expect(server.requests).toEqual([]);
  });

  it('takes a lone commit from a server that can give one (git’s own protocol, here file://)', async () => {
    const cacheDir = await freshDir();
    const tar = await fetchAppPackage({ id: 'demo', gitUrl: `file://${join(www, 'demo_ynh.git')}`, revision: second, cacheDir });
    expect(await readPackageManifest(tar, 'demo')).toContain('version = "1.1~ynh1"');
  });

  it('refuses a revision that is not a full commit id, and one the repository lacks, leaving nothing behind', async () => {
    const cacheDir = await freshDir();
    for (const revision of ['main', 'HEAD', first.slice(0, 12)]) {
      const err = await fetchAppPackage({ id: 'demo', gitUrl, revision, cacheDir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppPackageError);
      expect((err as Error).message).toMatch(/is not a full commit id \(40 hexadecimal digits\)/);
    }
    const missing = 'c'.repeat(40);
    await expect(fetchAppPackage({ id: 'demo', gitUrl, revision: missing, cacheDir })).rejects.toThrow(
      `app "demo": its package cannot be had from ${gitUrl} at ${missing}: commit ${missing} is on no branch or tag there`,
    );
    const unreachable = await fetchAppPackage({ id: 'demo', gitUrl: `${server.url}/nothing_ynh.git`, revision: first, cacheDir }).catch((e: unknown) => e);
    expect(unreachable).toBeInstanceOf(AppPackageError);
    expect((unreachable as Error).message).toContain(`app "demo": its package cannot be had from ${server.url}/nothing_ynh.git`);
    expect(await readdir(join(cacheDir, 'app-packages'))).toEqual([]);
  });

  it('refuses a package whose install script downloads by itself, naming the app, its revision and the call', async () => {
    const pkg = join(await freshDir(), 'fetcher_ynh');
    await mkdir(join(pkg, 'scripts'), { recursive: true });
    await writeFile(join(pkg, 'manifest.toml'), demoManifest('1.0~ynh1', 'https://sources.example.org').replace('id = "demo"', 'id = "fetcher"'));
    await writeFile(join(pkg, 'scripts', 'install'), '#!/bin/bash\nynh_setup_source --dest_dir="$install_dir"\nynh_composer_install\n');
    await git(['init', '-q', '-b', 'main'], pkg);
    await git(['add', '-A'], pkg);
    await git(['commit', '-q', '-m', 'fetcher'], pkg);
    const revision = await git(['rev-parse', 'HEAD'], pkg);
    const doc = JSON.parse(SERVED);
    doc.apps.fetcher = { ...doc.apps.yeswiki, id: 'fetcher', git: { branch: 'main', revision, url: `file://${pkg}` }, manifest: { id: 'fetcher', name: 'Fetcher', packaging_format: 2 } };
    const catalog = await withPackageManifests(catalogFrom(JSON.stringify(doc)), ['fetcher'], { cacheDir: await freshDir() });
    expect(resolveApps(['fetcher'], catalog, 'amd64').problems).toEqual([
      {
        index: 0,
        path: '',
        message: `app "fetcher" at ${revision}: its scripts/install calls ynh_composer_install (line 3: composer from getcomposer.org), which downloads while installing: it cannot be staged offline yet`,
      },
    ]);
  });

  it('stops git on abort and leaves nothing behind', async () => {
    const cacheDir = await freshDir();
    const abort = new AbortController();
    setTimeout(() => abort.abort('SIGINT'), 300);
    await expect(fetchAppPackage({ id: 'demo', gitUrl: `${server.url}/hang/demo_ynh.git`, revision: first, cacheDir, signal: abort.signal })).rejects.toBeInstanceOf(AbortedError);
    expect(await readdir(join(cacheDir, 'app-packages'))).toEqual([]);
  });

  it('reads each package’s manifest for the served catalog, so that resolveApps knows the questions and sources', async () => {
    const cacheDir = await freshDir();
    const doc = JSON.parse(SERVED);
    doc.apps.demo = { ...doc.apps.yeswiki, id: 'demo', git: { branch: 'main', revision: first, url: gitUrl }, manifest: { id: 'demo', name: 'Demo', packaging_format: 2 } };
    doc.apps.hedgedoc.git.url = `${server.url}/hedgedoc_ynh.git`;
    const served = catalogFrom(JSON.stringify(doc));
    const requests: AppRequest[] = [{ id: 'demo', args: { greeting: 'Bonjour !' } }, 'hedgedoc', 'yeswik'];
    const catalog = await withPackageManifests(served, requests, { cacheDir });
    expect([...catalog.packageManifests.keys()]).toEqual(['demo']);
    expect(served.packageManifests.size).toBe(0);

    const { apps, problems } = resolveApps(requests, catalog, 'amd64');
    expect(apps).toEqual([
      {
        id: 'demo',
        name: 'Demo',
        revision: first,
        gitUrl,
        sources: [{ id: 'main', url: 'https://sources.example.org/demo-1.0-amd64.tar.gz', sha256: 'a'.repeat(64) }],
        aptPackages: ['jq'],
        args: { path: '/demo', greeting: 'Bonjour !' },
        argsQuery: 'greeting=Bonjour%20!&path=%2Fdemo',
      },
    ]);
    expect(problems.map((p) => [p.index, p.path])).toEqual([[1, ''], [2, '']]);
    expect(problems[0].message).toMatch(new RegExp(`^app "hedgedoc": its package cannot be had from ${server.url}/hedgedoc_ynh.git at [0-9a-f]{40}: `));
    expect(problems[1].message).toMatch(/^unknown app "yeswik" .* did you mean "yeswiki"\?$/);
    // the image's catalog is the served one: the manifest as the catalog gives it
    expect(JSON.parse(catalogForImage(catalog, ['demo'])).apps.demo.manifest).toEqual({ id: 'demo', name: 'Demo', packaging_format: 2 });

    // the package is kept: a second planning needs no server
    server.requests.length = 0;
    const again = resolveApps([{ id: 'demo' }], await withPackageManifests(served, [{ id: 'demo' }], { cacheDir }), 'arm64');
    expect(server.requests).toEqual([]);
    expect(again.problems).toEqual([
      { index: 0, path: '', message: 'app "demo" asks "Greeting shown on the page" (install question "greeting", string), which has no default: answer it in args, e.g. { id: demo, args: { greeting: … } }' },
    ]);
  });
});
