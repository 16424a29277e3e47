/**
 * YunoHost's first boot, run on the build host: the image's own
 * overlays/yunohost/usr/lib/clic/clic-yunohost (bash, as clic-yunohost.service runs it) with
 * CLIC_ROOT pointing at a temporary root laid out as the build stages it (settings.env, the
 * layer's defaults, /var/lib/clic/apps/<id>/{package,sources,args}, the offline apt source), and
 * STAND-INS first in PATH: a stand-in `yunohost` (not YunoHost — it records each call, marks the
 * postinstall done and empties the download cache after an install, as YunoHost does), a
 * stand-in `apt-get` and a stand-in `df` (the root file system's size). The generated password's
 * "console" is a file (CLIC_CONSOLE); stdout is what the journal gets.
 *
 *   const kit = makeKit({ apps: ['alpha', 'beta'] });
 *   const r = await kit.run();            // r.stdout: the journal; kit.calls(): what yunohost was asked
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/paths.ts';

const SCRIPT = join(ROOT, 'overlays/yunohost/usr/lib/clic/clic-yunohost');
const GiB = 1024 ** 3;
const ARGS = 'domain=clic.local&path=%2Fwiki&init_main_permission=visitors';
const scratch = mkdtempSync(join(tmpdir(), 'clic-yunohost-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let kits = 0;

// Stand-in of YunoHost's CLI: the commands clic-yunohost uses, answered as YunoHost would.
// Control files in its folder: postinstall-fails, fail-<id>, app-list.json.
const YUNOHOST_STANDIN = String.raw`#!/bin/bash
# STAND-IN for yunohost (test/unit/yunohost-firstboot.test.ts), not YunoHost: records the call.
set -u
dir=$CLIC_TEST_STANDIN
{ printf '%s\x1f' yunohost "$@"; printf '\x1e'; } >>"$dir/calls"
case "$1 $2" in
"tools postinstall")
  echo "Info: Installing YunoHost..."
  if [ -e "$dir/postinstall-fails" ]; then
    echo "Info: Creating the LDAP database..."
    echo "Error: Unable to reach slapd"
    exit 1
  fi
  mkdir -p "$CLIC_ROOT/etc/yunohost" && touch "$CLIC_ROOT/etc/yunohost/installed"
  while [ $# -gt 0 ]; do [ "$1" = --domain ] && echo "$2" >"$CLIC_ROOT/etc/yunohost/current_host"; shift; done
  echo "Success! YunoHost is now configured"
  ;;
"app list")
  cat "$dir/app-list.json" 2>/dev/null || echo '{"apps": []}'
  ;;
"app install")
  id=$(basename "$(dirname "$3")")
  cache=$CLIC_ROOT/var/cache/yunohost/download/$id
  # what the download cache holds when the install starts
  { printf '%s\x1f' cache "$id"; for f in "$cache"/*; do [ -f "$f" ] && printf '%s\x1f' "$(basename "$f"):$(cat "$f")"; done; printf '\x1e'; } >>"$dir/calls"
  rm -rf "$cache" # YunoHost empties it after every install
  echo "Info: Installing $id..."
  if [ -e "$dir/fail-$id" ]; then
    echo "Warning: the app's source was taken from the cache"
    echo "Error: Could not install \"$id\": step \"ynh_setup_source\" failed in C:\\temp\\$id"
    echo "Info: The operation 'Install the $id app' could not be completed."
    exit 1
  fi
  mkdir -p "$CLIC_ROOT/etc/yunohost/apps/$id"
  echo "Success! Installation completed"
  ;;
"app remove")
  rm -rf "$CLIC_ROOT/etc/yunohost/apps/$3"
  echo "Success! App removed"
  ;;
"firewall open" | "firewall close" | "settings set")
  [ ! -e "$dir/settings-fail" ] || { echo "Error: could not reload the firewall"; exit 1; }
  echo "Success! Done"
  ;;
"user ssh")
  mkdir -p "$CLIC_ROOT/home/$4/.ssh" && printf '%s\n' "$5" >>"$CLIC_ROOT/home/$4/.ssh/authorized_keys"
  echo "Success! SSH key added"
  ;;
*)
  echo "stand-in yunohost: unexpected call: $*" >&2
  exit 64
  ;;
esac
`;

const APT_GET_STANDIN = String.raw`#!/bin/bash
# STAND-IN for apt-get (test/unit/yunohost-firstboot.test.ts): records the call.
{ printf '%s\x1f' apt-get "$@"; printf '\x1e'; } >>"$CLIC_TEST_STANDIN/calls"
echo "Get:1 file:/var/lib/clic/offline-apt ./ Packages [1 kB]"
`;

// One file system, of the size the test gives, for / and /var.
const DF_STANDIN = `#!/bin/sh
# STAND-IN for df (test/unit/yunohost-firstboot.test.ts): one file system of CLIC_TEST_DF_BYTES.
echo "Filesystem 1-blocks Used Available Capacity Mounted on"
echo "/dev/vda2 $CLIC_TEST_DF_BYTES 0 $CLIC_TEST_DF_BYTES 0% /"
`;

interface KitOptions {
  apps?: string[];
  /** yunohost_password; empty: generated. */
  password?: string;
  postinstall?: 'auto' | 'web';
  fullname?: string;
  diskBytes?: number;
  /** Whether the image carries the offline apt source. */
  offlineApt?: boolean;
  /** admin_ssh_key of the settings file. */
  adminKey?: string;
}

interface Status {
  postinstall: string;
  max_attempts: number;
  apps: { id: string; state: string; attempts: number; message?: string }[];
  updated: number;
}

function exec(argv: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // bash reads ~/.bashrc when its stdin is a socket (node's pipes are): --norc keeps it out
    execFile('bash', ['--norc', ...argv], { env, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** A root as the image has it at first boot, and the stand-ins in their own folder. */
function makeKit(opts: KitOptions = {}) {
  const dir = join(scratch, `kit-${++kits}`);
  const root = join(dir, 'root');
  const standin = join(dir, 'stand-ins');
  const consoleFile = join(dir, 'console');
  const apps = opts.apps ?? ['alpha', 'beta'];
  mkdirSync(standin, { recursive: true });
  for (const [name, text] of [['yunohost', YUNOHOST_STANDIN], ['apt-get', APT_GET_STANDIN], ['df', DF_STANDIN]]) {
    writeFileSync(join(standin, name), text);
    chmodSync(join(standin, name), 0o755);
  }
  const write = (path: string, text: string, mode = 0o644) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text, { mode });
  };
  write('etc/clic/defaults.d/yunohost.conf', '# Defaults of the yunohost layer\nyunohost_domain = clic.local\nyunohost_admin = clicadmin\nyunohost_fullname = CLIC Admin\nyunohost_password =\nyunohost_postinstall = auto\n');
  const settings = {
    CLIC_HOSTNAME: 'clic',
    CLIC_YUNOHOST_DOMAIN: 'atelier.local',
    CLIC_YUNOHOST_ADMIN: 'formateur',
    CLIC_YUNOHOST_FULLNAME: opts.fullname ?? "Camille O'Neil",
    CLIC_YUNOHOST_PASSWORD: opts.password ?? '',
    CLIC_YUNOHOST_POSTINSTALL: opts.postinstall ?? 'auto',
    CLIC_ADMIN_SSH_KEY: opts.adminKey ?? '',
  };
  write('run/clic/settings.env', Object.entries(settings).map(([k, v]) => `${k}=${shellQuote(v)}\n`).join(''), 0o600);
  write('var/lib/clic/apps/order', apps.map((a) => `${a}\n`).join(''));
  for (const id of apps) {
    write(`var/lib/clic/apps/${id}/package/manifest.toml`, `packaging_format = 2\nid = "${id}"\n`);
    write(`var/lib/clic/apps/${id}/package/scripts/install`, '#!/bin/bash\n');
    write(`var/lib/clic/apps/${id}/sources/main`, `${id} main source\n`);
    write(`var/lib/clic/apps/${id}/args`, `${ARGS}\n`, 0o600);
  }
  if (opts.offlineApt ?? true) {
    write('etc/apt/sources.list.d/clic-offline.sources', 'Types: deb\nURIs: file:/var/lib/clic/offline-apt\nSuites: ./\nTrusted: yes\n');
    write('var/lib/clic/offline-apt/Packages', 'Package: jq\n\nPackage: libjq1\n\nPackage: libonig5\n');
  }
  const env = {
    PATH: `${standin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    CLIC_ROOT: root,
    CLIC_CONSOLE: consoleFile,
    CLIC_TEST_STANDIN: standin,
    CLIC_TEST_DF_BYTES: String(opts.diskBytes ?? 64 * GiB),
  };
  const appDir = (id: string) => join(root, 'var/lib/clic/apps', id);
  return {
    root,
    standin,
    consoleFile,
    appDir,
    run: (...args: string[]) => exec([SCRIPT, ...args], env),
    /** The stand-ins' calls, in order: argv (with `cache <id> <file>:<content>…` for the download cache at each install). */
    calls(): string[][] {
      const file = join(standin, 'calls');
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8').split('\x1e').filter(Boolean).map((c) => c.split('\x1f').slice(0, -1));
    },
    clearCalls: () => rmSync(join(standin, 'calls'), { force: true }),
    control: (name: string, text = '') => writeFileSync(join(standin, name), text),
    uncontrol: (name: string) => rmSync(join(standin, name), { force: true }),
    status: (): Status => JSON.parse(readFileSync(join(root, 'var/lib/clic/apps/status.json'), 'utf8')),
    state: (id: string) => readFileSync(join(appDir(id), 'state'), 'utf8').trim(),
    setState: (id: string, state: string, attempts?: number) => {
      writeFileSync(join(appDir(id), 'state'), `${state}\n`);
      if (attempts !== undefined) writeFileSync(join(appDir(id), 'attempts'), `${attempts}\n`);
    },
  };
}

/** YunoHost set up at an earlier boot, with the kit's settings that follow the postinstall. */
function setUpEarlier(root: string) {
  mkdirSync(join(root, 'etc/yunohost'), { recursive: true });
  writeFileSync(join(root, 'etc/yunohost/installed'), '');
  mkdirSync(join(root, 'var/lib/clic/yunohost'), { recursive: true });
  writeFileSync(join(root, 'var/lib/clic/yunohost/kit-settings'), '2\n');
}

/** The script's own lines (the rest of stdout is the stand-ins' output, passed through). */
const ownLines = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('clic-yunohost: '));
const calledAs = (calls: string[][], ...prefix: string[]) => calls.findIndex((c) => prefix.every((p, i) => c[i] === p));
const installs = (calls: string[][]) => calls.filter((c) => c[1] === 'app' && c[2] === 'install').map((c) => c[3].split('/').at(-2));

describe('clic-yunohost on the build host, with a stand-in yunohost', () => {
  it('postinstall with the settings: domain, admin, full name, password, --ignore-dyndns; --force-diskspace under 10 GiB', async () => {
    const kit = makeKit({ password: 'a long "admin" password', diskBytes: 4 * GiB });
    const r = await kit.run();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const postinstall = kit.calls().find((c) => c[1] === 'tools' && c[2] === 'postinstall')!;
    expect(postinstall.slice(1)).toEqual([
      'tools', 'postinstall', '--domain', 'atelier.local', '--username', 'formateur', '--fullname', "Camille O'Neil",
      '--password', 'a long "admin" password', '--ignore-dyndns', '--force-diskspace',
    ]);
    expect(ownLines(r.stdout)).toContain("clic-yunohost: postinstall: root file system of 4096 MiB, under YunoHost's 10 GiB: --force-diskspace");
    expect(ownLines(r.stdout)).toContain('clic-yunohost: postinstall: done');
    expect(r.stdout).not.toContain('a long "admin" password');
    // a password from the settings file is the deployer's: nothing shown, nothing kept
    expect(existsSync(kit.consoleFile)).toBe(false);
    expect(existsSync(join(kit.root, 'etc/issue.d/clic-yunohost.issue'))).toBe(false);
    expect(kit.status().postinstall).toBe('done');

    const big = makeKit({ password: 'another-password', diskBytes: 64 * GiB });
    await big.run();
    expect(big.calls().find((c) => c[2] === 'postinstall')).not.toContain('--force-diskspace');
  });

  it('generated password: passed to the stand-in, shown on the "console" and the login screen, never in the journal', async () => {
    const kit = makeKit({ password: '' });
    const r = await kit.run();
    expect(r.code, r.stdout).toBe(0);
    const postinstall = kit.calls().find((c) => c[2] === 'postinstall')!;
    const password = postinstall[postinstall.indexOf('--password') + 1];
    expect(password).toMatch(/^[a-z2-9]{5}(-[a-z2-9]{5}){3}$/);
    expect(password).not.toMatch(/[01ilo]/);
    expect(r.stdout).not.toContain(password);
    expect(r.stdout).not.toMatch(/password[^\n]*?: \S{16,}/i); // what the boot test looks for on the console
    const console = readFileSync(kit.consoleFile, 'utf8');
    expect(console).toMatch(new RegExp(`password[^\\n]*?: ${password}$`, 'm'));
    expect(console).toContain('formateur');
    const issue = join(kit.root, 'etc/issue.d/clic-yunohost.issue');
    expect(readFileSync(issue, 'utf8')).toContain(password);
    expect(statSync(issue).mode & 0o777).toBe(0o600);
    expect(existsSync(join(kit.root, 'var/lib/clic/yunohost/admin-password'))).toBe(false);
    expect(ownLines(r.stdout)).toContain('clic-yunohost: postinstall: the generated admin password is shown on the console and on the local login screen (/etc/issue.d/clic-yunohost.issue)');
    // another device gets another password
    const other = makeKit({ password: '' });
    await other.run();
    expect(readFileSync(other.consoleFile, 'utf8')).not.toContain(password);
  });

  it('order of operations: postinstall, then apt update of the offline source only, then the apps in order', async () => {
    const kit = makeKit({ apps: ['zeta', 'alpha', 'mu'] });
    const r = await kit.run();
    expect(r.code, r.stdout).toBe(0);
    const calls = kit.calls();
    const postinstall = calledAs(calls, 'yunohost', 'tools', 'postinstall');
    const apt = calledAs(calls, 'apt-get', 'update');
    const list = calledAs(calls, 'yunohost', 'app', 'list');
    const firstInstall = calledAs(calls, 'yunohost', 'app', 'install');
    expect(postinstall).toBe(0);
    expect(apt).toBeGreaterThan(postinstall);
    expect(list).toBeGreaterThan(apt);
    expect(firstInstall).toBeGreaterThan(list);
    expect(calls[apt]).toEqual([
      'apt-get', 'update', '-o', `Dir::Etc::SourceList=${kit.root}/etc/apt/sources.list.d/clic-offline.sources`,
      '-o', 'Dir::Etc::SourceParts=-', '-o', 'APT::Get::List-Cleanup=0',
    ]);
    expect(calls[list]).toEqual(['yunohost', 'app', 'list', '--output-as', 'json']);
    expect(installs(calls)).toEqual(['zeta', 'alpha', 'mu']);
    const install = calls[firstInstall];
    expect(install).toEqual(['yunohost', 'app', 'install', join(kit.appDir('zeta'), 'package'), '--args', ARGS, '--force']);
    const own = ownLines(r.stdout);
    const at = (re: RegExp) => own.findIndex((l) => re.test(l));
    expect(at(/^clic-yunohost: postinstall: done$/)).toBeGreaterThanOrEqual(0);
    expect(at(/^clic-yunohost: offline apt: /)).toBeGreaterThan(at(/postinstall: done/));
    expect(own).toContain("clic-yunohost: offline apt: reading the image's local repository /var/lib/clic/offline-apt (3 Debian packages for the apps), no network");
    expect(at(/^clic-yunohost: app zeta: installing \(attempt 1 of 3\)$/)).toBeGreaterThan(at(/offline apt: done/));
    expect(at(/^clic-yunohost: app mu: installed$/)).toBeGreaterThan(at(/app alpha: installed/));
    expect(own.at(-1)).toBe('clic-yunohost: apps: 3 installed, 0 failed');
    for (const id of ['zeta', 'alpha', 'mu']) expect(kit.state(id)).toBe('installed');
    expect(kit.status().apps).toEqual(['zeta', 'alpha', 'mu'].map((id) => ({ id, state: 'installed', attempts: 1 })));
    // the stand-in's output reaches the journal, and each app's log
    expect(r.stdout).toContain('Success! Installation completed');
    expect(readFileSync(join(kit.appDir('mu'), 'install.log'), 'utf8')).toContain('Installing mu');
    expect(statSync(join(kit.appDir('mu'), 'install.log')).mode & 0o777).toBe(0o600);
  });

  it('an image with no offline apt source: that step skipped, no apt-get call', async () => {
    const kit = makeKit({ offlineApt: false });
    const r = await kit.run();
    expect(ownLines(r.stdout)).toContain('clic-yunohost: offline apt: no local repository in this image (its apps need no Debian package), skipped');
    expect(calledAs(kit.calls(), 'apt-get')).toBe(-1);
    expect(installs(kit.calls())).toEqual(['alpha', 'beta']);
  });

  it('copies the staged sources into the download cache before each install, and keeps them staged', async () => {
    const kit = makeKit({ apps: ['alpha', 'beta'] });
    kit.control('fail-alpha');
    await kit.run();
    const caches = kit.calls().filter((c) => c[0] === 'cache');
    expect(caches).toEqual([['cache', 'alpha', 'main:alpha main source'], ['cache', 'beta', 'main:beta main source']]);
    // a retry finds the files again: they were copied, not moved (YunoHost empties its cache)
    kit.uncontrol('fail-alpha');
    kit.clearCalls();
    await kit.run();
    expect(kit.calls().filter((c) => c[0] === 'cache')).toEqual([['cache', 'alpha', 'main:alpha main source']]);
    expect(readFileSync(join(kit.appDir('alpha'), 'sources/main'), 'utf8')).toBe('alpha main source\n');
  });

  it('one app failing: its state, attempts and error line reported (valid JSON with quotes), the next app installed', async () => {
    const kit = makeKit({ apps: ['alpha', 'beta'] });
    kit.control('fail-alpha');
    const r = await kit.run();
    expect(r.code, r.stdout).toBe(0); // apps failing do not fail the unit: the portal shows them
    expect(kit.state('alpha')).toBe('failed');
    expect(kit.state('beta')).toBe('installed');
    const error = 'Error: Could not install "alpha": step "ynh_setup_source" failed in C:\\temp\\alpha';
    const status = kit.status(); // JSON.parse: valid
    expect(status).toEqual({
      postinstall: 'done',
      max_attempts: 3,
      apps: [
        { id: 'alpha', state: 'failed', attempts: 1, message: error },
        { id: 'beta', state: 'installed', attempts: 1 },
      ],
      updated: expect.any(Number),
    });
    expect(Math.abs(status.updated - Date.now() / 1000)).toBeLessThan(60);
    const own = ownLines(r.stdout);
    expect(own).toContain(`clic-yunohost: app alpha: failed (exit status 1, attempt 1 of 3, tried again at the next boot): ${error}`);
    expect(own).toContain("clic-yunohost: app alpha: | Info: The operation 'Install the alpha app' could not be completed.");
    expect(own.at(-1)).toBe('clic-yunohost: apps: 1 installed, 1 failed');
  });

  it('a failed app is tried again at the next boots, 3 attempts in all, then left failed', async () => {
    const kit = makeKit({ apps: ['alpha', 'beta'] });
    kit.control('fail-alpha');
    for (let attempt = 1; attempt <= 3; attempt++) {
      kit.clearCalls();
      await kit.run();
      expect(installs(kit.calls())).toEqual(attempt === 1 ? ['alpha', 'beta'] : ['alpha']);
      expect(kit.status().apps[0]).toMatchObject({ id: 'alpha', state: 'failed', attempts: attempt });
    }
    kit.clearCalls();
    const r = await kit.run();
    expect(kit.calls()).toEqual([]);
    expect(ownLines(r.stdout)).toContain('clic-yunohost: app alpha: failed 3 times, not tried again (see /var/lib/clic/apps/alpha/install.log; rm /var/lib/clic/apps/alpha/attempts to try again)');
    expect(ownLines(r.stdout).at(-1)).toBe('clic-yunohost: apps: 1 installed, 1 failed');
  });

  it('resumes: an app left installing is removed then installed; one YunoHost knows is removed first too; an installed one is skipped', async () => {
    const kit = makeKit({ apps: ['alpha', 'beta', 'gamma'] });
    setUpEarlier(kit.root);
    kit.setState('alpha', 'installed', 1);
    kit.setState('beta', 'installing', 1); // a power cut in the middle of its install
    kit.control('app-list.json', JSON.stringify({ apps: [{ id: 'alpha', name: 'Alpha' }, { id: 'gamma', name: 'Gamma', version: '1.0~ynh1' }] }));
    const r = await kit.run();
    expect(r.code, r.stdout).toBe(0);
    const calls = kit.calls().filter((c) => c[0] === 'yunohost').map((c) => c.slice(1, 4).join(' '));
    expect(calls).toEqual([
      'app list --output-as',
      'app remove beta',
      `app install ${join(kit.appDir('beta'), 'package')}`,
      'app remove gamma',
      `app install ${join(kit.appDir('gamma'), 'package')}`,
    ]);
    const own = ownLines(r.stdout);
    expect(own).toContain('clic-yunohost: postinstall: already done');
    expect(own).toContain('clic-yunohost: app alpha: already installed');
    expect(own.indexOf('clic-yunohost: app beta: resuming: removing the half-installed app')).toBeLessThan(own.indexOf('clic-yunohost: app beta: installing (attempt 2 of 3)'));
    expect(own).toContain('clic-yunohost: app gamma: resuming: removing the half-installed app');
    expect(own).toContain('clic-yunohost: app beta: installed');
    expect(own.at(-1)).toBe('clic-yunohost: apps: 3 installed, 0 failed');
    expect(kit.status().apps.map((a) => [a.id, a.state, a.attempts])).toEqual([['alpha', 'installed', 1], ['beta', 'installed', 2], ['gamma', 'installed', 1]]);
  });

  it('an app interrupted 3 times: removed, then left failed', async () => {
    const kit = makeKit({ apps: ['alpha'] });
    await kit.run();
    kit.setState('alpha', 'installing', 3);
    kit.clearCalls();
    const r = await kit.run();
    expect(kit.calls().filter((c) => c[0] === 'yunohost').map((c) => c.slice(1, 4).join(' '))).toEqual(['app list --output-as', 'app remove alpha']);
    expect(ownLines(r.stdout)).toContain('clic-yunohost: app alpha: interrupted 3 times, not tried again');
    expect(kit.status().apps).toEqual([{ id: 'alpha', state: 'failed', attempts: 3, message: 'its install was interrupted 3 times (power cut or restart)' }]);
  });

  it("after the postinstall, keeps the kit's services working through YunoHost: DHCP through its firewall, mail and UPnP closed, SSH by key only, the admin's key — each once", async () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKitAdminKeyForTheUnitTestOnly000000000000 deployer@lab';
    const kit = makeKit({ apps: [], adminKey: key });
    kit.control('settings-fail');
    let r = await kit.run();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(ownLines(r.stdout)).toContain("clic-yunohost: kit: YunoHost refused a setting (see above); the next boot tries again");
    kit.uncontrol('settings-fail');
    kit.clearCalls();
    r = await kit.run();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(kit.calls().map((c) => c.slice(1).join(' '))).toEqual([
      // YunoHost opens mail and UPnP to every network, the hotspot too: closed, then one reload
      'firewall close 25 -p tcp --no-reload',
      'firewall close 587 -p tcp --no-reload',
      'firewall close 993 -p tcp --no-reload',
      'firewall close 1900 -p udp --no-reload',
      'firewall close 55354 -p udp --no-reload',
      'firewall open 67 CLIC: DHCP of the wifi hotspot -p udp',
      'settings set security.ssh.ssh_password_authentication -v no',
    ]);
    // the key was given at the first run already, to YunoHost's admin user (the settings' one)
    expect(readFileSync(join(kit.root, 'home/formateur/.ssh/authorized_keys'), 'utf8')).toBe(`${key}\n`);
    // the portal's link to YunoHost's user portal: its main domain, where YunoHost serves it
    expect(readFileSync(join(kit.root, 'var/lib/clic/yunohost/nginx-domain.conf'), 'utf8')).toBe('set $clic_yunohost_domain atelier.local;\n');
    kit.clearCalls();
    r = await kit.run();
    expect(kit.calls()).toEqual([]);
  });

  it('a kit whose settings an older image made (version 1: no ports closed) gets them again', async () => {
    const kit = makeKit({ apps: [] });
    setUpEarlier(kit.root);
    writeFileSync(join(kit.root, 'var/lib/clic/yunohost/kit-settings'), '1\n');
    const r = await kit.run();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(kit.calls().map((c) => c.slice(1, 4).join(' '))).toEqual(expect.arrayContaining(['firewall close 25', 'firewall close 55354', 'firewall open 67']));
    expect(readFileSync(join(kit.root, 'var/lib/clic/yunohost/kit-settings'), 'utf8').trim()).toBe('2');
  });

  it('a second run with everything done calls neither yunohost nor apt-get', async () => {
    const kit = makeKit({ password: '' });
    await kit.run();
    const console = readFileSync(kit.consoleFile, 'utf8');
    kit.clearCalls();
    const r = await kit.run();
    expect(r.code).toBe(0);
    expect(kit.calls()).toEqual([]);
    expect(ownLines(r.stdout)).toEqual([
      'clic-yunohost: postinstall: already done',
      'clic-yunohost: app alpha: already installed',
      'clic-yunohost: app beta: already installed',
      'clic-yunohost: apps: 2 installed, 0 failed',
    ]);
    expect(readFileSync(kit.consoleFile, 'utf8')).toBe(console); // the password is shown once
    expect(kit.status().postinstall).toBe('done');
    expect((await kit.run('apps')).stdout).not.toMatch(/installing/);
    expect(kit.calls()).toEqual([]);
  });

  it('web: no postinstall, no app installed, the status says web; `apps` installs them once YunoHost is set up', async () => {
    const kit = makeKit({ postinstall: 'web' });
    const r = await kit.run();
    expect(r.code).toBe(0);
    expect(kit.calls()).toEqual([]);
    expect(ownLines(r.stdout)).toEqual([
      "clic-yunohost: postinstall: left to YunoHost's web page (yunohost_postinstall = web): https://atelier.local/yunohost/admin from the kit's network; the apps are installed once it is done",
      "clic-yunohost: apps: 2 waiting for YunoHost's web postinstall",
    ]);
    expect(kit.status()).toEqual({
      postinstall: 'web',
      max_attempts: 3,
      apps: [{ id: 'alpha', state: 'pending', attempts: 0 }, { id: 'beta', state: 'pending', attempts: 0 }],
      updated: expect.any(Number),
    });
    // clic-yunohost-apps.service before the web postinstall: nothing to do
    const early = await kit.run('apps');
    expect(early.code).toBe(0);
    expect(kit.calls()).toEqual([]);
    expect(ownLines(early.stdout)).toEqual(["clic-yunohost: apps: YunoHost's postinstall is not done yet; the apps wait for it"]);
    // the admin did the web postinstall: /etc/yunohost/installed appeared
    mkdirSync(join(kit.root, 'etc/yunohost'), { recursive: true });
    writeFileSync(join(kit.root, 'etc/yunohost/installed'), '');
    const apps = await kit.run('apps');
    expect(apps.code).toBe(0);
    expect(calledAs(kit.calls(), 'yunohost', 'tools', 'postinstall')).toBe(-1);
    expect(installs(kit.calls())).toEqual(['alpha', 'beta']);
    expect(kit.status().postinstall).toBe('done');
    expect(ownLines(apps.stdout).at(-1)).toBe('clic-yunohost: apps: 2 installed, 0 failed');
  });

  it('postinstall failing: its last lines logged, exit status 1, no app tried; the next boot retries with the same generated password', async () => {
    const kit = makeKit({ password: '' });
    kit.control('postinstall-fails');
    const r = await kit.run();
    expect(r.code).toBe(1);
    const own = ownLines(r.stdout);
    expect(own).toContain('clic-yunohost: postinstall: failed (exit status 1); its last lines:');
    expect(own).toContain('clic-yunohost: postinstall: | Error: Unable to reach slapd');
    expect(own.at(-1)).toBe('clic-yunohost: postinstall: the next boot tries again (whole output: /var/lib/clic/yunohost/postinstall.log)');
    expect(installs(kit.calls())).toEqual([]);
    expect(kit.status()).toMatchObject({ postinstall: 'failed', apps: [{ id: 'alpha', state: 'pending' }, { id: 'beta', state: 'pending' }] });
    expect(existsSync(kit.consoleFile)).toBe(false); // not shown: not in effect
    const first = kit.calls().find((c) => c[2] === 'postinstall')!;
    const pending = join(kit.root, 'var/lib/clic/yunohost/admin-password');
    expect(statSync(pending).mode & 0o777).toBe(0o600);

    kit.uncontrol('postinstall-fails');
    kit.clearCalls();
    const again = await kit.run();
    expect(again.code).toBe(0);
    const second = kit.calls().find((c) => c[2] === 'postinstall')!;
    const password = first[first.indexOf('--password') + 1];
    expect(second[second.indexOf('--password') + 1]).toBe(password);
    expect(readFileSync(kit.consoleFile, 'utf8')).toContain(password);
    expect(existsSync(pending)).toBe(false);
    expect(again.stdout + r.stdout).not.toContain(password);
  });

  it('a power cut between the postinstall and showing its password: the next run shows it', async () => {
    const kit = makeKit({ apps: [] });
    setUpEarlier(kit.root);
    mkdirSync(join(kit.root, 'var/lib/clic/yunohost'), { recursive: true });
    writeFileSync(join(kit.root, 'var/lib/clic/yunohost/admin-password'), 'abcde-fghjk-mnpqr-stuvw\n', { mode: 0o600 });
    const r = await kit.run();
    expect(kit.calls()).toEqual([]);
    expect(readFileSync(kit.consoleFile, 'utf8')).toContain('abcde-fghjk-mnpqr-stuvw');
    expect(readFileSync(join(kit.root, 'etc/issue.d/clic-yunohost.issue'), 'utf8')).toContain('abcde-fghjk-mnpqr-stuvw');
    expect(r.stdout).not.toContain('abcde-fghjk-mnpqr-stuvw');
    expect(ownLines(r.stdout)).toContain('clic-yunohost: apps: none staged in this image');
    expect(kit.status()).toMatchObject({ postinstall: 'done', apps: [] });
  });

  it('refuses an unknown argument', async () => {
    const kit = makeKit();
    const r = await kit.run('everything');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^usage: clic-yunohost \[apps\]$/m);
    expect(kit.calls()).toEqual([]);
  });
});
