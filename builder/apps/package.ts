/**
 * package — an app's YunoHost package (its git repository) at the catalog's pinned commit, as a
 * tar archive kept in the build cache, and the manifest.toml inside it. Uses the host's `git`:
 * a throw-away repository fetches that one commit (`--depth 1`; servers that cannot serve a
 * lone commit — git's "dumb" HTTP, some old servers — get a full fetch of their branches and
 * tags instead), then `git archive` writes the commit's tree. The revision must be a full
 * 40-hex commit id: git checks every object it receives against its id, so the id pins the
 * package's content as a sha256 pins a download.
 *
 *   const tar = await fetchAppPackage({ id: 'yeswiki', gitUrl: 'https://github.com/YunoHost-Apps/yeswiki_ynh', revision: '3f…', cacheDir, signal });
 *   // <cacheDir>/app-packages/yeswiki-3f….tar, reused by later builds
 *   const toml = await readPackageManifest(tar);
 *
 * Options: `cacheDir` (the build's cache root), `signal`, `timeoutMs` (per git command, default
 * 300 s). Git never prompts (GIT_TERMINAL_PROMPT=0). A failure is an AppPackageError naming the
 * app and URL; the temporary repository is removed whatever happens.
 */
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortedError, CommandError } from '../errors.ts';
import { runCommand } from '../exec.ts';

export interface FetchAppPackageOptions {
  id: string;
  gitUrl: string;
  /** Full commit id (40 hex digits). */
  revision: string;
  /** Cache root of the build: the archive is kept in `<cacheDir>/app-packages/`. */
  cacheDir: string;
  signal?: AbortSignal;
  /** Per git command (default 300000). */
  timeoutMs?: number;
}

/** An app's package could not be had at its revision, or has no manifest.toml. */
export class AppPackageError extends Error {
  constructor(
    readonly appId: string,
    message: string,
  ) {
    super(message);
    this.name = 'AppPackageError';
  }
}

const COMMIT = /^[0-9a-f]{40}$/;
const APP_ID = /^[a-z0-9][a-z0-9_.-]*$/i;

export const appPackagePath = (cacheDir: string, id: string, revision: string) => join(cacheDir, 'app-packages', `${id}-${revision}.tar`);

// no prompt for a password (a build has no one to answer it); the repository is the one given
// by -C, whatever the caller's environment says
const GIT_ENV = { GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', GIT_DIR: undefined, GIT_WORK_TREE: undefined };

const exists = (file: string) => stat(file).then((s) => s.isFile(), () => false);

/** The last lines git printed: the reason, without the progress chatter. */
const gitSays = (err: unknown) =>
  err instanceof CommandError ? err.stderrTail.split('\n').filter((l) => l.trim()).slice(-3).join(' / ') || err.message : err instanceof Error ? err.message : String(err);

/** The package's tree at `revision`, as a tar archive in the cache (fetched once). */
export async function fetchAppPackage(opts: FetchAppPackageOptions): Promise<string> {
  const { id, gitUrl } = opts;
  const revision = opts.revision.trim().toLowerCase();
  if (!APP_ID.test(id)) throw new AppPackageError(id, `"${id}" is not an app id`);
  if (!COMMIT.test(revision)) throw new AppPackageError(id, `app "${id}": revision "${opts.revision}" is not a full commit id (40 hexadecimal digits), which is what pins the package`);
  const target = appPackagePath(opts.cacheDir, id, revision);
  if (await exists(target)) return target;
  if (opts.signal?.aborted) throw new AbortedError(String(opts.signal.reason ?? 'abort'));

  await mkdir(join(target, '..'), { recursive: true });
  const repo = await mkdtemp(join(target, '..', `.${id}-`));
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const git = async (args: string[]) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await runCommand(['git', '-C', repo, ...args], { signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout, env: GIT_ENV });
    } catch (err) {
      if (err instanceof AbortedError && !opts.signal?.aborted) throw new Error(`git ${args[0]} gave no result within ${timeoutMs / 1000} s`);
      throw err;
    }
  };
  try {
    await git(['init', '--quiet', '--bare']);
    try {
      await git(['fetch', '--quiet', '--no-tags', '--depth', '1', gitUrl, revision]);
    } catch (err) {
      if (err instanceof AbortedError) throw err;
      // the server cannot give one commit alone: take its branches and tags, the commit among them
      await git(['fetch', '--quiet', '--no-tags', gitUrl, '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*']);
    }
    const found = await git(['rev-parse', '--verify', '--quiet', `${revision}^{commit}`]).catch((err) => {
      if (err instanceof AbortedError) throw err;
      throw new Error(`commit ${revision} is on no branch or tag there`);
    });
    if (found.stdout.trim() !== revision) throw new Error(`${revision} names ${found.stdout.trim()}, not itself`);
    const partial = join(repo, 'package.tar');
    await git(['archive', '--format=tar', `--output=${partial}`, revision]);
    await rename(partial, target);
    return target;
  } catch (err) {
    if (err instanceof AbortedError) throw err;
    throw new AppPackageError(id, `app "${id}": its package cannot be had from ${gitUrl} at ${revision}: ${gitSays(err)}`);
  } finally {
    await rm(repo, { recursive: true, force: true });
  }
}

/** The text of manifest.toml at the root of a package archive. */
export async function readPackageManifest(tarPath: string, appId: string, signal?: AbortSignal): Promise<string> {
  const text = await readPackageFile(tarPath, appId, 'manifest.toml', signal);
  if (text === null) throw new AppPackageError(appId, `app "${appId}": its package has no manifest.toml — only YunoHost's packaging format 2 can be staged`);
  return text;
}

/** One file of the package archive, or null when the package has no such file. */
export async function readPackageFile(tarPath: string, appId: string, path: string, signal?: AbortSignal): Promise<string | null> {
  try {
    return (await runCommand(['tar', '--extract', '--to-stdout', '--file', tarPath, path], { signal })).stdout;
  } catch (err) {
    if (err instanceof AbortedError) throw err;
    if (err instanceof CommandError && /Not found in archive/.test(err.stderrTail)) return null;
    throw new AppPackageError(appId, `app "${appId}": its package archive ${tarPath} cannot be read (${gitSays(err)})`);
  }
}
