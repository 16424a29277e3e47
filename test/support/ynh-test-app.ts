/**
 * The YunoHost test app ("testapp") and an app catalog listing it, written under a folder for
 * serveDir (test/support/static-server.ts) to serve, since the real catalog and GitHub cannot be
 * reached from here:
 *
 *   <dir>/testapp-src-1.0.tar.gz   the app's upstream "source": one index.html with a marker
 *   <dir>/testapp_ynh.git          its package, a bare git repository ready for git's dumb HTTP
 *                                  (`git update-server-info` done), one commit on `main`
 *   <dir>/default/v3/apps.json     the catalog, laid out as app.yunohost.org serves it
 *
 *   const server = await serveDir(www);
 *   const app = await makeTestApp(www, { baseUrl: server.url });
 *   app.catalogUrl;   // http://127.0.0.1:PORT/default/v3/apps.json
 *   app.gitUrl;       // http://127.0.0.1:PORT/testapp_ynh.git — `git clone` works
 *   app.revision;     // the commit, also the catalog's apps.testapp.git.revision
 *   app.source;       // { url, sha256, size, file }
 *
 * The package is a packaging format 2 app: manifest.toml (questions domain, path = /testapp,
 * init_main_permission = visitors, and `greeting`, a string with no default — a required answer;
 * resources: sources.main for amd64 and arm64 pointing at the tarball, install_dir, apt qrencode), and
 * scripts/install and scripts/remove. The install script waits 120 s when the kernel command
 * line has `clictest.slowapp` (the power-cut boot test kills the machine then), checks the
 * staged source in YunoHost's download cache against the manifest's sha256, installs qrencode with
 * apt-get (the image's first boot provides the offline repository), unpacks the source into
 * the install_dir (/var/www/testapp) and writes the greeting there. The commit has fixed names
 * and dates, so the same baseUrl always gives the same revision.
 *
 * The catalog, checked against the tool that builds the real one (YunoHost/apps-tools
 * list_builder.py, earlier tools/list_builder.py of YunoHost/apps) and YunoHost's reader
 * (src/app_catalog.py): `{ apps: { <id>: {…} }, categories: [...], antifeatures: [...] }`; each
 * app has id, git { branch, revision, url }, added_in_catalog, lastUpdate (the commit's time),
 * manifest (the package's manifest.toml as JSON), state, level, maintained, high_quality, featured,
 * category, subtags, potential_alternative_to, antifeatures, logo_hash; keys sorted, one line.
 * Verified too: the real v3 document DROPS the manifest's `install` and `resources` tables (the
 * install questions, sources and apt packages are only in the package, at its revision), and so
 * does this one unless `fullManifestsInCatalog` is set (which app.yunohost.org never serves);
 * it lists only apps whose state is `working`; and YunoHost adds `"from_api_version": 3` when it
 * saves the document as /var/cache/yunohost/repo/default.json (not in the served document).
 * Assumed (not verified): the categories' and antifeatures' wording (ids are real ones), the
 * other apps' versions, levels and manifests (small, plausible; their git repositories and
 * sources do not exist), the dates.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { FIXED_EPOCH } from './apt-repo.ts';
import { bash } from './yunohost-standin.ts';

const exec = promisify(execFile);

/** In the source's index.html: proves the page installed is the one downloaded. */
export const TESTAPP_SOURCE_MARKER = 'clic-testapp-source';

export type TomlValue = string | number | boolean | string[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

/** One app of the v3 catalog, as list_builder.py writes it. */
export interface CatalogV3App {
  id: string;
  git: { branch: string; revision: string; url: string };
  added_in_catalog: number;
  lastUpdate: number;
  manifest: TomlTable;
  state: string;
  level: number | '?';
  maintained: boolean;
  high_quality: boolean;
  featured: boolean;
  category: string | null;
  subtags: string[];
  potential_alternative_to: string[];
  antifeatures: string[];
  logo_hash: string | null;
}

type Translated = Record<string, string>;

export interface CatalogV3 {
  apps: Record<string, CatalogV3App>;
  categories: { id: string; title: Translated; description: Translated; icon: string; subtags: { id: string; title: Translated }[] }[];
  antifeatures: { id: string; title: Translated; description: Translated; icon: string }[];
}

export interface TestAppOptions {
  /** Where `dir` is served: `http://127.0.0.1:PORT` (URLs in the manifest and catalog use it). */
  baseUrl: string;
  /** Keep `install` and `resources` in the catalog's manifests — NOT what app.yunohost.org serves. */
  fullManifestsInCatalog?: boolean;
}

export interface TestApp {
  dir: string;
  catalogUrl: string;
  catalogFile: string;
  catalog: CatalogV3;
  gitUrl: string;
  revision: string;
  source: { url: string; sha256: string; size: number; file: string };
  /** The package's manifest.toml, and the same as an object. */
  manifestToml: string;
  manifest: TomlTable;
}

const isTable = (v: TomlValue | undefined): v is TomlTable => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A small TOML writer for manifests: `tables` (paths, `*` for any one key) are written as
 * [table] sections, every other object as dotted keys (`description.en = …`), as YunoHost's
 * manifests are written.
 */
export function toToml(doc: TomlTable, tables: string[]): string {
  const patterns = tables.map((t) => t.split('.'));
  const sectioned = (path: string[]) => patterns.some((p) => p.length === path.length && p.every((seg, i) => seg === '*' || seg === path[i]));
  const key = (k: string) => {
    if (!/^[A-Za-z0-9_-]+$/.test(k)) throw new Error(`toToml: key ${JSON.stringify(k)} needs quoting, which this writer does not do`);
    return k;
  };
  const literal = (v: TomlValue): string => {
    if (typeof v === 'string') return JSON.stringify(v);
    if (Array.isArray(v)) return `[${v.map(literal).join(', ')}]`;
    if (isTable(v)) throw new Error('toToml: a table is not a literal');
    return String(v);
  };
  const lines: string[] = [];
  const dotted = (prefix: string, table: TomlTable) => {
    for (const [k, v] of Object.entries(table)) {
      if (isTable(v)) dotted(`${prefix}${key(k)}.`, v);
      else lines.push(`${prefix}${key(k)} = ${literal(v)}`);
    }
  };
  const section = (path: string[], table: TomlTable) => {
    const sub: [string, TomlTable][] = [];
    for (const [k, v] of Object.entries(table)) {
      if (isTable(v) && sectioned([...path, k])) sub.push([k, v]);
      else if (isTable(v)) dotted(`${key(k)}.`, v);
      else lines.push(`${key(k)} = ${literal(v)}`);
    }
    for (const [k, v] of sub) {
      const at = lines.length;
      section([...path, k], v);
      // a header for content, for an empty table, and for a top-level one ([install], [resources]),
      // not for a mere level of nesting such as [resources.sources]
      const hasOwn = Object.entries(v).some(([ck, cv]) => !isTable(cv) || !sectioned([...path, k, ck]));
      if (path.length === 0 || Object.keys(v).length === 0 || hasOwn) lines.splice(at, 0, '', `[${[...path, k].map(key).join('.')}]`);
    }
  };
  section([], doc);
  return `${lines.join('\n')}\n`;
}

const MANIFEST_TABLES = ['upstream', 'integration', 'install', 'install.*', 'resources', 'resources.*', 'resources.sources.*'];

/** Keys sorted at every level, as Python's json.dumps(sort_keys=True) writes them. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => [k, sortKeys(x)]));
  return v;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

function testappManifest(baseUrl: string, source: { url: string; sha256: string }): TomlTable {
  return {
    packaging_format: 2,
    id: 'testapp',
    name: 'Test app',
    description: { en: 'Tiny app of the clic-image tests: one page and a greeting', fr: 'Petite app des tests de clic-image : une page et un message d\u2019accueil' },
    version: '1.0~ynh1',
    maintainers: ['clic-image tests'],
    upstream: { license: 'AGPL-3.0-or-later', website: `${baseUrl}/`, code: `${baseUrl}/testapp_ynh.git` },
    integration: {
      yunohost: '>= 11.2',
      helpers_version: '2.1',
      architectures: 'all',
      multi_instance: false,
      ldap: false,
      sso: false,
      disk: '1M',
      ram: { build: '10M', runtime: '10M' },
    },
    install: {
      domain: { type: 'domain' },
      path: { type: 'path', default: '/testapp' },
      init_main_permission: { type: 'group', default: 'visitors' },
      greeting: { ask: { en: 'Greeting shown on the page', fr: 'Message affiché sur la page' }, type: 'string' },
    },
    resources: {
      sources: {
        main: { amd64: { url: source.url, sha256: source.sha256 }, arm64: { url: source.url, sha256: source.sha256 } },
      },
      install_dir: {},
      permissions: { main: { url: '/' } },
      // not in YunoHost's own closure (jq is): it has to come from the image's offline repository
      apt: { packages: 'qrencode' },
    },
  };
}

/** A small plausible manifest for the catalog's other apps (their sources do not exist). */
function otherManifest(baseUrl: string, id: string, name: string, version: string, description: { en: string; fr: string }, path: string): TomlTable {
  const url = `${baseUrl}/sources/${id}-${version.replace(/~ynh\d+$/, '')}.tar.gz`;
  return {
    packaging_format: 2,
    id,
    name,
    description,
    version,
    maintainers: ['clic-image tests'],
    upstream: { license: 'AGPL-3.0-or-later', website: `${baseUrl}/${id}/` },
    integration: { yunohost: '>= 11.2', helpers_version: '2.1', architectures: 'all', multi_instance: true, ldap: true, sso: true, disk: '100M', ram: { build: '200M', runtime: '100M' } },
    install: {
      domain: { type: 'domain' },
      path: { type: 'path', default: path },
      init_main_permission: { type: 'group', default: 'visitors' },
    },
    resources: {
      sources: { main: { url, sha256: sha256(`clic-image tests: no such source ${id}`) } },
      system_user: {},
      install_dir: {},
      permissions: { main: { url: '/' } },
      apt: { packages: 'php8.2-fpm' },
    },
  };
}

const INSTALL_SCRIPT = bash`#!/bin/bash
# install script of "testapp", the YunoHost app of the clic-image tests (test/support/ynh-test-app.ts).
# It proves the kit's first boot gives an app what YunoHost gives it: its answers, its source
# staged in YunoHost's download cache, its Debian packages from the image's offline repository.
set -eu
echo "testapp install: start"
if grep -qwF clictest.slowapp /proc/cmdline 2>/dev/null; then
  # the power-cut boot test kills the machine while the install waits here
  echo "testapp install: waiting"
  sleep 120
fi
app_id=\${YNH_APP_ID:-testapp}
source_file=\${YNH_CACHE_DIR:-/var/cache/yunohost/download/$app_id}/main
arch=\${YNH_ARCH:-$(dpkg --print-architecture)}
expected=$(sed -n "s/^[[:space:]]*$arch\.sha256[[:space:]]*=[[:space:]]*\"\([0-9a-f]*\)\".*/\1/p" "$YNH_APP_BASEDIR/manifest.toml" | head -n 1)
if [ ! -f "$source_file" ]; then
  echo "testapp install: the source is not in YunoHost's download cache: $source_file"
  exit 1
fi
actual=$(sha256sum "$source_file" | cut -d ' ' -f 1)
if [ -z "$expected" ] || [ "$actual" != "$expected" ]; then
  echo "testapp install: the source's sha256 is $actual, the manifest says '$expected' for $arch"
  exit 1
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y qrencode
install_dir=\${install_dir:-/var/www/$app_id}
mkdir -p "$install_dir"
tar -xzf "$source_file" -C "$install_dir" --strip-components=1 --no-same-owner
printf '%s\n' "$YNH_APP_ARG_GREETING" > "$install_dir/greeting.txt"
echo "testapp install: done"
`;

const REMOVE_SCRIPT = bash`#!/bin/bash
# remove script of "testapp", the YunoHost app of the clic-image tests (test/support/ynh-test-app.ts).
set -eu
install_dir=\${install_dir:-/var/www/\${YNH_APP_ID:-testapp}}
rm -rf "$install_dir"
echo "testapp remove: done"
`;

const README = `# testapp_ynh

The YunoHost app of the clic-image tests (test/support/ynh-test-app.ts): one page from its
source tarball and a greeting given at install time. Not an app for real servers.
`;

const GIT_ENV = {
  // the host's git configuration (signing, hooks, default branch) must not change the commit
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'clic-image tests',
  GIT_AUTHOR_EMAIL: 'tests@clic-test.invalid',
  GIT_AUTHOR_DATE: `@${FIXED_EPOCH} +0000`,
  GIT_COMMITTER_NAME: 'clic-image tests',
  GIT_COMMITTER_EMAIL: 'tests@clic-test.invalid',
  GIT_COMMITTER_DATE: `@${FIXED_EPOCH} +0000`,
  LC_ALL: 'C',
};

/** Runs git with the fixed identity and dates and no host configuration. */
export async function git(args: string[], cwd?: string): Promise<string> {
  const { stdout } = await exec('git', args, { cwd, env: { ...process.env, ...GIT_ENV }, maxBuffer: 16 << 20 });
  return stdout;
}

/** The source tarball: testapp-1.0/index.html, byte for byte the same on every run. */
async function makeSourceTarball(work: string): Promise<Buffer> {
  const top = join(work, 'testapp-1.0');
  await mkdir(top, { recursive: true });
  await writeFile(
    join(top, 'index.html'),
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>testapp</title></head>\n<body><h1>testapp</h1><p id="marker">${TESTAPP_SOURCE_MARKER}</p><p>Greeting: see greeting.txt</p></body></html>\n`,
  );
  const { stdout } = await exec(
    'tar',
    ['--sort=name', `--mtime=@${FIXED_EPOCH}`, '--owner=0', '--group=0', '--numeric-owner', '--mode=u=rwX,go=rX', '--format=gnu', '-C', work, '-cf', '-', 'testapp-1.0'],
    { encoding: 'buffer', maxBuffer: 16 << 20 },
  );
  // zlib writes no name and a zero time in the gzip header: the same bytes every time
  return gzipSync(stdout, { level: 9 });
}

export async function makeTestApp(dir: string, opts: TestAppOptions): Promise<TestApp> {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'clic-testapp-'));
  try {
    const tarball = await makeSourceTarball(work);
    const sourceFile = join(dir, 'testapp-src-1.0.tar.gz');
    await writeFile(sourceFile, tarball);
    const source = { url: `${baseUrl}/testapp-src-1.0.tar.gz`, sha256: sha256(tarball), size: tarball.length, file: sourceFile };

    const manifest = testappManifest(baseUrl, source);
    const manifestToml = toToml(manifest, MANIFEST_TABLES);
    const pkg = join(work, 'testapp_ynh');
    await mkdir(join(pkg, 'scripts'), { recursive: true });
    await writeFile(join(pkg, 'manifest.toml'), manifestToml);
    await writeFile(join(pkg, 'README.md'), README);
    await writeFile(join(pkg, 'scripts', 'install'), INSTALL_SCRIPT);
    await writeFile(join(pkg, 'scripts', 'remove'), REMOVE_SCRIPT);
    await chmod(join(pkg, 'scripts', 'install'), 0o755);
    await chmod(join(pkg, 'scripts', 'remove'), 0o755);
    await git(['init', '-q', '-b', 'main'], pkg);
    await git(['add', '-A'], pkg);
    await git(['commit', '-q', '-m', 'testapp 1.0~ynh1'], pkg);

    const bare = join(dir, 'testapp_ynh.git');
    await rm(bare, { recursive: true, force: true });
    await git(['init', '-q', '--bare', '-b', 'main', bare]);
    await git(['push', '-q', bare, 'main:main'], pkg);
    // info/refs and objects/info/packs: what a client of the dumb HTTP protocol reads first
    await git(['update-server-info'], bare);
    const revision = (await git(['rev-parse', 'refs/heads/main'], bare)).trim();
    const gitUrl = `${baseUrl}/testapp_ynh.git`;

    const published = (m: TomlTable): TomlTable => {
      if (opts.fullManifestsInCatalog) return m;
      const { install: _install, resources: _resources, ...rest } = m;
      return rest;
    };
    const app = (manifest: TomlTable, git: CatalogV3App['git'], meta: Pick<CatalogV3App, 'level' | 'category' | 'subtags' | 'potential_alternative_to'>): CatalogV3App => ({
      id: manifest.id as string,
      git,
      added_in_catalog: FIXED_EPOCH,
      lastUpdate: FIXED_EPOCH,
      manifest: published(manifest),
      state: 'working',
      maintained: true,
      high_quality: false,
      featured: false,
      antifeatures: [],
      logo_hash: null,
      ...meta,
    });
    const elsewhere = (id: string): CatalogV3App['git'] => ({
      branch: 'master',
      revision: createHash('sha1').update(`clic-image tests: ${id}`).digest('hex'),
      url: `${baseUrl}/${id}_ynh.git`,
    });
    const catalog: CatalogV3 = {
      apps: {
        testapp: app(manifest, { branch: 'main', revision, url: gitUrl }, { level: 8, category: 'small_utilities', subtags: [], potential_alternative_to: [] }),
        yeswiki: app(
          otherManifest(baseUrl, 'yeswiki', 'YesWiki', '4.5.1~ynh1', { en: 'Wiki that is quick to learn', fr: 'Wiki simple à prendre en main' }, '/yeswiki'),
          elsewhere('yeswiki'),
          { level: 8, category: 'publishing', subtags: ['wiki', 'website'], potential_alternative_to: [] },
        ),
        hedgedoc: app(
          otherManifest(baseUrl, 'hedgedoc', 'HedgeDoc', '1.10.0~ynh1', { en: 'Collaborative Markdown notes', fr: 'Notes Markdown collaboratives' }, '/hedgedoc'),
          elsewhere('hedgedoc'),
          { level: 7, category: 'office', subtags: ['text'], potential_alternative_to: ['HackMD'] },
        ),
        nextcloud: app(
          otherManifest(baseUrl, 'nextcloud', 'Nextcloud', '30.0.0~ynh1', { en: 'Files, calendars and contacts in sync', fr: 'Fichiers, agendas et contacts synchronisés' }, '/nextcloud'),
          elsewhere('nextcloud'),
          { level: 8, category: 'synchronization', subtags: ['files', 'calendar', 'contacts'], potential_alternative_to: ['Dropbox'] },
        ),
      },
      categories: [
        { id: 'synchronization', title: { en: 'Synchronization', fr: 'Synchronisation' }, description: { en: 'Files, calendars, contacts', fr: 'Fichiers, agendas, contacts' }, icon: 'cloud', subtags: [{ id: 'files', title: { en: 'Files' } }, { id: 'calendar', title: { en: 'Calendar' } }, { id: 'contacts', title: { en: 'Contacts' } }] },
        { id: 'publishing', title: { en: 'Publishing', fr: 'Publication' }, description: { en: 'Websites, blogs, wikis', fr: 'Sites, blogs, wikis' }, icon: 'globe', subtags: [{ id: 'website', title: { en: 'Website' } }, { id: 'wiki', title: { en: 'Wiki' } }] },
        { id: 'office', title: { en: 'Office', fr: 'Bureautique' }, description: { en: 'Documents, notes, spreadsheets', fr: 'Documents, notes, tableurs' }, icon: 'file-text', subtags: [{ id: 'text', title: { en: 'Text' } }] },
        { id: 'small_utilities', title: { en: 'Small utilities', fr: 'Petits utilitaires' }, description: { en: 'Small tools', fr: 'Petits outils' }, icon: 'wrench', subtags: [] },
      ],
      antifeatures: [{ id: 'non-free-network', title: { en: 'Non-free network' }, description: { en: 'Depends on a non-free network service' }, icon: 'globe' }],
    };
    const catalogFile = join(dir, 'default', 'v3', 'apps.json');
    await mkdir(join(dir, 'default', 'v3'), { recursive: true });
    await writeFile(catalogFile, JSON.stringify(sortKeys(catalog)));

    return { dir, catalogUrl: `${baseUrl}/default/v3/apps.json`, catalogFile, catalog, gitUrl, revision, source, manifestToml, manifest };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
