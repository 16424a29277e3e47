/**
 * The tests' stand-ins for what cannot be reached from here — YunoHost's apt repository, its app
 * catalog, the app's git repository, and YunoHost itself — checked with the real tools on the
 * host: apt-get (its state, cache and configuration all in a temporary folder: the host's apt
 * is not touched) trusts the signed repository with its key and refuses it with another one;
 * git clones the test app over HTTP; the catalog is what YunoHost reads; and the STAND-IN
 * `yunohost` script, taken from the built package, runs under a temporary root
 * (YNH_STANDIN_ROOT) with a stub apt-get recording what the test app asks of it.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSignedAptRepo, type SignedAptRepo } from '../support/apt-repo.ts';
import { serveDir, type StaticServer } from '../support/static-server.ts';
import { YUNOHOST_STANDIN_VERSION, yunohostStandinPackages } from '../support/yunohost-standin.ts';
import { makeTestApp, TESTAPP_SOURCE_MARKER, type CatalogV3, type TestApp } from '../support/ynh-test-app.ts';

const TIMEOUT = 60_000;
const GREETING = 'Bonjour from the lab, "offline" & <safe> 100% é';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(argv: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { env: { ...process.env, LC_ALL: 'C', ...opts.env }, cwd: opts.cwd, encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

let scratch: string;
let www: string;
let server: StaticServer;
let repo: SignedAptRepo;
let app: TestApp;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'clic-stand-ins-test-'));
  www = join(scratch, 'www');
  await mkdir(www);
  server = await serveDir(www);
  const archDependent = (architecture: string) => ({
    name: 'clic-archdep',
    version: `1.0+${architecture}`,
    architecture,
    description: `a package built for ${architecture} only`,
    files: { '/usr/share/clic-archdep/arch': `${architecture}\n` },
  });
  repo = await makeSignedAptRepo(join(www, 'apt'), {
    packages: [...yunohostStandinPackages(), archDependent('amd64'), archDependent('arm64')],
    suite: 'bookworm',
    component: 'main',
    architectures: ['amd64', 'arm64'],
  });
  app = await makeTestApp(www, { baseUrl: server.url });
}, TIMEOUT);

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** A raw GET or HEAD (no URL normalisation by the client: '..' is sent as written). */
function get(path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serveDir', () => {
  it('serves the files of its folder with their length, HEAD without a body, and records the requests', async () => {
    await writeFile(join(www, 'hello.txt'), 'hello\n');
    const got = await get('/hello.txt?x=1');
    expect(got).toMatchObject({ status: 200, body: 'hello\n' });
    expect(got.headers['content-length']).toBe('6');
    const head = await get('/hello.txt', 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(head.headers['content-length']).toBe('6');
    expect(server.requests).toContainEqual({ method: 'GET', path: '/hello.txt?x=1', status: 200 });
    expect(server.requests).toContainEqual({ method: 'HEAD', path: '/hello.txt', status: 200 });
  });

  it('answers 404 for a missing file or a folder, 405 for other methods, 403 for a way out of the folder', async () => {
    await writeFile(join(scratch, 'secret.txt'), 'not served\n');
    expect((await get('/nothing-here')).status).toBe(404);
    expect((await get('/apt/')).status).toBe(404);
    expect((await get('/apt')).status).toBe(404);
    expect((await get('/hello.txt', 'POST')).status).toBe(405);
    for (const path of ['/../secret.txt', '/apt/../../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/apt/%2E%2E/%2E%2E/secret.txt']) {
      const got = await get(path);
      expect(got.status, path).toBe(403);
      expect(got.body).not.toContain('not served');
    }
  });
});

/** apt-get or apt-cache with every folder and setting of its own under `dir`: the host's apt is left alone. */
async function privateApt(dir: string, keyFile: string, arch: string) {
  for (const d of ['state/lists/partial', 'cache/archives/partial', 'etc/sources.list.d', 'etc/apt.conf.d', 'etc/preferences.d', 'etc/trusted.gpg.d', 'log']) await mkdir(join(dir, d), { recursive: true });
  await writeFile(join(dir, 'status'), '');
  await writeFile(
    join(dir, 'etc/sources.list.d/clic-test.sources'),
    ['Types: deb', `URIs: ${server.url}/apt/`, 'Suites: bookworm', 'Components: main', `Signed-By: ${keyFile}`, ''].join('\n'),
  );
  const conf = join(dir, 'apt.conf');
  // read before anything else (APT_CONFIG): the host's apt.conf.d and sources are never read
  await writeFile(
    conf,
    [
      `Dir::State "${dir}/state";`,
      `Dir::State::status "${dir}/status";`,
      `Dir::Cache "${dir}/cache";`,
      `Dir::Log "${dir}/log";`,
      `Dir::Etc "${dir}/etc";`,
      `Dir::Etc::main "/dev/null";`,
      `Dir::Etc::parts "${dir}/etc/apt.conf.d";`,
      `Dir::Etc::SourceList "/dev/null";`,
      `Dir::Etc::SourceParts "${dir}/etc/sources.list.d";`,
      `Dir::Etc::Preferences "/dev/null";`,
      `Dir::Etc::PreferencesParts "${dir}/etc/preferences.d";`,
      `Dir::Etc::Trusted "${dir}/etc/trusted.gpg";`,
      `Dir::Etc::TrustedParts "${dir}/etc/trusted.gpg.d";`,
      `APT::Architecture "${arch}";`,
      `APT::Architectures { "${arch}"; };`,
      // the key file is in a private temporary folder: no switch to the _apt user
      'APT::Sandbox::User "root";',
      'Acquire::Languages "none";',
      'Acquire::http::Proxy::127.0.0.1 "DIRECT";',
      'Debug::NoLocking "true";',
      '',
    ].join('\n'),
  );
  const env = { APT_CONFIG: conf };
  return {
    update: () => run(['apt-get', '-q', 'update'], { env }),
    policy: (...names: string[]) => run(['apt-cache', 'policy', ...names], { env }),
  };
}

describe('makeSignedAptRepo, used by apt-get', { timeout: TIMEOUT }, () => {
  it('lays out a signed repository with a fixed date, for both architectures', async () => {
    const release = await readFile(join(repo.dir, 'dists/bookworm/Release'), 'utf8');
    expect(release).toMatch(/^Suite: bookworm$/m);
    expect(release).toMatch(/^Architectures: amd64 arm64$/m);
    expect(release).toMatch(/^Components: main$/m);
    expect(release).toMatch(/^Date: Thu, 01 Jan 2026 00:00:00 UTC$/m);
    expect(release).toMatch(/ main\/binary-arm64\/Packages\.gz$/m);
    expect(await readFile(join(repo.dir, 'dists/bookworm/InRelease'), 'utf8')).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----/);
    expect(await readFile(join(repo.dir, 'dists/bookworm/Release.gpg'), 'utf8')).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
    expect(await readFile(repo.keyFile, 'utf8')).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    expect(repo.fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(repo.otherFingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(repo.otherFingerprint).not.toBe(repo.fingerprint);
    for (const arch of ['amd64', 'arm64']) {
      const packages = await readFile(join(repo.dir, `dists/bookworm/main/binary-${arch}/Packages`), 'utf8');
      expect(packages).toMatch(/^Package: yunohost$/m);
      expect(packages).toContain(`\nFilename: pool/main/y/yunohost/yunohost_${YUNOHOST_STANDIN_VERSION}_all.deb\n`);
      expect(packages).toMatch(new RegExp(`^Version: 1\\.0\\+${arch}$`, 'm'));
      expect(packages).not.toMatch(new RegExp(`^Version: 1\\.0\\+${arch === 'amd64' ? 'arm64' : 'amd64'}$`, 'm'));
    }
    const contents = await run(['dpkg-deb', '--contents', join(repo.dir, repo.debs.yunohost_all)]);
    expect(contents.stdout).toMatch(/^-rwxr-xr-x root\/root .* \.\/usr\/bin\/yunohost$/m);
    // the real package's relations, as the trial's build of YunoHost 12.1 declares them
    const fields = await run(['dpkg-deb', '--field', join(repo.dir, repo.debs.yunohost_all)]);
    expect(fields.stdout).toMatch(/^Essential: yes$/m);
    expect(fields.stdout).toMatch(/^Conflicts: .*\bsystemd-resolved\b/m);
    expect(fields.stdout).toMatch(/^Depends: .*\bsudo-ldap, .*\bresolvconf, .*$/m);
    expect(fields.stdout).toMatch(/^Depends: .*\bpython3-sdbus, /m);
    expect(fields.stdout).toMatch(/^Recommends: yunohost-admin \(>= 12\.1\), yunohost-portal \(>= 12\.1\), /m);
    expect((await run(['dpkg-deb', '--field', join(repo.dir, repo.debs.ssowat_all), 'Depends'])).stdout).toMatch(/^nginx-extras \(>= 1\.6\.2\), lua-json/);
  });

  it.each(['amd64', 'arm64'])('apt-get update trusts it with its key (%s), and sees its packages and those of architecture all', async (arch) => {
    const apt = await privateApt(await mkdtemp(join(scratch, `apt-${arch}-`)), repo.keyFile, arch);
    const update = await apt.update();
    expect(update.code, update.stdout + update.stderr).toBe(0);
    expect(update.stdout + update.stderr).not.toMatch(/^(W|E):/m);
    const policy = await apt.policy('yunohost', 'yunohost-admin', 'clic-archdep');
    expect(policy.code, policy.stderr).toBe(0);
    expect(policy.stdout).toMatch(new RegExp(`^yunohost:\\n\\s+Installed: \\(none\\)\\n\\s+Candidate: ${YUNOHOST_STANDIN_VERSION.replace(/[.+~]/g, '\\$&')}$`, 'm'));
    expect(policy.stdout).toMatch(new RegExp(`^yunohost-admin:\\n\\s+Installed: \\(none\\)\\n\\s+Candidate: ${YUNOHOST_STANDIN_VERSION.replace(/[.+~]/g, '\\$&')}$`, 'm'));
    expect(policy.stdout).toMatch(new RegExp(`^clic-archdep:\\n\\s+Installed: \\(none\\)\\n\\s+Candidate: 1\\.0\\+${arch}$`, 'm'));
    expect(policy.stdout).toContain(`${server.url}/apt bookworm/main ${arch} Packages`);
  });

  it('apt-get update refuses it with another key: not signed, NO_PUBKEY', async () => {
    const apt = await privateApt(await mkdtemp(join(scratch, 'apt-wrong-key-')), repo.otherKeyFile, 'amd64');
    const update = await apt.update();
    const output = update.stdout + update.stderr;
    expect(update.code).not.toBe(0);
    // apt names the key that signed: the long key id, the fingerprint's last 16 digits
    expect(output).toContain(`NO_PUBKEY ${repo.fingerprint.slice(-16)}`);
    expect(output).toMatch(/is not signed/);
    const policy = await apt.policy('yunohost');
    expect(policy.stdout).not.toMatch(/Candidate: 12\.0\.0/);
  });
});

describe('makeTestApp', { timeout: TIMEOUT }, () => {
  it('git clones the app over dumb HTTP, at the recorded revision, with its manifest v2 and scripts', async () => {
    const clone = join(scratch, 'clone');
    const cloned = await run(['git', 'clone', '-q', app.gitUrl, clone], { env: { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0' } });
    expect(cloned.code, cloned.stderr).toBe(0);
    expect((await run(['git', '-C', clone, 'rev-parse', 'HEAD'])).stdout.trim()).toBe(app.revision);
    expect((await run(['git', '-C', clone, 'symbolic-ref', 'HEAD'])).stdout.trim()).toBe('refs/heads/main');
    const manifest = await readFile(join(clone, 'manifest.toml'), 'utf8');
    expect(manifest).toBe(app.manifestToml);
    for (const line of [
      /^packaging_format = 2$/m,
      /^id = "testapp"$/m,
      /^version = "1\.0~ynh1"$/m,
      /^\[integration\]\nyunohost = ">= 11\.2"$/m,
      /^architectures = "all"$/m,
      /^\[install\.domain\]\ntype = "domain"$/m,
      /^\[install\.path\]\ntype = "path"\ndefault = "\/testapp"$/m,
      /^\[install\.init_main_permission\]\ntype = "group"\ndefault = "visitors"$/m,
      /^\[resources\.apt\]\npackages = "qrencode"$/m,
    ]) expect(manifest).toMatch(line);
    // the greeting question has no default: an answer is required
    expect(manifest).toMatch(/^\[install\.greeting\]\nask\.en = "Greeting shown on the page"\n(?:ask\.\w+ = .*\n)*type = "string"\n\n/m);
    for (const arch of ['amd64', 'arm64']) {
      expect(manifest).toContain(`${arch}.url = "${app.source.url}"`);
      expect(manifest).toContain(`${arch}.sha256 = "${app.source.sha256}"`);
    }
    const tree = (await run(['git', '-C', clone, 'ls-tree', '-r', 'HEAD'])).stdout;
    expect(tree).toMatch(/^100755 blob \w+\tscripts\/install$/m);
    expect(tree).toMatch(/^100755 blob \w+\tscripts\/remove$/m);
    expect(server.requests.some((r) => r.path.startsWith('/testapp_ynh.git/info/refs'))).toBe(true);
  });

  it('serves the source, whose checksum and content are the recorded ones', async () => {
    const bytes = await readFile(app.source.file);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(app.source.sha256);
    expect(bytes.length).toBe(app.source.size);
    const head = await get(new URL(app.source.url).pathname, 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(app.source.size);
    const listing = await run(['tar', '-tzvf', app.source.file]);
    expect(listing.stdout).toMatch(/ testapp-1\.0\/index\.html$/m);
    const page = await run(['tar', '-xzOf', app.source.file, 'testapp-1.0/index.html']);
    expect(page.stdout).toContain(TESTAPP_SOURCE_MARKER);
  });

  it('writes a v3 catalog: the test app at its revision, manifests without install and resources, other apps', async () => {
    const catalog = JSON.parse(await (await fetch(app.catalogUrl)).text()) as CatalogV3;
    expect(app.catalogUrl).toBe(`${server.url}/default/v3/apps.json`);
    expect(Object.keys(catalog)).toEqual(['antifeatures', 'apps', 'categories']);
    expect(Object.keys(catalog.apps).sort()).toEqual(['hedgedoc', 'nextcloud', 'testapp', 'yeswiki']);
    const testapp = catalog.apps.testapp;
    expect(testapp.git).toEqual({ branch: 'main', revision: app.revision, url: app.gitUrl });
    expect(testapp).toMatchObject({ id: 'testapp', state: 'working', level: 8, logo_hash: null });
    expect(testapp.manifest).toMatchObject({ packaging_format: 2, id: 'testapp', version: '1.0~ynh1', integration: { yunohost: '>= 11.2', architectures: 'all' } });
    expect(testapp.manifest.description).toEqual(app.manifest.description);
    // as list_builder.py publishes it: the questions and resources are only in the package
    for (const entry of Object.values(catalog.apps)) {
      expect(entry.manifest).not.toHaveProperty('install');
      expect(entry.manifest).not.toHaveProperty('resources');
      expect(entry.git.revision).toMatch(/^[0-9a-f]{40}$/);
      expect(entry.state).toBe('working');
    }
    expect(catalog.categories.map((c) => c.id)).toContain(testapp.category);
  });

  it('gives the same revision and source for the same base URL', async () => {
    const again = await makeTestApp(join(scratch, 'again'), { baseUrl: server.url, fullManifestsInCatalog: true });
    expect(again.revision).toBe(app.revision);
    expect(again.source.sha256).toBe(app.source.sha256);
    expect(again.catalog.apps.testapp.manifest).toHaveProperty('resources.apt.packages', 'qrencode');
  });
});

describe('the STAND-IN yunohost command (from its package), under a temporary root', { timeout: TIMEOUT }, () => {
  let yunohost: string;
  let root: string;
  let stubs: string;
  let pkg: string;

  beforeAll(async () => {
    const extracted = join(scratch, 'yunohost-deb');
    const x = await run(['dpkg-deb', '-x', join(repo.dir, repo.debs.yunohost_all), extracted]);
    expect(x.code, x.stderr).toBe(0);
    yunohost = join(extracted, 'usr/bin/yunohost');
    root = join(scratch, 'root');
    await mkdir(root);
    // apt-get as the test app calls it: recorded, never run
    stubs = join(scratch, 'stubs');
    await mkdir(stubs);
    await writeFile(join(stubs, 'apt-get'), `#!/bin/sh\necho "$*" >> "${stubs}/apt-get.calls"\necho "stub apt-get $*"\n`);
    await chmod(join(stubs, 'apt-get'), 0o755);
    pkg = join(scratch, 'testapp-package');
    const cloned = await run(['git', 'clone', '-q', app.gitUrl, pkg]);
    expect(cloned.code, cloned.stderr).toBe(0);
  });

  const env = () => ({ YNH_STANDIN_ROOT: root, PATH: `${stubs}:${process.env.PATH ?? '/usr/bin:/bin'}` });
  const ynh = (...args: string[]) => run(['bash', yunohost, ...args], { env: env() });
  const inRoot = (path: string) => join(root, path);
  const stageSource = async (bytes?: Buffer) => {
    await mkdir(inRoot('var/cache/yunohost/download/testapp'), { recursive: true });
    await writeFile(inRoot('var/cache/yunohost/download/testapp/main'), bytes ?? (await readFile(app.source.file)));
  };
  const ARGS = new URLSearchParams({ domain: 'clic.local', greeting: GREETING }).toString();

  it('is marked as a stand-in, and refuses what it does not implement', async () => {
    expect(await readFile(yunohost, 'utf8')).toMatch(/STAND-IN for YunoHost/);
    const unknown = await ynh('domain', 'list');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^Error: .*'yunohost domain list' is not implemented/m);
    const early = await ynh('app', 'install', pkg, '--args', ARGS);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain("YunoHost is not installed yet: run 'yunohost tools postinstall' first");
  });

  it('tools postinstall: checks the password and DynDNS, configures once', async () => {
    const base = ['tools', 'postinstall', '--domain', 'clic.local', '--username', 'clic', '--fullname', 'Kit admin', '--force-diskspace'];
    const short = await ynh(...base, '--password', 'short');
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('The password needs to be at least 8 characters long');
    const dyndns = await ynh('tools', 'postinstall', '--domain', 'kit.nohost.me', '--username', 'clic', '--fullname', 'Kit admin', '--password', 'long enough', '--force-diskspace');
    expect(dyndns.code).toBe(1);
    expect(dyndns.stderr).toContain('Unable to reach DynDNS provider');
    expect(existsSync(inRoot('etc/yunohost/installed'))).toBe(false);

    const done = await ynh(...base, '--password', 'long enough', '--ignore-dyndns');
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/^Success! YunoHost is now configured$/m);
    expect(existsSync(inRoot('etc/yunohost/installed'))).toBe(true);
    expect(await readFile(inRoot('etc/yunohost/current_host'), 'utf8')).toBe('clic.local\n');
    const admins = await readFile(inRoot('etc/yunohost/clic-standin-admins'), 'utf8');
    expect(admins).toBe('clic\tKit admin\n');
    expect(done.stdout + done.stderr).not.toContain('long enough');

    const again = await ynh(...base, '--password', 'long enough');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^Error: YunoHost is already installed$/m);
  });

  it('firewall: the real default opens mail and UPnP too; close (with --no-reload) and open as the real one', async () => {
    const rules = async () => readFile(inRoot('etc/nftables.d/yunohost-firewall.conf'), 'utf8');
    // what the package's postinst does (its firewall.yml), then a regen of the firewall
    expect((await ynh('--standin-package-init')).code).toBe(0);
    const regen = await ynh('tools', 'regen-conf', 'nftables', '--force');
    expect(regen.code, regen.stderr).toBe(0);
    expect(await rules()).toMatch(/tcp dport \{ 22, 25, 80, 443, 587, 993 \} accept/);
    expect(await rules()).toMatch(/udp dport \{ 53, 1900, 5353, 55354 \} accept/);
    const quiet = await ynh('firewall', 'close', '25', '-p', 'tcp', '--no-reload');
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(await rules()).toMatch(/tcp dport \{ 22, 25, 80/); // not reloaded yet
    const again = await ynh('firewall', 'close', '25', '-p', 'tcp', '--no-reload');
    expect(again.stderr + again.stdout).toContain('Port 25 is already closed for tcp connections');
    for (const [port, proto] of [['587', 'tcp'], ['993', 'tcp'], ['1900', 'udp'], ['55354', 'udp']]) expect((await ynh('firewall', 'close', port, '-p', proto, '--no-reload')).code).toBe(0);
    const open = await ynh('firewall', 'open', '67', 'DHCP', '-p', 'udp');
    expect(open.code, open.stderr).toBe(0);
    const ports = async (proto: string) => (new RegExp(`${proto} dport \\{ ([^}]*) \\}`).exec(await rules())?.[1] ?? '').split(', ').map(Number).sort((a, b) => a - b);
    expect(await ports('tcp')).toEqual([22, 80, 443]);
    expect(await ports('udp')).toEqual([53, 67, 5353]);
  });

  it('app install: like the real one, needs the catalog cache even for a local folder', async () => {
    const missing = await ynh('app', 'install', pkg, '--args', ARGS);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('The app catalog cache is empty or obsolete.');
    expect(missing.stderr).toMatch(/Unable to download the default app catalog/);
    // the served document lacks from_api_version, which YunoHost adds when it saves it
    await mkdir(inRoot('var/cache/yunohost/repo'), { recursive: true });
    const served = await readFile(app.catalogFile, 'utf8');
    await writeFile(inRoot('var/cache/yunohost/repo/default.json'), served);
    expect((await ynh('app', 'install', pkg, '--args', ARGS)).stderr).toMatch(/Unable to download the default app catalog/);
    await writeFile(inRoot('var/cache/yunohost/repo/default.json'), JSON.stringify({ ...JSON.parse(served), from_api_version: 3 }));
    expect(existsSync(inRoot('etc/yunohost/apps/testapp'))).toBe(false);

    const byId = await ynh('app', 'install', 'testapp', '--args', ARGS);
    expect(byId.code).toBe(1);
    expect(byId.stderr).toMatch(/clone its git repository, which needs the network/);
    const unknown = await ynh('app', 'install', 'nosuchapp');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^Error: Unknown app$/m);
  });

  it('app install: a required answer missing, or a domain that is not the main one, is refused before anything is written', async () => {
    const noGreeting = await ynh('app', 'install', pkg, '--args', 'domain=clic.local');
    expect(noGreeting.code).toBe(1);
    expect(noGreeting.stderr).toMatch(/argument 'greeting'/);
    const otherDomain = await ynh('app', 'install', pkg, '--args', new URLSearchParams({ domain: 'elsewhere.org', greeting: 'hi' }).toString());
    expect(otherDomain.code).toBe(1);
    expect(otherDomain.stderr).toMatch(/argument 'domain': 'elsewhere\.org' is not among the available choices \(clic\.local\)/);
    expect(existsSync(inRoot('etc/yunohost/apps/testapp'))).toBe(false);
  });

  it('app install: a failing install script (source not staged, or not the right one) is cleaned up', async () => {
    const notStaged = await ynh('app', 'install', pkg, '--args', ARGS);
    expect(notStaged.code).toBe(1);
    expect(notStaged.stdout).toContain('testapp install: start');
    expect(notStaged.stdout).toMatch(/the source is not in YunoHost's download cache/);
    expect(notStaged.stderr).toMatch(/^Error: Installation of testapp failed/m);
    expect(notStaged.stdout).toContain('testapp remove: done');
    expect(existsSync(inRoot('etc/yunohost/apps/testapp'))).toBe(false);

    await stageSource(Buffer.from('not the source'));
    const wrong = await ynh('app', 'install', pkg, '--args', ARGS);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/the source's sha256 is [0-9a-f]{64}, the manifest says '[0-9a-f]{64}'/);
    expect(existsSync(inRoot('etc/yunohost/apps/testapp'))).toBe(false);
    // emptied after the install, failed or not
    expect(existsSync(inRoot('var/cache/yunohost/download/testapp'))).toBe(false);
    expect(existsSync(join(stubs, 'apt-get.calls'))).toBe(false);
  });

  it('app install: installs the staged source with the answers, lists the app, empties the download cache', async () => {
    await stageSource();
    const installed = await ynh('app', 'install', pkg, '--args', ARGS);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    expect(installed.stdout).toMatch(/testapp install: start\n(?:.*\n)*testapp install: done\n(?:.*\n)*Success! Installation completed/);
    expect(await readFile(join(stubs, 'apt-get.calls'), 'utf8')).toBe('install -y qrencode\n');
    expect(await readFile(inRoot('var/www/testapp/greeting.txt'), 'utf8')).toBe(`${GREETING}\n`);
    expect(await readFile(inRoot('var/www/testapp/index.html'), 'utf8')).toContain(TESTAPP_SOURCE_MARKER);
    const settings = await readFile(inRoot('etc/yunohost/apps/testapp/settings.yml'), 'utf8');
    expect(settings).toMatch(/^id: 'testapp'$/m);
    expect(settings).toMatch(/^domain: 'clic\.local'$/m);
    expect(settings).toMatch(/^path: '\/testapp'$/m);
    expect(settings).toMatch(/^init_main_permission: 'visitors'$/m);
    expect((await stat(inRoot('etc/yunohost/apps/testapp/scripts/remove'))).isFile()).toBe(true);
    expect(existsSync(inRoot('var/cache/yunohost/download/testapp'))).toBe(false);

    const list = await ynh('app', 'list', '--output-as', 'json');
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual({
      apps: [{ id: 'testapp', name: 'Test app', description: (app.manifest.description as { en: string }).en, version: '1.0~ynh1', domain_path: 'clic.local/testapp' }],
    });
    expect((await ynh('app', 'list', '--output-as', 'plain')).stdout).toMatch(/^##id\ntestapp\n##name\nTest app\n/);

    const again = await ynh('app', 'install', pkg, '--args', ARGS);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^Error: testapp is already installed$/m);
  });

  it('app remove: runs the app\u2019s remove script and forgets it', async () => {
    const removed = await ynh('app', 'remove', 'testapp');
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('testapp remove: done');
    expect(existsSync(inRoot('var/www/testapp'))).toBe(false);
    expect(existsSync(inRoot('etc/yunohost/apps/testapp'))).toBe(false);
    expect(JSON.parse((await ynh('app', 'list', '--output-as', 'json')).stdout)).toEqual({ apps: [] });
    const unknown = await ynh('app', 'remove', 'testapp');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Could not find testapp in the list of installed apps/);
  });

  it('a power cut during the install script leaves the app half-installed, listed as the real one lists it', async () => {
    // the package, with an install script that waits to be killed
    const slow = join(scratch, 'slow-package');
    await run(['cp', '-a', pkg, slow]);
    await writeFile(join(slow, 'scripts/install'), '#!/bin/bash\necho "testapp install: waiting"\nsleep 30\n');
    await stageSource();
    // its own process group, so that the whole of it dies at once, as in a power cut
    const child = spawn('bash', [yunohost, 'app', 'install', slow, '--args', ARGS], { env: { ...process.env, ...env() }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('testapp install: waiting')) resolve();
      });
      child.on('exit', () => reject(new Error(`the install ended before waiting:\n${out}`)));
    });
    process.kill(-child.pid!, 'SIGKILL');
    await exited;

    expect(existsSync(inRoot('etc/yunohost/apps/testapp/settings.yml'))).toBe(true);
    const list = JSON.parse((await ynh('app', 'list', '--output-as', 'json')).stdout) as { apps: { id: string }[] };
    expect(list.apps.map((a) => a.id)).toEqual(['testapp']);
    expect((await ynh('app', 'install', pkg, '--args', ARGS)).stderr).toMatch(/testapp is already installed/);
    // how a resume gets out of it: remove, then install again
    expect((await ynh('app', 'remove', 'testapp')).code).toBe(0);
    await stageSource();
    const resumed = await ynh('app', 'install', pkg, '--args', ARGS);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(await readFile(inRoot('var/www/testapp/greeting.txt'), 'utf8')).toBe(`${GREETING}\n`);
  });
});
