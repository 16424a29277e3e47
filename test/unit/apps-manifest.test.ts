/**
 * YunoHost app manifests (packaging format 2), as the build reads them: the sources for one
 * architecture (top-level or per-arch, and what cannot be staged offline), the Debian packages
 * in their forms, the install questions and which need an answer, and withPrefetchOff, which
 * must keep the packager's text and still give the manifest with every source's prefetch off.
 * Manifests are inline TOML or test/fixtures/apps/manifest.toml; no network, no root.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { aptPackagesOf, aptSnippetOf, architecturesOf, ManifestError, parseManifest, questionsOf, refuseInstallTimeDownloads, sourcesFor, withPrefetchOff, type Manifest } from '../../builder/apps/manifest.ts';

const FIXTURE = readFileSync(join(import.meta.dirname, '../fixtures/apps/manifest.toml'), 'utf8');
const SUM = (c: string) => c.repeat(64);

const sourcesOf = (text: string) => (parse(text) as { resources: { sources: Record<string, Record<string, unknown>> } }).resources.sources;

describe('parseManifest', () => {
  it('nests dotted keys as YunoHost reads them', () => {
    const m = parseManifest(FIXTURE);
    expect(m.id).toBe('hedgedoc');
    expect((m.description as Record<string, string>).en).toMatch(/Collaborative/);
    expect(architecturesOf(m)).toEqual(['amd64', 'arm64']);
    expect(architecturesOf({ integration: { architectures: 'all' } })).toBe('all');
  });

  it('says which line is wrong in a broken manifest', () => {
    expect(() => parseManifest('id = "x"\nname = \n')).toThrow(ManifestError);
    expect(() => parseManifest('id = "x"\nname = \n')).toThrow(/not valid TOML.*line 2/i);
  });
});

describe('sourcesFor', () => {
  const manifest = parseManifest(FIXTURE);

  it('takes each source’s file for the architecture, and the fields ynh_setup_source reads', () => {
    expect(sourcesFor(manifest, 'arm64')).toEqual([
      { id: 'main', url: 'https://github.com/hedgedoc/hedgedoc/releases/download/1.10.0/hedgedoc-1.10.0-arm64.tar.gz', sha256: '1d6c3ce1c5e1d1e8e6d2cac1dee2c5a4a7b4c4d2f5f6a4b7c6e2d4f3a2b1cad9' },
      { id: 'fonts', url: 'https://example.org/fonts/fonts-2.0.zip', sha256: '2e7d4df2d6f2e2f9f7e3dbd2eff3d6b5b8c5d5e3a6a7b5c8d7f3e5a4b3c2dbe0', format: 'zip', extract: false, rename: 'fonts.zip' },
    ]);
    expect(sourcesFor(manifest, 'amd64')[0].url).toMatch(/-amd64\.tar\.gz$/);
  });

  it('names the app and the source that has no file for the architecture', () => {
    expect(() => sourcesFor(manifest, 'armhf')).toThrow(ManifestError);
    expect(() => sourcesFor(manifest, 'armhf')).toThrow('app "hedgedoc": source "main" has no file for armhf (only for amd64, arm64)');
  });

  it('reads JSON manifests (a catalog entry) alike, and lower-cases the checksum', () => {
    const m: Manifest = { id: 'x', resources: { sources: { main: { url: 'https://e.org/x.tar.gz', sha256: SUM('A') } } } };
    expect(sourcesFor(m, 'armhf')).toEqual([{ id: 'main', url: 'https://e.org/x.tar.gz', sha256: SUM('a') }]);
    expect(sourcesFor({ id: 'x' }, 'amd64')).toEqual([]);
  });

  it('refuses what cannot be downloaded and verified at build time', () => {
    const one = (source: Record<string, unknown>): Manifest => ({ id: 'x', resources: { sources: { main: source } } });
    expect(() => sourcesFor(one({ url: 'https://e.org/x.tar.gz' }), 'amd64')).toThrow(/source "main" has no valid sha256/);
    expect(() => sourcesFor(one({ url: 'ftp://e.org/x', sha256: SUM('a') }), 'amd64')).toThrow(/no http\(s\) url/);
    expect(() => sourcesFor(one({ in_subdir: false }), 'amd64')).toThrow(/neither url\/sha256 nor <arch>\.url/);
    expect(() => sourcesFor(one({ amd64: { url: 'https://e.org/x' } }), 'amd64')).toThrow(/no valid amd64\.sha256/);
    expect(() => sourcesFor(one({ url: 'https://e.org/img', sha256: SUM('a'), format: 'docker' }), 'amd64')).toThrow(/docker image.*cannot be staged offline/);
  });
});

describe('aptPackagesOf', () => {
  const apt = (v: Record<string, unknown>): Manifest => ({ id: 'x', resources: { apt: v } });

  it('reads a comma-separated string or a list, without repeats, names only', () => {
    expect(aptPackagesOf(apt({ packages: 'php8.2-fpm, php8.2-curl,php8.2-fpm' }))).toEqual(['php8.2-fpm', 'php8.2-curl']);
    expect(aptPackagesOf(apt({ packages: ['postgresql', 'jq'] }))).toEqual(['postgresql', 'jq']);
    expect(aptPackagesOf(apt({ packages: 'nodejs (>= 18) | nodejs-legacy, libpq5' }))).toEqual(['nodejs', 'libpq5']);
    expect(aptPackagesOf(parseManifest(FIXTURE))).toEqual(['postgresql', 'nodejs']);
    expect(aptPackagesOf({ id: 'x' })).toEqual([]);
  });

  it('leaves packages chosen by a bash snippet to aptSnippetOf, and refuses extra repositories, saying why', () => {
    expect(aptPackagesOf(apt({ packages: 'jq', packages_from_raw_bash: 'echo foo\n' }))).toEqual(['jq']);
    expect(aptSnippetOf(apt({ packages: 'jq', packages_from_raw_bash: 'echo foo\n' }))).toBe('echo foo\n');
    expect(aptSnippetOf(apt({ packages: 'jq', packages_from_raw_bash: '  \n' }))).toBeNull();
    expect(() => aptPackagesOf(apt({ packages: 'jq', extras: { yarn: { repo: 'deb https://dl.yarnpkg.com/debian/ stable main', key: 'k', packages: ['yarn'] } } }))).toThrow(
      'app "x": resources.apt.extras takes packages from another apt repository (yarn), which cannot be staged offline yet',
    );
    expect(() => aptPackagesOf(apt({ packages: [3] }))).toThrow(/string or a list of strings/);
  });
});

describe('refuseInstallTimeDownloads', () => {
  const resources = (v: Record<string, unknown>): Manifest => ({ id: 'x', resources: { apt: { packages: 'jq' }, ...v } });

  it('lets through what the image stages (sources, apt, database, ports…)', () => {
    expect(() => refuseInstallTimeDownloads(resources({ database: { type: 'mysql' }, ports: {}, install_dir: {} }))).not.toThrow();
    expect(() => refuseInstallTimeDownloads({ id: 'x' })).not.toThrow();
  });

  it('refuses each toolchain YunoHost downloads while installing, naming what and from where', () => {
    expect(() => refuseInstallTimeDownloads(parseManifest('id = "pad"\n[resources.nodejs]\nversion = "22"\n'))).toThrow(
      new ManifestError('app "pad": resources.nodejs (Node.js 22 from nodejs.org (with "n")) is downloaded by YunoHost while installing, which cannot be staged offline yet'),
    );
    expect(() => refuseInstallTimeDownloads(resources({ composer: { version: '2.9.2' }, ruby: {} }))).toThrow(
      'app "x": resources.ruby (rbenv and ruby-build from GitHub to compile Ruby of no stated version) and resources.composer (composer.phar 2.9.2 from getcomposer.org) are downloaded by YunoHost while installing, which cannot be staged offline yet',
    );
    expect(() => refuseInstallTimeDownloads(resources({ go: { version: '1.22' } }))).toThrow(/resources\.go \(goenv from GitHub and Go 1\.22\)/);
  });
});

describe('questionsOf', () => {
  it('tells which questions need an answer: YunoHost fills domain, user, group and boolean itself', () => {
    const m: Manifest = {
      install: {
        domain: { type: 'domain' },
        admin: { type: 'user' },
        init_main_permission: { type: 'group', default: 'visitors' },
        is_public: { type: 'boolean' },
        path: { type: 'path', default: '/wiki' },
        title: { ask: { en: 'Title', fr: 'Titre' } },
        password: { type: 'password', ask: { fr: 'Mot de passe' } },
        motd: { type: 'string', optional: true },
        empty_default: { type: 'string', default: '' },
        language: { type: 'select', choices: { fr: 'Français', en: 'English' }, default: 'fr' },
        notice: { type: 'alert', ask: { en: 'Read this' } },
      },
    };
    const qs = questionsOf(m);
    expect(qs.map((q) => q.id)).toEqual(['domain', 'admin', 'init_main_permission', 'is_public', 'path', 'title', 'password', 'motd', 'empty_default', 'language', 'notice']);
    expect(qs.filter((q) => q.required).map((q) => q.id)).toEqual(['title', 'password', 'empty_default']);
    const byId = Object.fromEntries(qs.map((q) => [q.id, q]));
    expect(byId.title).toMatchObject({ type: 'string', ask: 'Title', optional: false, displayOnly: false });
    expect(byId.password.ask).toBe('Mot de passe');
    expect(byId.domain.ask).toBe('domain');
    expect(byId.path.default).toBe('/wiki');
    expect(byId.empty_default).not.toHaveProperty('default');
    expect(byId.language.choices).toEqual(['fr', 'en']);
    expect(byId.notice).toMatchObject({ displayOnly: true, required: false });
  });
});

describe('withPrefetchOff', () => {
  it('turns prefetch off on every source and changes nothing else', () => {
    const out = withPrefetchOff(FIXTURE);
    const before = parse(FIXTURE) as Record<string, unknown>;
    const after = parse(out) as { resources: { sources: Record<string, Record<string, unknown>> } };
    const sources = after.resources.sources;
    expect(Object.keys(sources)).toEqual(['main', 'fonts']);
    for (const s of Object.values(sources)) expect(s.prefetch).toBe(false);
    for (const s of Object.values(sources)) delete s.prefetch;
    expect(after).toEqual(before);
  });

  it('keeps the packager’s text: comments, dotted keys, the multi-line string; one line added per source', () => {
    const out = withPrefetchOff(FIXTURE);
    const added = out.split('\n').filter((l) => !FIXTURE.split('\n').includes(l));
    expect(added).toEqual(['        prefetch = false', '        prefetch = false']);
    expect(out).toContain('        # per-architecture builds, as upstream publishes them\n');
    expect(out).toMatch(/^\s*arm64\.sha256 = "1d6c3ce1/m);
    expect(out).toContain('    a multi-line string that looks like a table:\n    [resources.sources.main]\n    """');
    expect(out).toContain('        [resources.sources.main]\n        prefetch = false\n        # per-architecture');
  });

  it('is idempotent, and leaves a manifest with nothing to change as it is', () => {
    const once = withPrefetchOff(FIXTURE);
    expect(withPrefetchOff(once)).toBe(once);
    const none = 'id = "x"\n[resources]\ninstall_dir = {}\n';
    expect(withPrefetchOff(none)).toBe(none);
  });

  it('writes sources given as dotted keys below [resources.sources] or [resources]', () => {
    const below = `id = "x"\n[resources.sources]\nmain.url = "https://e.org/x.tar.gz"\nmain.sha256 = "${SUM('a')}"\n"odd.id".url = "https://e.org/y"\n"odd.id".sha256 = "${SUM('b')}"\n`;
    const out = withPrefetchOff(below);
    expect(out).toContain('[resources.sources]\nmain.prefetch = false\n"odd.id".prefetch = false\nmain.url');
    expect(sourcesOf(out)['odd.id'].prefetch).toBe(false);
    const higher = `id = "x"\n[resources]\nsources.main.url = "https://e.org/x.tar.gz"\nsources.main.sha256 = "${SUM('a')}"\n`;
    expect(withPrefetchOff(higher)).toContain('[resources]\nsources.main.prefetch = false\n');
  });

  it('writes the manifest anew when the layout defeats the line edit, still right', () => {
    const inline = `id = "x" # the id\n[resources.sources]\nmain = { url = "https://e.org/x.tar.gz", sha256 = "${SUM('a')}" }\n`;
    const flagTrue = `id = "x"\n[resources.sources.main]\nurl = "https://e.org/x.tar.gz"\nsha256 = "${SUM('a')}"\nprefetch = true\n`;
    for (const text of [inline, flagTrue]) {
      const out = withPrefetchOff(text);
      expect(sourcesOf(out).main).toEqual({ url: 'https://e.org/x.tar.gz', sha256: SUM('a'), prefetch: false });
      expect(out).not.toMatch(/prefetch\s*=\s*true/);
    }
  });
});
