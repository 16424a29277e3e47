/**
 * apt-sources — the layers' extra apt repositories (YunoHost's, a lab's own), made ready for the
 * package resolution and the bootstrap: each key is fetched (http/https URL) or read (a path,
 * relative to the recipe's folder), and refused unless it holds exactly one OpenPGP certificate
 * whose primary key or one of whose subkeys has the pinned fingerprint. The key is the only
 * trust there is in such a repository: a key that differs from the one the recipe names stops
 * the build here, before apt has read a single index signed by it.
 *
 * It writes, under `<workDir>/apt-sources/`:
 *  - `image/`: what the image keeps: `etc/apt/keyrings/<name>.asc` (or `.gpg` for a binary key)
 *    and `etc/apt/sources.list.d/<name>.sources` (deb822, `Signed-By:` that key file);
 *  - `build/sources.list.d/<name>.sources`: the same source with `Signed-By:` the key's path on
 *    the build host, because apt during mmdebstrap runs outside the image and reads that path
 *    there (packages and bootstrap steps).
 *
 * Options (from the plan): aptSources (url, suite, components, key, fingerprint).
 * Example: repository { url: http://forge.yunohost.org/debian/, suite: bookworm,
 *   components: [stable], key: https://forge.yunohost.org/yunohost_bookworm.asc, fingerprint: E05E… }
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { PlannedAptSource, Plan } from '../recipe/plan.ts';
import type { Step } from '../step.ts';
import { runCommand } from '../exec.ts';

const KEY_TIMEOUT_MS = 60_000;

export const aptSourcesDir = (workDir: string) => join(workDir, 'apt-sources');
/** Folder of the build-time .sources files (apt's Dir::Etc::SourceParts during mmdebstrap). */
export const buildSourceParts = (workDir: string) => join(aptSourcesDir(workDir), 'build', 'sources.list.d');
/** Tree copied into the image: key files and .sources. */
export const imageAptTree = (workDir: string) => join(aptSourcesDir(workDir), 'image');

export const normalizeFingerprint = (fpr: string) => fpr.replace(/\s+/g, '').toUpperCase();

export interface KeyCertificate {
  /** Primary key fingerprint. */
  primary: string;
  /** Fingerprints of the primary key and its subkeys. */
  fingerprints: string[];
  userIds: string[];
}

/** The certificates in a key file, as `gpg --show-keys --with-colons` lists them (nothing is imported). */
export async function readKeyCertificates(keyFile: string, signal?: AbortSignal): Promise<KeyCertificate[]> {
  const home = await mkdtemp(join(dirname(keyFile), '.gnupg-'));
  try {
    // gpg fails on a file with no OpenPGP data at all (an HTML error page, say): no certificate
    const listing = await runCommand(['gpg', '--homedir', home, '--batch', '--no-autostart', '--with-colons', '--show-keys', keyFile], { signal }).then(
      (r) => r.stdout,
      (err: unknown) => {
        if (signal?.aborted) throw err;
        return '';
      },
    );
    return parseColons(listing);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

export function parseColons(listing: string): KeyCertificate[] {
  const certs: KeyCertificate[] = [];
  let current: KeyCertificate | null = null;
  let expectFpr: 'primary' | 'sub' | null = null;
  for (const line of listing.split('\n')) {
    const f = line.split(':');
    if (f[0] === 'pub') {
      current = { primary: '', fingerprints: [], userIds: [] };
      certs.push(current);
      expectFpr = 'primary';
    } else if (f[0] === 'sub') {
      expectFpr = 'sub';
    } else if (f[0] === 'fpr' && current && expectFpr) {
      if (expectFpr === 'primary') current.primary = f[9];
      current.fingerprints.push(f[9]);
      expectFpr = null;
    } else if (f[0] === 'uid' && current) {
      current.userIds.push(f[9]);
    }
  }
  return certs;
}

/** Why a key file is not the pinned key, or null when it is. */
export function fingerprintProblem(certs: KeyCertificate[], pinned: string): string | null {
  const want = normalizeFingerprint(pinned);
  if (certs.length === 0) return 'it holds no OpenPGP public key';
  if (certs.length > 1) return `it holds ${certs.length} keys (${certs.map((c) => c.primary).join(', ')}); expected only the pinned one`;
  if (!certs[0].fingerprints.includes(want)) {
    return `its fingerprint is ${certs[0].primary}${certs[0].userIds.length ? ` (${certs[0].userIds[0]})` : ''}, and the recipe pins ${want}`;
  }
  return null;
}

async function fetchKey(source: PlannedAptSource, recipeFile: string, signal: AbortSignal): Promise<Uint8Array> {
  if (/^https?:\/\//.test(source.key)) {
    const timeout = AbortSignal.timeout(KEY_TIMEOUT_MS);
    const res = await fetch(source.key, { signal: AbortSignal.any([signal, timeout]) }).catch((err: Error) => {
      throw new Error(`cannot fetch its key ${source.key}: ${timeout.aborted ? `no answer in ${KEY_TIMEOUT_MS / 1000} s` : (err.cause as Error)?.message ?? err.message}`);
    });
    if (!res.ok) throw new Error(`cannot fetch its key ${source.key}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  const path = isAbsolute(source.key) ? source.key : resolve(dirname(recipeFile), source.key);
  return readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read its key ${path}: ${err.code ?? err.message}`);
  });
}

const isArmored = (key: Uint8Array) => Buffer.from(key.subarray(0, 2048)).toString('latin1').includes('-----BEGIN PGP PUBLIC KEY BLOCK-----');

/** Key file name in the image: apt reads `.asc` as armored, `.gpg` as binary. */
export const keyFileName = (source: PlannedAptSource, armored: boolean) => `${source.name}.${armored ? 'asc' : 'gpg'}`;

export function deb822Source(source: PlannedAptSource, signedBy: string): string {
  return [
    `# Extra repository of the ${source.layer} layer (clic-image); its key is pinned by fingerprint ${normalizeFingerprint(source.fingerprint)}.`,
    'Types: deb',
    `URIs: ${source.url}`,
    `Suites: ${source.suite}`,
    `Components: ${source.components.join(' ')}`,
    `Signed-By: ${signedBy}`,
    '',
  ].join('\n');
}

export function aptSourcesStep(): Step {
  return {
    name: 'apt-sources',
    async run(ctx) {
      await rm(aptSourcesDir(ctx.workDir), { recursive: true, force: true });
      const keysDir = join(aptSourcesDir(ctx.workDir), 'keys');
      await mkdir(keysDir, { recursive: true });
      await mkdir(buildSourceParts(ctx.workDir), { recursive: true });
      await mkdir(join(imageAptTree(ctx.workDir), 'etc/apt/keyrings'), { recursive: true });
      await mkdir(join(imageAptTree(ctx.workDir), 'etc/apt/sources.list.d'), { recursive: true });
      for (const source of ctx.plan.aptSources) {
        const where = `apt source "${source.name}" (layer ${source.layer}, variable ${source.variable})`;
        try {
          const key = await fetchKey(source, ctx.plan.recipeFile, ctx.signal);
          const armored = isArmored(key);
          const hostKey = join(keysDir, keyFileName(source, armored));
          await writeFile(hostKey, key);
          const problem = fingerprintProblem(await readKeyCertificates(hostKey, ctx.signal), source.fingerprint);
          if (problem) throw new Error(`the key ${source.key} is refused: ${problem}`);
          const imageKey = `/etc/apt/keyrings/${keyFileName(source, armored)}`;
          await writeFile(join(imageAptTree(ctx.workDir), imageKey), key, { mode: 0o644 });
          await writeFile(join(imageAptTree(ctx.workDir), `etc/apt/sources.list.d/${source.name}.sources`), deb822Source(source, imageKey));
          await writeFile(join(buildSourceParts(ctx.workDir), `${source.name}.sources`), deb822Source(source, hostKey));
        } catch (err) {
          throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
        }
      }
    },
  };
}

/** mmdebstrap options that make apt see the extra repositories during package resolution
 *  (--simulate runs no hook, so through apt's configuration; the file stays in a throwaway tree). */
export function simulateAptOptions(plan: Plan, workDir: string): string[] {
  return plan.aptSources.length ? [`--aptopt=Dir::Etc::SourceParts "${buildSourceParts(workDir)}"`] : [];
}
