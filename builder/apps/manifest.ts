/**
 * manifest — reads what the build needs from a YunoHost app manifest (packaging format 2):
 * the sources for one architecture, the Debian packages, the install questions, the
 * architectures supported. Works on the manifest as JSON (what a catalog entry carries) and on
 * the package's manifest.toml once parsed (parseManifest): TOML's dotted keys (`amd64.url = …`)
 * are nested objects either way, as YunoHost's own reader (python `toml`) makes them.
 *
 *   const manifest = parseManifest(await readFile('manifest.toml', 'utf8'));
 *   sourcesFor(manifest, 'arm64');   // [{ id: 'main', url: 'https://…arm64.tar.gz', sha256: '9c…' }]
 *   aptPackagesOf(manifest);         // ['php8.2-fpm', 'php8.2-curl']
 *   questionsOf(manifest);           // [{ id: 'domain', type: 'domain', required: false, … }, …]
 *
 * No options. What the build cannot stage offline is a ManifestError naming the app: a source
 * with no file for the architecture, a `docker` source, apt packages taken from an extra
 * repository (`extras`), a toolchain YunoHost downloads while installing (refuseInstallTimeDownloads:
 * `resources.nodejs`, `ruby`, `go`, `composer`). Packages chosen by a bash snippet (`packages_from_raw_bash`) are found
 * by running it with the install answers (apt-snippet.ts).
 * Checked against YunoHost (src/utils/resources.py SourcesResource and AptDependenciesAppResource,
 * NodejsAppResource, RubyAppResource, GoAppResource, ComposerAppResource, src/utils/form.py,
 * helpers.v2.1.d/sources ynh_setup_source). withPrefetchOff, which rewrites
 * a manifest for the staged copy, is in manifest-prefetch.ts and exported from here.
 */
import { parse, TomlError } from 'smol-toml';
import type { Arch } from '../recipe/define.ts';
import type { AppSource } from './types.ts';

export { withPrefetchOff } from './manifest-prefetch.ts';

/** A manifest as an object: TOML tables and JSON objects alike. */
export type Manifest = Record<string, unknown>;

/** Something in a manifest that the build cannot stage for an offline install. */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

export const isTable = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const table = (v: unknown): Record<string, unknown> => (isTable(v) ? v : {});

const appName = (manifest: Manifest) => (typeof manifest.id === 'string' ? `app "${manifest.id}"` : 'the app');

/** Every architecture name YunoHost knows (dpkg's names), for telling per-arch keys apart. */
const ARCHITECTURES = ['amd64', 'arm64', 'armhf', 'i386'];

const SHA256 = /^[0-9a-f]{64}$/;

/** The package's manifest.toml as an object; a syntax error names the line. */
export function parseManifest(tomlText: string): Manifest {
  try {
    return parse(tomlText) as Manifest;
  } catch (err) {
    const where = err instanceof TomlError ? ` (line ${err.line}, column ${err.column})` : '';
    throw new ManifestError(`manifest.toml is not valid TOML${where}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
}

/** `integration.architectures`: 'all', or the dpkg names listed. */
export function architecturesOf(manifest: Manifest): 'all' | string[] {
  const archs = table(manifest.integration).architectures;
  if (Array.isArray(archs)) return archs.map(String);
  return typeof archs === 'string' && archs !== 'all' ? [archs] : 'all';
}

// ---------------------------------------------------------------------------------------------
// sources

function checkedSource(app: string, id: string, where: string, entry: Record<string, unknown>): { url: string; sha256: string } {
  const { url, sha256 } = entry;
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) throw new ManifestError(`${app}: source "${id}" has no http(s) ${where}url (got ${JSON.stringify(url) ?? 'none'})`);
  const sum = typeof sha256 === 'string' ? sha256.trim().toLowerCase() : '';
  if (!SHA256.test(sum)) throw new ManifestError(`${app}: source "${id}" has no valid ${where}sha256 (64 hexadecimal digits, got ${JSON.stringify(sha256) ?? 'none'})`);
  return { url, sha256: sum };
}

/**
 * The files of `resources.sources` for one architecture: each source's top-level `url`/`sha256`,
 * else its `<arch>.url`/`<arch>.sha256` (what YunoHost's SourcesResource and ynh_setup_source
 * pick). Every source is staged, `prefetch = false` ones too: a script may still ask for them.
 */
export function sourcesFor(manifest: Manifest, arch: Arch): AppSource[] {
  const app = appName(manifest);
  const sources: AppSource[] = [];
  for (const [id, raw] of Object.entries(table(table(manifest.resources).sources))) {
    const entry = table(raw);
    // docker-image-extract pulls the image itself when the script runs: nothing to stage
    if (typeof entry.format === 'string' && entry.format.toLowerCase() === 'docker') {
      throw new ManifestError(`${app}: source "${id}" is a docker image (format = "docker"), which YunoHost pulls while installing: it cannot be staged offline`);
    }
    let file: { url: string; sha256: string };
    if (entry.url !== undefined) file = checkedSource(app, id, '', entry);
    else {
      const archs = ARCHITECTURES.filter((a) => isTable(entry[a]));
      if (!archs.length) throw new ManifestError(`${app}: source "${id}" has neither url/sha256 nor <arch>.url/<arch>.sha256`);
      if (!isTable(entry[arch])) throw new ManifestError(`${app}: source "${id}" has no file for ${arch} (only for ${archs.join(', ')})`);
      file = checkedSource(app, id, `${arch}.`, entry[arch] as Record<string, unknown>);
    }
    sources.push({
      id,
      ...file,
      ...(typeof entry.format === 'string' ? { format: entry.format } : {}),
      ...(typeof entry.extract === 'boolean' ? { extract: entry.extract } : {}),
      ...(typeof entry.rename === 'string' ? { rename: entry.rename } : {}),
    });
  }
  return sources;
}

// ---------------------------------------------------------------------------------------------
// Debian packages

/**
 * Package names of one `packages` item: YunoHost splits a string on commas and its helper then
 * takes the words; version constraints `(>= 1.2)` are dropped (the offline repository carries
 * one version), and of alternatives `a | b` the first is kept, as apt would pick it.
 */
function packageNames(item: string): string[] {
  return item
    .replace(/\([^)]*\)/g, ' ')
    .split(',')
    .map((part) => part.split('|')[0].trim())
    .flatMap((part) => part.split(/\s+/))
    .filter(Boolean);
}

/** `resources.apt.packages_from_raw_bash`: the bash snippet that prints more Debian packages
 *  from the install answers (run by apt-snippet.ts, as YunoHost runs it), or null. */
export function aptSnippetOf(manifest: Manifest): string | null {
  const snippet = table(table(manifest.resources).apt).packages_from_raw_bash;
  return typeof snippet === 'string' && snippet.trim() ? snippet : null;
}

/**
 * `resources.apt.packages` (a comma-separated string or a list), without repeats; those a bash
 * snippet chooses come from aptSnippetOf. An extra apt repository is a ManifestError: it cannot
 * be staged offline yet.
 */
export function aptPackagesOf(manifest: Manifest): string[] {
  const app = appName(manifest);
  const apt = table(table(manifest.resources).apt);
  const extras = Object.keys(table(apt.extras));
  if (extras.length) {
    throw new ManifestError(`${app}: resources.apt.extras takes packages from another apt repository (${extras.join(', ')}), which cannot be staged offline yet`);
  }
  const items = apt.packages === undefined ? [] : Array.isArray(apt.packages) ? apt.packages : [apt.packages];
  const names: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') throw new ManifestError(`${app}: resources.apt.packages must be a string or a list of strings, got ${JSON.stringify(item)}`);
    names.push(...packageNames(item));
  }
  return [...new Set(names)];
}

// ---------------------------------------------------------------------------------------------
// toolchains YunoHost downloads while installing

/** What YunoHost fetches, and from where, for each resource that needs the network at install
 *  (src/utils/resources.py: `n install`, rbenv/ruby-build clones, goenv clones, composer.phar). */
const DOWNLOADED_AT_INSTALL: Record<string, (version: string) => string> = {
  nodejs: (v) => `Node.js ${v} from nodejs.org (with "n")`,
  ruby: (v) => `rbenv and ruby-build from GitHub to compile Ruby ${v}`,
  go: (v) => `goenv from GitHub and Go ${v}`,
  composer: (v) => `composer.phar ${v} from getcomposer.org`,
};

/**
 * A ManifestError when the manifest asks for a toolchain YunoHost downloads while installing:
 * on a kit with no network the install would stop there, in the field. Checked at plan time so
 * that the lab learns it before flashing.
 */
export function refuseInstallTimeDownloads(manifest: Manifest): void {
  const resources = table(manifest.resources);
  const found = Object.keys(DOWNLOADED_AT_INSTALL)
    .filter((type) => type in resources)
    .map((type) => {
      const version = table(resources[type]).version;
      return `resources.${type} (${DOWNLOADED_AT_INSTALL[type](typeof version === 'string' || typeof version === 'number' ? String(version) : 'of no stated version')})`;
    });
  if (found.length) {
    throw new ManifestError(`${appName(manifest)}: ${found.join(' and ')} ${found.length > 1 ? 'are' : 'is'} downloaded by YunoHost while installing, which cannot be staged offline yet`);
  }
}

// ---------------------------------------------------------------------------------------------
// install questions

export interface InstallQuestion {
  id: string;
  /** 'string' when the manifest gives none, as YunoHost reads it. */
  type: string;
  /** As the manifest gives it; absent when it gives none. */
  default?: unknown;
  optional: boolean;
  /** The English prompt (`ask.en`), else the id. */
  ask: string;
  /** The allowed answers of a `select` (or other choice) question, when listed. */
  choices?: string[];
  /** Shown text (display_text, markdown, alert) or a button: it takes no answer. */
  displayOnly: boolean;
  /** An answer must be given: an input with no default, not optional, of a type YunoHost does
   *  not fill itself (domain: the main domain, user: the first admin, group: all_users,
   *  boolean: no — src/utils/form.py). */
  required: boolean;
}

const DISPLAY_TYPES = new Set(['display_text', 'markdown', 'alert', 'button']);
const FILLED_BY_YUNOHOST = new Set(['domain', 'user', 'group', 'boolean']);

function englishAsk(ask: unknown, id: string): string {
  if (typeof ask === 'string') return ask;
  if (isTable(ask)) {
    if (typeof ask.en === 'string') return ask.en;
    const first = Object.values(ask).find((v) => typeof v === 'string');
    if (typeof first === 'string') return first;
  }
  return id;
}

/** The `install` questions, in manifest order. */
export function questionsOf(manifest: Manifest): InstallQuestion[] {
  return Object.entries(table(manifest.install)).map(([id, raw]) => {
    const q = table(raw);
    const type = typeof q.type === 'string' ? q.type : 'string';
    const displayOnly = DISPLAY_TYPES.has(type);
    // YunoHost reads an empty default as none (form.py)
    const hasDefault = q.default !== undefined && q.default !== null && q.default !== '';
    const optional = q.optional === true;
    const choices = Array.isArray(q.choices) ? q.choices.map(String) : isTable(q.choices) ? Object.keys(q.choices) : undefined;
    return {
      id,
      type,
      ...(hasDefault ? { default: q.default } : {}),
      optional,
      ask: englishAsk(q.ask, id),
      ...(choices ? { choices } : {}),
      displayOnly,
      required: !displayOnly && !hasDefault && !optional && !FILLED_BY_YUNOHOST.has(type),
    };
  });
}
