/**
 * resolve — turns a lab's app requests into exact apps through YunoHost's app catalog: the
 * package's pinned revision and git URL, the sources for the board's architecture (url and
 * sha256), the Debian packages, and the answers to the install questions (`--args`). Every bad
 * request is reported at once, each with its place below the list item, so that a lab is fixed
 * in one pass.
 *
 *   let catalog = await loadAppCatalog(url, { cacheDir });
 *   catalog = await withPackageManifests(catalog, requests, { cacheDir });   // the v3 catalog lacks install/resources
 *   const { apps, problems } = resolveApps(['yeswiki', { id: 'hedgedoc', args: { pth: '/pad' } }], catalog, 'arm64');
 *   // problems: [{ index: 1, path: '/args/pth', message: 'app "hedgedoc" has no install question "pth" — did you mean "path"?' }]
 *
 * Problems: a malformed request, an unknown id (with close matches), the same app twice, an app
 * the catalog marks `notworking`, a package that cannot be had, an architecture the app does not
 * support, a source, apt dependency or toolchain that cannot be staged offline (in the manifest,
 * or called by the install script: install-script.ts), an answer to no question
 * (with close matches) or outside a question's choices, a required question left unanswered.
 * The questions YunoHost answers itself (domain, user, group, boolean) need no answer.
 * Options of withPackageManifests: `cacheDir` (build cache root), `signal`, `timeoutMs` (per git
 * command); fetchAppPackage (package.ts) is exported from here too.
 */
import pLimit from 'p-limit';
import { AbortedError } from '../errors.ts';
import type { Arch } from '../recipe/define.ts';
import { closeMatches } from '../recipe/schema.ts';
import type { AppCatalog } from './catalog.ts';
import { aptPackagesOf, architecturesOf, isTable, ManifestError, parseManifest, questionsOf, refuseInstallTimeDownloads, sourcesFor, type Manifest } from './manifest.ts';
import { refuseNetworkHelpers } from './install-script.ts';
import { fetchAppPackage, readPackageFile, readPackageManifest } from './package.ts';
import type { AppRequest, AppSource, ResolvedApp } from './types.ts';

export { AppPackageError, fetchAppPackage, readPackageManifest, type FetchAppPackageOptions } from './package.ts';

export interface AppProblem {
  /** Position of the request in the list. */
  index: number;
  /** JSON pointer below the list item: '' for the item itself, '/args/greeting'… */
  path: string;
  message: string;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
const pointer = (key: string) => `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
const quoted = (words: string[]) => words.map((w) => `"${w}"`).join(' or ');

// ---------------------------------------------------------------------------------------------
// requests and catalog entries

type Answer = string | number | boolean;
type Classified = { id: string; args: Record<string, Answer>; hasArgs: boolean } | { problems: { path: string; message: string }[] };

function classify(req: unknown): Classified {
  if (typeof req === 'string') return req.trim() ? { id: req.trim(), args: {}, hasArgs: false } : { problems: [{ path: '', message: 'empty app id' }] };
  if (!isTable(req)) return { problems: [{ path: '', message: `expected an app id (yeswiki) or { id, args }, got ${JSON.stringify(req)}` }] };
  const problems: { path: string; message: string }[] = [];
  for (const key of Object.keys(req)) {
    if (key === 'id' || key === 'args') continue;
    const close = closeMatches(key, ['id', 'args']);
    problems.push({ path: pointer(key), message: `unknown field "${key}"` + (close.length ? ` — did you mean ${quoted(close)}?` : ' — an app is { id, args }') });
  }
  if (typeof req.id !== 'string' || !req.id.trim()) problems.push({ path: '/id', message: `expected an app id (yeswiki), got ${JSON.stringify(req.id) ?? 'none'}` });
  const args: Record<string, Answer> = {};
  if (req.args !== undefined && !isTable(req.args)) problems.push({ path: '/args', message: 'expected a mapping of install questions to answers' });
  for (const [key, value] of Object.entries(isTable(req.args) ? req.args : {})) {
    if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) args[key] = value;
    else problems.push({ path: `/args${pointer(key)}`, message: `expected a string, number or boolean answer, got ${JSON.stringify(value) ?? 'none'}` });
  }
  return problems.length ? { problems } : { id: (req.id as string).trim(), args, hasArgs: req.args !== undefined };
}

interface CatalogEntry {
  gitUrl: string;
  revision: string;
  manifest: Manifest;
  state: string;
}

/** An app of the catalog, checked; a message when its entry cannot be used. */
function entryOf(catalog: AppCatalog, id: string): CatalogEntry | string {
  const raw = catalog.document.apps[id];
  const git = isTable(raw) && isTable(raw.git) ? raw.git : {};
  if (!isTable(raw) || typeof git.url !== 'string' || typeof git.revision !== 'string' || !isTable(raw.manifest)) {
    return `the entry of app "${id}" in the catalog ${catalog.url} has no git url, git revision or manifest`;
  }
  if (!/^[0-9a-f]{40}$/i.test(git.revision.trim())) return `app "${id}": the catalog ${catalog.url} pins its package to "${git.revision}", not to a full commit id (40 hexadecimal digits)`;
  return { gitUrl: git.url, revision: git.revision.trim().toLowerCase(), manifest: raw.manifest, state: typeof raw.state === 'string' ? raw.state : 'working' };
}

const idsOf = (requests: readonly unknown[]) => [...new Set(requests.map(classify).flatMap((r) => ('id' in r ? [r.id] : [])))];

// ---------------------------------------------------------------------------------------------
// the packages' manifests

export interface WithPackageManifestsOptions {
  /** Cache root of the build: packages are kept in `<cacheDir>/app-packages/`. */
  cacheDir: string;
  signal?: AbortSignal;
  /** Per git command (default 300000). */
  timeoutMs?: number;
}

/**
 * The catalog, with the whole manifest of each requested app read from its package at the
 * catalog's revision (fetched once, then taken from the cache). The served v3 catalog drops the
 * manifests' `install` and `resources`, which resolveApps needs. A package that cannot be had is
 * kept as a problem for resolveApps to report with the request; ids the catalog lacks are left
 * for it to report too.
 */
export async function withPackageManifests(catalog: AppCatalog, requests: readonly AppRequest[], opts: WithPackageManifestsOptions): Promise<AppCatalog> {
  const manifests = new Map(catalog.packageManifests);
  const problems = new Map(catalog.packageProblems);
  const limit = pLimit(4);
  await Promise.all(
    idsOf(requests).map((id) =>
      limit(async () => {
        const entry = Object.hasOwn(catalog.document.apps, id) ? entryOf(catalog, id) : null;
        if (!entry || typeof entry === 'string' || entry.state === 'notworking' || manifests.has(id)) return;
        try {
          const tar = await fetchAppPackage({ id, gitUrl: entry.gitUrl, revision: entry.revision, cacheDir: opts.cacheDir, signal: opts.signal, timeoutMs: opts.timeoutMs });
          const manifest = parseManifest(await readPackageManifest(tar, id, opts.signal));
          if (manifest.id !== id) throw new Error(`app "${id}": the manifest.toml of its package at ${entry.revision} is for app "${String(manifest.id)}"`);
          const script = await readPackageFile(tar, id, 'scripts/install', opts.signal);
          if (script !== null) refuseNetworkHelpers(script);
          manifests.set(id, manifest);
          problems.delete(id);
        } catch (err) {
          if (err instanceof AbortedError) throw err;
          problems.set(id, err instanceof ManifestError ? `app "${id}" at ${entry.revision}: ${err.message}` : messageOf(err));
        }
      }),
    ),
  );
  return { ...catalog, packageManifests: manifests, packageProblems: problems };
}

// ---------------------------------------------------------------------------------------------
// resolution

/** An answer as YunoHost's `--args` carries it: booleans as 1/0 (form.py's yes/no), lists joined by commas. */
function answerText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number')) return value.join(',');
  return null;
}

/** `k=v&k2=v2`, keys sorted, URL-encoded as YunoHost's parse_qs reads it. */
export function argsQueryOf(args: Record<string, string>): string {
  return Object.keys(args)
    .sort()
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(args[k])}`)
    .join('&');
}

function fullManifest(catalog: AppCatalog, id: string, entry: CatalogEntry): Manifest {
  const manifest = catalog.packageManifests.get(id) ?? entry.manifest;
  if (!('install' in manifest) && !('resources' in manifest)) {
    // not the lab's mistake: the caller skipped a step
    throw new Error(`resolveApps: the catalog ${catalog.url} gives app "${id}" without its install questions and resources (YunoHost's v3 catalog drops them): read the packages first with withPackageManifests`);
  }
  return manifest;
}

/** The exact apps the requests ask for, in the same order, or every problem found. */
export function resolveApps(requests: readonly AppRequest[], catalog: AppCatalog, arch: Arch): { apps: ResolvedApp[]; problems: AppProblem[] } {
  const apps: ResolvedApp[] = [];
  const problems: AppProblem[] = [];
  const firstIndex = new Map<string, number>();
  requests.forEach((req, index) => {
    const before = problems.length;
    const problem = (path: string, message: string) => problems.push({ index, path, message });
    const request = classify(req);
    if ('problems' in request) return request.problems.forEach((p) => problem(p.path, p.message));
    const { id } = request;
    if (!Object.hasOwn(catalog.document.apps, id)) {
      const known = Object.keys(catalog.document.apps);
      const close = closeMatches(id, known);
      return problem('', `unknown app "${id}" in the catalog ${catalog.url}` + (close.length ? ` — did you mean ${quoted(close)}?` : ` — no app there has a similar id (${known.length} apps listed)`));
    }
    const first = firstIndex.get(id);
    if (first !== undefined) return problem('', `app "${id}" is listed twice (also request ${first}): each app is installed once`);
    firstIndex.set(id, index);
    const entry = entryOf(catalog, id);
    if (typeof entry === 'string') return problem('', entry);
    if (entry.state === 'notworking') return problem('', `app "${id}" is marked "notworking" in the catalog ${catalog.url}: its install is known to fail`);
    const packageProblem = catalog.packageProblems.get(id);
    if (packageProblem) return problem('', packageProblem);
    const manifest = fullManifest(catalog, id, entry);

    const archs = architecturesOf(manifest);
    let sources: AppSource[] = [];
    let aptPackages: string[] = [];
    if (archs !== 'all' && !archs.includes(arch)) problem('', `app "${id}" runs on ${archs.join(', ')} only, not on this board's ${arch}`);
    else {
      try {
        sources = sourcesFor(manifest, arch);
      } catch (err) {
        problem('', messageOf(err));
      }
    }
    try {
      aptPackages = aptPackagesOf(manifest);
    } catch (err) {
      problem('', messageOf(err));
    }
    try {
      refuseInstallTimeDownloads(manifest);
    } catch (err) {
      problem('', messageOf(err));
    }

    const questions = questionsOf(manifest);
    const byId = new Map(questions.map((q) => [q.id, q]));
    const inputs = questions.filter((q) => !q.displayOnly).map((q) => q.id);
    for (const [key, value] of Object.entries(request.args)) {
      const q = byId.get(key);
      const at = `/args${pointer(key)}`;
      if (!q) {
        const close = closeMatches(key, inputs);
        problem(at, `app "${id}" has no install question "${key}"` + (close.length ? ` — did you mean ${quoted(close)}?` : inputs.length ? ` — its questions are ${inputs.join(', ')}` : ' — it asks none'));
      } else if (q.displayOnly) problem(at, `"${key}" of app "${id}" is text shown at install (${q.type}): it takes no answer`);
      else if (q.choices && !q.choices.includes(answerText(value)!)) {
        problem(at, `${JSON.stringify(value)} is not an answer to "${q.ask}" of app "${id}" — expected one of: ${q.choices.join(', ')}`);
      }
    }
    for (const q of questions) {
      if (q.required && !(q.id in request.args)) {
        problem(request.hasArgs ? '/args' : '', `app "${id}" asks "${q.ask}" (install question "${q.id}", ${q.type}), which has no default: answer it in args, e.g. { id: ${id}, args: { ${q.id}: … } }`);
      }
    }
    if (problems.length > before) return;

    const args: Record<string, string> = {};
    for (const q of questions) {
      const text = q.displayOnly || q.default === undefined ? null : answerText(q.default);
      if (text !== null) args[q.id] = text;
    }
    for (const [key, value] of Object.entries(request.args)) args[key] = answerText(value)!;
    apps.push({
      id,
      name: typeof manifest.name === 'string' ? manifest.name : id,
      revision: entry.revision,
      gitUrl: entry.gitUrl,
      sources,
      aptPackages,
      args,
      argsQuery: argsQueryOf(args),
    });
  });
  return { apps, problems };
}
