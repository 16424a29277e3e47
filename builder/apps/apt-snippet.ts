/**
 * apt-snippet — the Debian packages an app chooses with a bash snippet
 * (`resources.apt.packages_from_raw_bash`, e.g. my_webapp's "php${phpversion}-fpm" when a PHP
 * version is chosen), found at build time from the install answers the image will give, so
 * that they are staged in the image's offline repository like the listed ones.
 *
 * The snippet runs as YunoHost runs it at install (src/utils/resources.py
 * check_output_bash_snippet, app_utils _make_environment_for_app_script): `bash FILE` with an
 * environment made of YunoHost's variables and the app's settings only — here YNH_APP_ID,
 * YNH_APP_INSTANCE_NAME/NUMBER, YNH_ARCH, YNH_DEBIAN_VERSION, YNH_DEFAULT_PHP_VERSION, `app` and
 * the answers — nothing of the build's own environment. Its output, split on white space, is
 * the package list; a non-zero exit, a timeout or a word that is no package name is an error
 * naming the app. withYunohostPhp adds what YunoHost's apt helper adds for a PHP version.
 *
 *   await aptSnippetPackages(snippet, { app: 'my_webapp', arch: 'amd64', suite: 'bookworm', answers: { phpversion: '8.2', database: 'mysql' } });
 *   // ['mariadb-server', 'php8.2-mysql', 'php8.2-fpm']
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../exec.ts';
import type { Arch } from '../recipe/define.ts';

const SNIPPET_TIMEOUT_MS = 20_000;
const DEBIAN_PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

/** YunoHost's default PHP for each Debian suite it runs on (YNH_DEFAULT_PHP_VERSION). */
const DEFAULT_PHP: Record<string, string> = { bookworm: '8.2', trixie: '8.4' };

export interface AptSnippetContext {
  app: string;
  arch: Arch;
  suite: string;
  /** The install answers, as `yunohost app install --args` gives them. */
  answers: Record<string, string>;
  signal?: AbortSignal;
}

export function snippetEnvironment(ctx: AptSnippetContext): Record<string, string> {
  return {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    ...ctx.answers,
    YNH_DEFAULT_PHP_VERSION: DEFAULT_PHP[ctx.suite] ?? DEFAULT_PHP.bookworm,
    YNH_APP_ID: ctx.app,
    YNH_APP_INSTANCE_NAME: ctx.app,
    YNH_APP_INSTANCE_NUMBER: '1',
    YNH_ARCH: ctx.arch,
    YNH_DEBIAN_VERSION: ctx.suite,
    app: ctx.app,
  };
}

export async function aptSnippetPackages(snippet: string, ctx: AptSnippetContext): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'clic-apt-snippet-'));
  try {
    const file = join(dir, 'snippet.sh');
    await writeFile(file, snippet);
    const timeout = AbortSignal.timeout(SNIPPET_TIMEOUT_MS);
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
    // env -i: the snippet sees YunoHost's variables and the answers, not the build's environment
    const env = Object.entries(snippetEnvironment(ctx)).map(([k, v]) => `${k}=${v}`);
    const { stdout } = await runCommand(['env', '-i', ...env, 'bash', file], { cwd: dir, signal }).catch((err: Error) => {
      if (ctx.signal?.aborted) throw err;
      throw new Error(
        `app "${ctx.app}": its resources.apt.packages_from_raw_bash snippet ${timeout.aborted ? `gave no answer in ${SNIPPET_TIMEOUT_MS / 1000} s` : `failed: ${err.message}`}`,
      );
    });
    const chosen = [...new Set(stdout.split(/\s+/).filter(Boolean))];
    const odd = chosen.filter((name) => !DEBIAN_PACKAGE_NAME.test(name));
    if (odd.length) {
      throw new Error(`app "${ctx.app}": its resources.apt.packages_from_raw_bash snippet printed ${odd.map((n) => JSON.stringify(n)).join(', ')}, which ${odd.length === 1 ? 'is not a Debian package name' : 'are not Debian package names'}`);
    }
    return chosen;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The packages, and those YunoHost's apt helper adds when one names a PHP version
 *  (helpers.v2.1.d/apt: php8.2-mysql → php8.2, php8.2-fpm, php8.2-common), which must be in the
 *  image's offline repository too. */
export function withYunohostPhp(packages: readonly string[]): string[] {
  const versions = new Set(packages.map((p) => /^php(\d+(?:\.\d+)*)(?:-|$)/.exec(p)?.[1]).filter((v): v is string => !!v));
  return [...new Set([...packages, ...[...versions].flatMap((v) => [`php${v}`, `php${v}-fpm`, `php${v}-common`])])];
}
