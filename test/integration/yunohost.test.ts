/**
 * YunoHost and its apps, on the build side, against local stand-ins of YunoHost's servers
 * (test/support/yunohost-image.ts: a signed apt repository with a STAND-IN yunohost package, the
 * test app's git repository and a v3 app catalog, all on the loopback) — or, with
 * CLIC_TEST_YUNOHOST_REPO_URL set, against that repository and catalog with real apps
 * (test/support/yunohost-real.ts); the stand-in's own marks are then checked absent:
 *  - a wrong pinned fingerprint, or a key other than the pinned one, stops the build at its
 *    apt-sources step with an error naming the layer, the key and both fingerprints, and leaves
 *    no image;
 *  - with the right one, the image carries the deb822 source and its key, the packages of that
 *    repository, the debconf answers, and the apps staged for first boot: package at the pinned
 *    revision (prefetch off), sources with the sha256 their manifest gives, install answers,
 *    catalog cache, and their Debian dependencies (the test app's: qrencode and its library,
 *    from Debian) in the image's local apt repository — not installed.
 * The image stays in the artifacts folder for the boot tier (test/boot/yunohost.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imagesDir, type BuildRun } from '../support/images.ts';
import { buildYunohostLab, REAL_YUNOHOST, saveYunohostInfo, YUNOHOST_LAB, type YunohostLab } from '../support/yunohost-image.ts';
import { openDisk } from '../support/inspect.ts';
import { aptPackagesOf, parseManifest, sourcesFor } from '../../builder/apps/manifest.ts';
import { withYunohostPhp } from '../../builder/apps/apt-snippet.ts';

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
    const run = await lab.buildVariant('other-key', { keyUrl: await lab.otherKey() }, join(work, 'other-key'));
    expect(run.code).not.toBe(0);
    expect(failedStep(run)?.step).toBe('apt-sources');
    expect(run.stderr).toMatch(/is refused: its fingerprint is [0-9A-F]{40}.*and the recipe pins/);
  });
});

describe(`YunoHost lab image (${REAL_YUNOHOST ? 'real YunoHost' : 'STAND-IN YunoHost'}): repository, packages and the apps staged for an offline first boot`, () => {
  it('keeps the deb822 source, Signed-By its key, and the key itself', async () => {
    const disk = await openDisk(image);
    const source = await disk.extRead(ROOT, '/etc/apt/sources.list.d/yunohost.sources');
    expect(source).toMatch(/^Types: deb$/m);
    expect(source).toContain(`URIs: ${lab.info.repositoryUrl}`);
    expect(source).toMatch(new RegExp(`^Suites: ${lab.info.suite}$`, 'm'));
    expect(source).toMatch(new RegExp(`^Components: ${lab.info.components.join(' ')}$`, 'm'));
    expect(source).toMatch(/^Signed-By: \/etc\/apt\/keyrings\/yunohost\.asc$/m);
    expect(await disk.extRead(ROOT, '/etc/apt/keyrings/yunohost.asc')).toBe(lab.info.key);
  });

  it('installed the repository’s packages (the stand-in’s yunohost command only with the stand-ins) with the debconf answers given first', async () => {
    const disk = await openDisk(image);
    const command = await disk.extRead(ROOT, '/usr/bin/yunohost');
    expect(/STAND-IN/i.test(command), command.slice(0, 200)).toBe(!lab.info.real);
    const status = await disk.extRead(ROOT, '/var/lib/dpkg/status');
    expect(status).toMatch(/^Package: yunohost\nEssential: yes\nStatus: install ok installed$/m);
    expect(status).toMatch(/^Package: yunohost-admin\nStatus: install ok installed$/m);
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

  it('stages the apps: package at its pinned revision with prefetch off, sources as their manifest pins them, answers, order', async () => {
    const disk = await openDisk(image);
    const ids = lab.info.apps.map((a) => a.id);
    expect((await disk.extRead(ROOT, '/var/lib/clic/apps/order')).trim().split('\n')).toEqual(ids);
    const catalog = JSON.parse(await disk.extRead(ROOT, '/var/cache/yunohost/repo/default.json')) as { apps: Record<string, { git: { revision: string } }> };
    expect(Object.keys(catalog.apps)).toEqual(ids);
    for (const app of lab.info.apps) {
      const dir = `/var/lib/clic/apps/${app.id}`;
      const toml = await disk.extRead(ROOT, `${dir}/package/manifest.toml`);
      expect(toml).toMatch(new RegExp(`id\\s*=\\s*"${app.id}"`));
      expect(toml, app.id).not.toMatch(/prefetch\s*=\s*true/);
      expect(await disk.extList(ROOT, `${dir}/package/scripts`)).toContain('install');
      for (const source of sourcesFor(parseManifest(toml), 'amd64')) {
        // a binary file: its bytes, not debugfs's text, compared through their checksum
        const bytes = execFileSync('debugfs', ['-R', `cat ${dir}/sources/${source.id}`, `${image}?offset=${disk.table.partitions[ROOT].start * 512}`], { maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
        expect(createHash('sha256').update(bytes).digest('hex'), `${app.id} ${source.id}`).toBe(source.sha256);
      }
      const args = new URLSearchParams((await disk.extRead(ROOT, `${dir}/args`)).trim());
      for (const [question, answer] of Object.entries(app.args)) expect(args.get(question), `${app.id} ${question}`).toBe(answer);
      expect(args.get('path'), app.id).toMatch(/^\//);
      expect(await disk.extStat(ROOT, `${dir}/args`)).toMatch(/Mode:\s+0600/);
      expect(catalog.apps[app.id].git.revision).toBe(app.revision);
    }
  });

  it.runIf(!REAL_YUNOHOST)('STAND-IN test app: its source is the one served, its manifest turned prefetch off, its path the default', async () => {
    const disk = await openDisk(image);
    expect(new URLSearchParams((await disk.extRead(ROOT, '/var/lib/clic/apps/testapp/args')).trim()).get('path')).toBe('/testapp');
    expect(await disk.extRead(ROOT, '/var/lib/clic/apps/testapp/package/manifest.toml')).toMatch(/prefetch\s*=\s*false/);
    const bytes = execFileSync('debugfs', ['-R', 'cat /var/lib/clic/apps/testapp/sources/main', `${image}?offset=${disk.table.partitions[ROOT].start * 512}`], { maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(lab.info.testapp?.sourceSha256);
  });

  it('carries the apps’ Debian dependencies in the local apt repository (not installed), with its source file', async () => {
    const disk = await openDisk(image);
    const index = await disk.extRead(ROOT, '/var/lib/clic/offline-apt/Packages');
    const status = await disk.extRead(ROOT, '/var/lib/dpkg/status');
    const listed = (text: string, name: string) => new RegExp(`^(Package: ${name.replace(/[+.]/g, '\\$&')}|Provides: (.*[ ,])?${name.replace(/[+.]/g, '\\$&')}([ ,(].*)?)$`, 'm').test(text);
    for (const app of lab.info.apps) {
      const manifest = parseManifest(await disk.extRead(ROOT, `/var/lib/clic/apps/${app.id}/package/manifest.toml`));
      for (const name of withYunohostPhp(aptPackagesOf(manifest))) expect(listed(index, name) || listed(status, name), `${app.id}: ${name}`).toBe(true);
    }
    const debs = await disk.extList(ROOT, '/var/lib/clic/offline-apt');
    expect(index).toMatch(/^Filename: \.\/\S+\.deb$/m);
    for (const file of index.match(/^Filename: \.\/(\S+)$/gm) ?? []) expect(debs).toContain(file.slice('Filename: ./'.length));
    const source = await disk.extRead(ROOT, '/etc/apt/sources.list.d/clic-offline.sources');
    expect(source).toMatch(/^URIs: file:\/var\/lib\/clic\/offline-apt$/m);
    expect(source).toMatch(/^Trusted: yes$/m);
  });

  it.runIf(!REAL_YUNOHOST)('STAND-IN test app: qrencode and its library from Debian, staged and not installed', async () => {
    const disk = await openDisk(image);
    const debs = await disk.extList(ROOT, '/var/lib/clic/offline-apt');
    for (const name of ['qrencode', 'libqrencode4']) expect(debs.some((f) => f.startsWith(`${name}_`) && f.endsWith('.deb')), name).toBe(true);
    expect(await disk.extRead(ROOT, '/var/lib/dpkg/status')).not.toMatch(/^Package: qrencode$/m);
  });

  it('enables the first-boot unit and links the YunoHost portal from the kit’s portal', async () => {
    const disk = await openDisk(image);
    expect(await disk.extList(ROOT, '/etc/systemd/system/multi-user.target.wants')).toContain('clic-yunohost.service');
    expect(await disk.extRead(ROOT, '/var/www/clic-portal/index.en.html')).toContain('href="/yunohost/sso/"');
  });
});
