/**
 * A real signed apt repository on disk, for tests that need apt to trust a repository they
 * control (YunoHost's cannot be reached from here). Each package is built with
 * `dpkg-deb --build --root-owner-group` from a small spec, the indexes are made by
 * `apt-ftparchive` (apt-utils), and the Release file is signed — `InRelease` (clearsigned) and
 * `Release.gpg` (detached, armored) — with a throwaway ed25519 key. A second throwaway key comes
 * with it, for "signed by the wrong key" tests. Serve the directory with serveDir
 * (test/support/static-server.ts) and point a deb822 source at it with `Signed-By: <keyFile>`.
 *
 *   const repo = await makeSignedAptRepo(join(www, 'apt'), {
 *     packages: [{ name: 'hello-clic', version: '1.0', architecture: 'all', description: 'says hello',
 *                  files: { '/usr/bin/hello-clic': { content: '#!/bin/sh\necho hello\n', mode: 0o755 } } }],
 *     suite: 'bookworm', component: 'main', architectures: ['amd64', 'arm64'],
 *   });
 *   repo.keyFile;       // <dir>/keys/signing-key.asc (ASCII-armored public key)
 *   repo.fingerprint;   // 40 upper-case hex digits, the primary key's
 *   repo.otherKeyFile;  // <dir>/keys/other-key.asc: a key that did NOT sign this repository
 *
 * Layout: dists/<suite>/{Release,InRelease,Release.gpg}, dists/<suite>/<component>/binary-<arch>/
 * Packages(.gz) for each requested architecture (packages of architecture `all` are listed in
 * every one, as in Debian's archive), pool/<component>/<l>/<name>/<name>_<version>_<arch>.deb.
 * Dates are fixed (SOURCE_DATE_EPOCH for dpkg-deb, the Release `Date:`), so the packages and
 * indexes do not change from one run to the next; the keys and signatures do.
 *
 * The two keys are made once per process, in a temporary GNUPGHOME that is removed (its
 * gpg-agent stopped) right away; each repository is signed in a fresh temporary GNUPGHOME where
 * the secret key is imported, also removed after.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

const exec = promisify(execFile);

/** 2026-01-01T00:00:00Z: the fixed date of everything this module builds. */
export const FIXED_EPOCH = 1767225600;

/** A file a package installs: its text, or its text and mode (default 0644). */
export type PackageFile = string | { content: string; mode: number };

export interface PackageSpec {
  name: string;
  version: string;
  /** `all`, or a Debian architecture that is among the repository's. */
  architecture: string;
  /** First line: the synopsis; further lines: the long description. */
  description: string;
  /** As in a control file, e.g. `yunohost, jq (>= 1.6)`. */
  depends?: string;
  /** The other relation fields, as in a control file (`sudo-ldap`, `systemd-resolved`…). */
  preDepends?: string;
  recommends?: string;
  conflicts?: string;
  breaks?: string;
  provides?: string;
  replaces?: string;
  /** `Essential: yes`: dpkg refuses to remove it, and mmdebstrap counts it among the essential set. */
  essential?: boolean;
  /** Absolute path in the installed system → content. */
  files?: Record<string, PackageFile>;
  /** The maintainer script run after unpacking (`#!/bin/sh` + `set -e` are added if it has no #! line). */
  postinst?: string;
}

export interface SignedAptRepoOptions {
  packages: PackageSpec[];
  /** Default `bookworm`. Written as both Suite and Codename. */
  suite?: string;
  /** Default `main`. */
  component?: string;
  /** Debian architectures indexed (default amd64 and arm64). */
  architectures?: string[];
  /** Release `Origin:` and `Label:` (default `clic-image tests`). */
  origin?: string;
}

export interface SignedAptRepo {
  /** The repository root: what a deb822 source's `URIs:` points at (once served). */
  dir: string;
  suite: string;
  component: string;
  architectures: string[];
  /** ASCII-armored public key that signed the repository (`Signed-By:`). */
  keyFile: string;
  /** Its primary key's fingerprint: 40 upper-case hex digits. */
  fingerprint: string;
  /** ASCII-armored public key of another throwaway key, which signed nothing here. */
  otherKeyFile: string;
  otherFingerprint: string;
  /** Repository-relative paths of the .deb files, by `<name>_<architecture>`. */
  debs: Record<string, string>;
}

interface ThrowawayKey {
  fingerprint: string;
  publicKey: string;
  secretKey: string;
}

const GPG_ENV = { LC_ALL: 'C' };

/** Runs fn with a new private GNUPGHOME, then stops the gpg-agent it may have started and removes it. */
export async function withGnupgHome<T>(fn: (gpg: (args: string[]) => Promise<string>, home: string) => Promise<T>): Promise<T> {
  // short path: the agent's socket lives in it, and socket paths are limited to 108 bytes
  const home = await mkdtemp(join(tmpdir(), 'clic-gpg-'));
  await chmod(home, 0o700);
  const gpg = async (args: string[]) =>
    (await exec('gpg', ['--homedir', home, '--batch', '--no-tty', '--quiet', ...args], { env: { ...process.env, ...GPG_ENV }, maxBuffer: 16 << 20 })).stdout;
  try {
    return await fn(gpg, home);
  } finally {
    await exec('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']).catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  }
}

let keysOnce: Promise<{ signing: ThrowawayKey; other: ThrowawayKey }> | null = null;

/** The signing key and the other key, made once per process (ed25519, sign only, no expiry, no
 *  passphrase); the release tests sign SHA256SUMS with them too. */
export function throwawayKeys(): Promise<{ signing: ThrowawayKey; other: ThrowawayKey }> {
  if (keysOnce) return keysOnce;
  keysOnce = withGnupgHome(async (gpg, home) => {
    const make = async (name: string, email: string): Promise<ThrowawayKey> => {
      // %no-protection: no passphrase, so that signing needs no pinentry
      const params = ['%no-protection', 'Key-Type: EDDSA', 'Key-Curve: ed25519', 'Key-Usage: sign', `Name-Real: ${name}`, `Name-Email: ${email}`, 'Expire-Date: 0', '%commit', ''].join('\n');
      const paramsFile = join(home, `${email.split('@')[0]}.params`);
      await writeFile(paramsFile, params, { mode: 0o600 });
      await gpg(['--gen-key', paramsFile]);
      const colons = await gpg(['--with-colons', '--fingerprint', `<${email}>`]);
      // the first fpr record after the pub record is the primary key's
      const fingerprint = /^pub:[^\n]*\nfpr:(?:[^:\n]*:){8}([0-9A-F]{40}):/m.exec(colons)?.[1];
      if (!fingerprint) throw new Error(`makeSignedAptRepo: no fingerprint in gpg's listing of ${email}:\n${colons}`);
      return {
        fingerprint,
        publicKey: await gpg(['--armor', '--export', fingerprint]),
        secretKey: await gpg(['--armor', '--export-secret-keys', fingerprint]),
      };
    };
    return {
      signing: await make('clic-image test repository', 'repository@clic-test.invalid'),
      other: await make('clic-image test, some other key', 'other@clic-test.invalid'),
    };
  });
  // a failure is not kept: the next repository tries again
  keysOnce.catch(() => {
    keysOnce = null;
  });
  return keysOnce;
}

const NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const VERSION = /^(?:\d+:)?[0-9][A-Za-z0-9.+~-]*$/;

const RELATIONS = [
  ['Pre-Depends', 'preDepends'], ['Depends', 'depends'], ['Recommends', 'recommends'], ['Conflicts', 'conflicts'],
  ['Breaks', 'breaks'], ['Provides', 'provides'], ['Replaces', 'replaces'],
] as const;

const relationLines = (spec: PackageSpec) => RELATIONS.flatMap(([field, key]) => (spec[key] ? [`${field}: ${spec[key]}`] : []));

function controlFile(spec: PackageSpec): string {
  const [synopsis, ...rest] = spec.description.trimEnd().split('\n');
  const long = rest.map((line) => (line.trim() === '' ? ' .' : ` ${line}`));
  return [
    `Package: ${spec.name}`,
    `Version: ${spec.version}`,
    `Architecture: ${spec.architecture}`,
    'Maintainer: clic-image tests <tests@clic-test.invalid>',
    ...(spec.essential ? ['Essential: yes'] : []),
    ...relationLines(spec),
    'Section: misc',
    'Priority: optional',
    `Description: ${synopsis}`,
    ...long,
    '',
  ].join('\n');
}

/** Builds one .deb from its spec into `out` (a path). */
async function buildDeb(spec: PackageSpec, out: string, work: string): Promise<void> {
  const root = join(work, `${spec.name}_${spec.architecture}`);
  await mkdir(join(root, 'DEBIAN'), { recursive: true });
  await writeFile(join(root, 'DEBIAN', 'control'), controlFile(spec));
  if (spec.postinst !== undefined) {
    const script = spec.postinst.startsWith('#!') ? spec.postinst : `#!/bin/sh\nset -e\n${spec.postinst}`;
    await writeFile(join(root, 'DEBIAN', 'postinst'), script.endsWith('\n') ? script : `${script}\n`);
    await chmod(join(root, 'DEBIAN', 'postinst'), 0o755);
  }
  for (const [path, file] of Object.entries(spec.files ?? {})) {
    if (!path.startsWith('/') || path.split('/').includes('..')) throw new Error(`makeSignedAptRepo: ${spec.name}: file path must be absolute, without '..': ${path}`);
    const target = join(root, path);
    await mkdir(dirname(target), { recursive: true });
    const { content, mode } = typeof file === 'string' ? { content: file, mode: 0o644 } : file;
    await writeFile(target, content);
    await chmod(target, mode);
  }
  // whatever the umask: dpkg-deb refuses a control directory that is group or world writable
  await exec('find', [root, '-type', 'd', '-exec', 'chmod', '0755', '{}', '+']);
  await exec('dpkg-deb', ['--root-owner-group', '--build', root, out], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(FIXED_EPOCH), LC_ALL: 'C' },
  });
}

/** `pool/main/y/yunohost`, `pool/main/libj/libjq1`: Debian's pool layout. */
const poolDir = (component: string, name: string) => `pool/${component}/${name.startsWith('lib') ? name.slice(0, 4) : name[0]}/${name}`;

export async function makeSignedAptRepo(dir: string, opts: SignedAptRepoOptions): Promise<SignedAptRepo> {
  const suite = opts.suite ?? 'bookworm';
  const component = opts.component ?? 'main';
  const architectures = opts.architectures ?? ['amd64', 'arm64'];
  const origin = opts.origin ?? 'clic-image tests';
  if (!architectures.length || architectures.includes('all')) throw new Error('makeSignedAptRepo: architectures must list Debian architectures (packages of architecture all go in each)');
  const seen = new Set<string>();
  for (const p of opts.packages) {
    if (!NAME.test(p.name)) throw new Error(`makeSignedAptRepo: invalid package name ${JSON.stringify(p.name)}`);
    if (!VERSION.test(p.version)) throw new Error(`makeSignedAptRepo: ${p.name}: invalid version ${JSON.stringify(p.version)}`);
    if (p.architecture !== 'all' && !architectures.includes(p.architecture)) {
      throw new Error(`makeSignedAptRepo: ${p.name}: architecture ${p.architecture} is not among the repository's (${architectures.join(', ')})`);
    }
    const key = `${p.name}_${p.architecture}`;
    if (seen.has(key)) throw new Error(`makeSignedAptRepo: ${key} is given twice`);
    seen.add(key);
  }

  await mkdir(dir, { recursive: true });
  const keys = await throwawayKeys();
  const work = await mkdtemp(join(tmpdir(), 'clic-apt-repo-'));
  try {
    const debs: Record<string, string> = {};
    for (const p of opts.packages) {
      const pool = poolDir(component, p.name);
      // the epoch is not part of the file name (Debian's convention)
      const rel = `${pool}/${p.name}_${p.version.replace(/^\d+:/, '')}_${p.architecture}.deb`;
      await mkdir(join(dir, pool), { recursive: true });
      await buildDeb(p, join(dir, rel), work);
      debs[`${p.name}_${p.architecture}`] = rel;
    }

    const dists = join(dir, 'dists', suite);
    for (const arch of architectures) {
      const indexDir = join(dists, component, `binary-${arch}`);
      await mkdir(indexDir, { recursive: true });
      // run from the root, so that each Filename: is relative to it (pool/…); --arch keeps *_<arch>.deb and *_all.deb
      const { stdout } = await exec('apt-ftparchive', ['--arch', arch, 'packages', `pool/${component}`], { cwd: dir, maxBuffer: 64 << 20, env: { ...process.env, LC_ALL: 'C' } });
      await writeFile(join(indexDir, 'Packages'), stdout);
      await writeFile(join(indexDir, 'Packages.gz'), gzipSync(stdout, { level: 9 }));
    }

    const field = (name: string, value: string) => ['-o', `APT::FTPArchive::Release::${name}=${value}`];
    const { stdout: release } = await exec(
      'apt-ftparchive',
      [
        ...field('Origin', origin),
        ...field('Label', origin),
        ...field('Suite', suite),
        ...field('Codename', suite),
        ...field('Architectures', architectures.join(' ')),
        ...field('Components', component),
        ...field('Date', new Date(FIXED_EPOCH * 1000).toUTCString().replace(/GMT$/, 'UTC')),
        ...field('Description', 'throwaway repository of the clic-image tests'),
        'release',
        `dists/${suite}`,
      ],
      { cwd: dir, maxBuffer: 16 << 20, env: { ...process.env, LC_ALL: 'C', SOURCE_DATE_EPOCH: String(FIXED_EPOCH) } },
    );
    // written after the scan: a Release being written inside the scanned folder would list itself
    await writeFile(join(dists, 'Release'), release);
    await withGnupgHome(async (gpg) => {
      const secret = join(work, 'signing-key.secret.asc');
      await writeFile(secret, keys.signing.secretKey, { mode: 0o600 });
      await gpg(['--import', secret]);
      const sign = ['--yes', '--local-user', keys.signing.fingerprint, '--digest-algo', 'SHA512'];
      await gpg([...sign, '--clearsign', '--output', join(dists, 'InRelease'), join(dists, 'Release')]);
      await gpg([...sign, '--armor', '--detach-sign', '--output', join(dists, 'Release.gpg'), join(dists, 'Release')]);
    });

    const keyDir = join(dir, 'keys');
    await mkdir(keyDir, { recursive: true });
    const keyFile = join(keyDir, 'signing-key.asc');
    const otherKeyFile = join(keyDir, 'other-key.asc');
    await writeFile(keyFile, keys.signing.publicKey);
    await writeFile(otherKeyFile, keys.other.publicKey);
    return {
      dir,
      suite,
      component,
      architectures: [...architectures],
      keyFile,
      fingerprint: keys.signing.fingerprint,
      otherKeyFile,
      otherFingerprint: keys.other.fingerprint,
      debs,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
