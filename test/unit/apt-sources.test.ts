/**
 * Extra apt repositories: the pinned-fingerprint check on real key files (made here by gpg,
 * throwaway ed25519 keys with a signing subkey), the deb822 source written into the image, the
 * plan's view of a layer's apt-source variable, and the mmdebstrap hooks that use them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deb822Source, fingerprintProblem, normalizeFingerprint, readKeyCertificates, simulateAptOptions } from '../../builder/steps/apt-sources.ts';
import { mmdebstrapArgv } from '../../builder/steps/bootstrap.ts';
import { planOf } from '../support/plans.ts';

const scratch = mkdtempSync(join(tmpdir(), 'clic-apt-sources-'));
const home = join(scratch, 'gnupg');
const gpg = (...args: string[]) => execFileSync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const keys: { primary: string; sub: string; file: string }[] = [];

beforeAll(() => {
  execFileSync('mkdir', ['-m', '700', home]);
  for (const who of ['one', 'two']) {
    gpg('--quick-gen-key', `${who} <${who}@example.org>`, 'ed25519', 'cert', 'never');
    const primary = gpg('--with-colons', '--list-keys', `${who}@example.org`).match(/^fpr:+([0-9A-F]{40}):/m)![1];
    gpg('--quick-add-key', primary, 'ed25519', 'sign', 'never');
    const fprs = [...gpg('--with-colons', '--list-keys', primary).matchAll(/^fpr:+([0-9A-F]{40}):/gm)].map((m) => m[1]);
    const file = join(scratch, `${who}.asc`);
    writeFileSync(file, gpg('--armor', '--export', primary));
    keys.push({ primary, sub: fprs.find((f) => f !== primary)!, file });
  }
  const both = join(scratch, 'both.gpg');
  writeFileSync(both, execFileSync('gpg', ['--homedir', home, '--export', keys[0].primary, keys[1].primary]));
});

afterAll(() => {
  execFileSync('gpgconf', ['--homedir', home, '--kill', 'all']);
  rmSync(scratch, { recursive: true, force: true });
});

describe('pinned fingerprint', () => {
  it('accepts the key by its primary fingerprint, written with spaces and in lower case', async () => {
    const certs = await readKeyCertificates(keys[0].file);
    expect(certs).toHaveLength(1);
    expect(certs[0].primary).toBe(keys[0].primary);
    const spaced = keys[0].primary.toLowerCase().replace(/(.{4})/g, '$1 ');
    expect(fingerprintProblem(certs, spaced)).toBeNull();
  });

  it('accepts the fingerprint of its signing subkey (what gpg shows for a signature)', async () => {
    expect(fingerprintProblem(await readKeyCertificates(keys[0].file), keys[0].sub)).toBeNull();
  });

  it('refuses another key, naming both fingerprints and the key’s user id', async () => {
    const problem = fingerprintProblem(await readKeyCertificates(keys[1].file), keys[0].primary);
    expect(problem).toBe(`its fingerprint is ${keys[1].primary} (two <two@example.org>), and the recipe pins ${keys[0].primary}`);
  });

  it('refuses a file with two keys even when one is the pinned one (a binary keyring)', async () => {
    const problem = fingerprintProblem(await readKeyCertificates(join(scratch, 'both.gpg')), keys[0].primary);
    expect(problem).toMatch(/^it holds 2 keys \([0-9A-F]{40}, [0-9A-F]{40}\); expected only the pinned one$/);
  });

  it('refuses a file that holds no key', async () => {
    const file = join(scratch, 'not-a-key.asc');
    writeFileSync(file, '<html>404 Not Found</html>\n');
    const certs = await readKeyCertificates(file);
    expect(fingerprintProblem(certs, keys[0].primary)).toBe('it holds no OpenPGP public key');
  });

  it('normalizes fingerprints', () => {
    expect(normalizeFingerprint(' e05e 7906 1221 ')).toBe('E05E79061221');
  });
});

describe('the yunohost layer’s repository in the plan and the bootstrap', () => {
  it('is a planned apt source named after the layer, kept out of the layer’s environment', async () => {
    const plan = await planOf('clic-pc-x86_64-yunohost');
    expect(plan.aptSources).toEqual([expect.objectContaining({ name: 'yunohost', layer: 'yunohost', variable: 'repository', suite: 'bookworm', components: ['stable'] })]);
    expect(plan.steps.map((s) => s.name).slice(0, 3)).toEqual(['host-tools', 'apt-sources', 'packages']);
    const layer = plan.layers.find((l) => l.name === 'yunohost')!;
    expect(Object.keys(layer.env)).not.toContain('CLIC_REPOSITORY');
    expect(layer.env.CLIC_DOMAIN).toBe('clic.local');
    expect(plan.debconf).toContain('slapd slapd/domain string yunohost.org');
    expect(plan.packages).toEqual(expect.arrayContaining(['yunohost', 'yunohost-admin']));
  });

  it("joins apt after the essential phase, its packages install once Debian's are configured, and the image gets the copy that names its key inside the image", async () => {
    const plan = await planOf('clic-pc-x86_64-yunohost');
    const argv = mmdebstrapArgv(plan, '/r', { preinstall: '/p', aptCache: '/c', workDir: '/w' });
    expect(argv.some((a) => a.startsWith('--setup-hook=') && a.includes('/w/apt-sources'))).toBe(false);
    const sources = argv.indexOf('--essential-hook=sync-in /w/apt-sources/build/sources.list.d /etc/apt/sources.list.d/');
    const update = argv.indexOf('--essential-hook=APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get update --error-on=any');
    const install = argv.indexOf('--customize-hook=sh /w/repository-packages.sh "$1" /w/resolved.packages gpg rsyslog yunohost yunohost-admin yunohost-portal');
    const customize = argv.indexOf('--customize-hook=sync-in /w/apt-sources/image /');
    expect(sources).toBeGreaterThan(0);
    expect(update).toBeGreaterThan(sources);
    expect(install).toBeGreaterThan(update);
    expect(customize).toBeGreaterThan(install);
    const include = argv.find((a) => a.startsWith('--include='))!.slice('--include='.length).split(',');
    expect(include).toEqual(expect.arrayContaining(['systemd-sysv', 'openssh-server', 'nginx-light']));
    expect(include).not.toContain('yunohost');
    expect(argv).toContain('--essential-hook=chroot "$1" debconf-set-selections < /w/debconf.preseed');
    expect(simulateAptOptions(plan, '/w')).toEqual(['--aptopt=Dir::Etc::SourceParts "/w/apt-sources/build/sources.list.d"']);
  });

  it("leaves out what YunoHost conflicts with, and takes bookworm-backports from the resolved Debian sources", async () => {
    const plan = await planOf('clic-pc-x86_64-yunohost');
    expect(plan.packages).not.toContain('systemd-resolved');
    expect(plan.packages).not.toContain('sudo');
    expect(plan.repositoryPackages).toEqual(['gpg', 'rsyslog', 'yunohost', 'yunohost-admin', 'yunohost-portal']);
    expect(plan.extraSuites).toEqual(['bookworm-backports']);
    const sources = ['deb http://m.invalid/debian bookworm main', 'deb http://m.invalid/debian bookworm-backports main'];
    expect(mmdebstrapArgv(plan, '/r', { preinstall: '/p', aptCache: '/c', workDir: '/w' }, sources).slice(-4)).toEqual(['bookworm', '/r', ...sources]);
    const plain = await planOf('clic-pc-x86_64');
    expect(plain.packages).toEqual(expect.arrayContaining(['systemd-resolved', 'sudo']));
    expect(plain.extraSuites).toEqual([]);
  });

  it('images without an extra repository keep the plain mmdebstrap call', async () => {
    const plan = await planOf('clic-pc-x86_64');
    expect(plan.aptSources).toEqual([]);
    const argv = mmdebstrapArgv(plan, '/r', { preinstall: '/p', aptCache: '/c', workDir: '/w' });
    expect(argv.some((a) => a.includes('/w/'))).toBe(false);
    expect(simulateAptOptions(plan, '/w')).toEqual([]);
  });

  it('writes a deb822 source whose Signed-By is the given key file', async () => {
    const plan = await planOf('clic-pc-x86_64-yunohost');
    expect(deb822Source(plan.aptSources[0], '/etc/apt/keyrings/yunohost.asc').split('\n').slice(1)).toEqual([
      'Types: deb',
      'URIs: http://forge.yunohost.org/debian/',
      'Suites: bookworm',
      'Components: stable',
      'Signed-By: /etc/apt/keyrings/yunohost.asc',
      '',
    ]);
  });
});
