/**
 * YunoHost and its apps, on the build side, against local stand-ins of YunoHost's servers
 * (test/support/yunohost-image.ts: a signed apt repository with a STAND-IN yunohost package, the
 * test app's git repository and a v3 app catalog, all on the loopback):
 *  - a wrong pinned fingerprint, or a key other than the pinned one, stops the build at its
 *    apt-sources step with an error naming the layer, the key and both fingerprints, and leaves
 *    no image;
 *  - with the right one, the image carries the deb822 source and its key, the packages of that
 *    repository (the stand-in's /usr/bin/yunohost), the debconf answers, and the app staged for
 *    first boot: package at the pinned revision (prefetch off), verified source, install answers,
 *    catalog cache, and its Debian dependencies (qrencode and its library, from Debian) in the
 *    image's local apt repository — not installed.
 * The image stays in the artifacts folder for the boot tier (test/boot/yunohost.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imagesDir, type BuildRun } from '../support/images.ts';
import { buildYunohostLab, GREETING, saveYunohostInfo, YUNOHOST_LAB, type YunohostLab } from '../support/yunohost-image.ts';
import { openDisk } from '../support/inspect.ts';

let work: string;
let artifacts: string;
let lab: YunohostLab;
let image: string;
const ROOT = 1; // pc-x86_64: ESP, root, content

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'clic-yunohost-it-'));
  artifacts = await imagesDir();
  lab = await buildYunohostLab(work, artifacts, join(artifacts, `${YUNOHOST_LAB}.build.log`));
  expect(lab.run.code, lab.run.stderr.slice(-3000)).toBe(0);
  image = join(artifacts, `${YUNOHOST_LAB}.img`);
  await saveYunohostInfo(artifacts, lab.info);
});

afterAll(async () => {
  await lab?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const failedStep = (run: BuildRun) => run.events.find((e) => e.type === 'step:fail');

describe('extra apt repository: the key must be the pinned one', () => {
  it('stops at apt-sources when the pinned fingerprint differs from the key’s, and writes no image', async () => {
    const out = join(work, 'wrong-fingerprint');
    const wrong = 'AAAA BBBB CCCC DDDD EEEE  FFFF 0000 1111 2222 3333';
    const run = await lab.buildVariant('wrong-fingerprint', { fingerprint: wrong }, out);
    expect(run.code).not.toBe(0);
    expect(failedStep(run)?.step).toBe('apt-sources');
    expect(run.stderr).toMatch(/apt source "yunohost" \(layer yunohost, variable repository\)/);
    expect(run.stderr).toContain(lab.info.fingerprint);
    expect(run.stderr).toContain('AAAABBBBCCCCDDDDEEEEFFFF0000111122223333');
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(await readdir(out).catch(() => [])).not.toContain('wrong-fingerprint.img');
    // nothing ran after the refusal: no package resolution, no bootstrap
    expect(run.events.some((e) => e.type === 'step:start' && (e.step === 'packages' || e.step === 'bootstrap'))).toBe(false);
  });

  it('refuses another key served under the URL, when the recipe pins the right fingerprint', async () => {
    const run = await lab.buildVariant('other-key', { keyUrl: `${lab.info.repositoryUrl}other-key.asc` }, join(work, 'other-key'));
    expect(run.code).not.toBe(0);
    expect(failedStep(run)?.step).toBe('apt-sources');
    expect(run.stderr).toMatch(/is refused: its fingerprint is [0-9A-F]{40}.*and the recipe pins/);
  });
});

describe('YunoHost lab image: repository, packages and the app staged for an offline first boot', () => {
  it('keeps the deb822 source, Signed-By its key, and the key itself', async () => {
    const disk = await openDisk(image);
    const source = await disk.extRead(ROOT, '/etc/apt/sources.list.d/yunohost.sources');
    expect(source).toMatch(/^Types: deb$/m);
    expect(source).toContain(`URIs: ${lab.info.repositoryUrl}`);
    expect(source).toMatch(/^Suites: bookworm$/m);
    expect(source).toMatch(/^Components: main$/m);
    expect(source).toMatch(/^Signed-By: \/etc\/apt\/keyrings\/yunohost\.asc$/m);
    expect(await disk.extRead(ROOT, '/etc/apt/keyrings/yunohost.asc')).toBe(lab.info.key);
  });

  it('installed the repository’s packages (the stand-in yunohost) with the debconf answers given first', async () => {
    const disk = await openDisk(image);
    expect(await disk.extRead(ROOT, '/usr/bin/yunohost')).toMatch(/STAND-IN/i);
    const status = await disk.extRead(ROOT, '/var/lib/dpkg/status');
    expect(status).toMatch(/^Package: yunohost\nEssential: yes\nStatus: install ok installed$/m);
    expect(status).toMatch(/^Package: yunohost-admin\nStatus: install ok installed$/m);
    // the app's Debian dependency is staged, not installed: first boot installs it
    expect(status).not.toMatch(/^Package: qrencode$/m);
    const debconf = await disk.extRead(ROOT, '/var/cache/debconf/config.dat');
    expect(debconf).toMatch(/^Name: slapd\/domain\n(?:.+\n)*?Value: yunohost\.org$/m);
    expect(await disk.extRead(ROOT, '/etc/clic/defaults.d/yunohost.conf')).toMatch(/^yunohost_domain = clic\.local$/m);
  });

  it("meets YunoHost 12's relations: Essential yunohost after the essential phase, sudo-ldap and resolvconf instead of sudo and systemd-resolved, python3-sdbus from backports, exactly the resolved set", async () => {
    const disk = await openDisk(image);
    const status = await disk.extRead(ROOT, '/var/lib/dpkg/status');
    const installed = (name: string) => new RegExp(`^Package: ${name.replace(/[+.]/g, '\\$&')}\n(?:Essential: yes\n)?Status: install ok installed$`, 'm').test(status);
    for (const name of ['yunohost', 'moulinette', 'ssowat', 'yunohost-portal', 'sudo-ldap', 'resolvconf', 'python3-sdbus', 'nginx-extras', 'slapd', 'rsyslog']) expect(installed(name), name).toBe(true);
    for (const name of ['sudo', 'systemd-resolved']) expect(installed(name), name).toBe(false);
    expect(status).toMatch(/^Package: python3-sdbus\n(?:.+\n)*?Version: \S+~bpo12\S*$/m);
    const listed = (await readFile(join(artifacts, `${YUNOHOST_LAB}.packages`), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(listed.filter((l) => l.startsWith('yunohost='))).toHaveLength(1);
    expect(listed.length).toBe(status.split('\n').filter((l) => l === 'Status: install ok installed').length);
  });

  it("ships no YunoHost CA or certificate (each kit makes its own), and YunoHost's nginx files with room for the kit's", async () => {
    const disk = await openDisk(image);
    expect(await disk.extList(ROOT, '/etc/yunohost/certs/yunohost.org').catch(() => [])).toEqual([]);
    expect(await disk.extList(ROOT, '/usr/share/yunohost/ssl/ca').catch(() => [])).toEqual([]);
    expect(await disk.extList(ROOT, '/etc/systemd/system/multi-user.target.wants')).toContain('clic-yunohost-ssl.service');
    expect(await disk.extRead(ROOT, '/etc/nginx/conf.d/yunohost_admin.conf')).not.toMatch(/listen\s+(\[::\]:)?80\s+default_server/);
    expect(await disk.extRead(ROOT, '/etc/nginx/conf.d/ssowat.conf')).not.toMatch(/server_names_hash_bucket_size/);
    expect(await disk.extRead(ROOT, '/etc/yunohost/hooks.d/conf_regen/99-nginx_clic')).toMatch(/^#!\/bin\/bash/);
  });

  it('stages the app: package at its pinned revision with prefetch off, verified source, answers, order', async () => {
    const disk = await openDisk(image);
    expect((await disk.extRead(ROOT, '/var/lib/clic/apps/order')).trim()).toBe('testapp');
    const manifest = await disk.extRead(ROOT, '/var/lib/clic/apps/testapp/package/manifest.toml');
    expect(manifest).toMatch(/id\s*=\s*"testapp"/);
    expect(manifest).toMatch(/prefetch\s*=\s*false/);
    expect(manifest).not.toMatch(/prefetch\s*=\s*true/);
    expect(await disk.extList(ROOT, '/var/lib/clic/apps/testapp/package/scripts')).toContain('install');
    // a binary file: its bytes, not debugfs's text, compared through their checksum
    const bytes = execFileSync('debugfs', ['-R', 'cat /var/lib/clic/apps/testapp/sources/main', `${image}?offset=${disk.table.partitions[ROOT].start * 512}`], { maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(lab.info.app.sourceSha256);
    const args = new URLSearchParams((await disk.extRead(ROOT, '/var/lib/clic/apps/testapp/args')).trim());
    expect(args.get('greeting')).toBe(GREETING);
    expect(args.get('path')).toBe('/testapp');
    expect(await disk.extStat(ROOT, '/var/lib/clic/apps/testapp/args')).toMatch(/Mode:\s+0600/);
    const catalog = JSON.parse(await disk.extRead(ROOT, '/var/cache/yunohost/repo/default.json')) as { apps: Record<string, { git: { revision: string } }> };
    expect(Object.keys(catalog.apps)).toEqual(['testapp']);
    expect(catalog.apps.testapp.git.revision).toBe(lab.info.app.revision);
  });

  it('carries qrencode and its library from Debian in the local apt repository, with its source file', async () => {
    const disk = await openDisk(image);
    const debs = await disk.extList(ROOT, '/var/lib/clic/offline-apt');
    for (const name of ['qrencode', 'libqrencode4']) expect(debs.some((f) => f.startsWith(`${name}_`) && f.endsWith('.deb')), name).toBe(true);
    const index = await disk.extRead(ROOT, '/var/lib/clic/offline-apt/Packages');
    expect(index).toMatch(/^Package: qrencode$/m);
    expect(index).toMatch(/^Filename: \.\/qrencode_\S+\.deb$/m);
    const source = await disk.extRead(ROOT, '/etc/apt/sources.list.d/clic-offline.sources');
    expect(source).toMatch(/^URIs: file:\/var\/lib\/clic\/offline-apt$/m);
    expect(source).toMatch(/^Trusted: yes$/m);
  });

  it('enables the first-boot unit and links the YunoHost portal from the kit’s portal', async () => {
    const disk = await openDisk(image);
    expect(await disk.extList(ROOT, '/etc/systemd/system/multi-user.target.wants')).toContain('clic-yunohost.service');
    expect(await disk.extRead(ROOT, '/var/www/clic-portal/index.en.html')).toContain('href="/yunohost/sso/"');
  });
});
