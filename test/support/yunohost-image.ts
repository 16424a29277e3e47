/**
 * A lab build with YunoHost and its apps, shared by the integration and boot tiers.
 *
 * By default against STAND-INS: YunoHost's repository, its app catalog and GitHub cannot be
 * reached from here, so everything they serve comes from a local server on the loopback that
 * this module fills: a signed apt repository holding a STAND-IN `yunohost` package
 * (test/support/yunohost-standin.ts — not YunoHost), the test app's git repository (manifest v2,
 * sources for amd64 and arm64, Debian dependency qrencode — which comes from Debian for real) and a
 * v3 app catalog. The build's code paths are the real ones: key fetched and its fingerprint
 * checked, repository used by apt, catalog looked up, app package fetched by git at its pinned
 * revision, source downloaded and verified.
 *
 * With CLIC_TEST_YUNOHOST_REPO_URL set (test/support/yunohost-real.ts), against that repository,
 * its key and an app catalog, with the apps CLIC_TEST_APPS lists; the lab is then named
 * clic-yunohost-real, so that its image never stands for the stand-in's.
 *
 *   const lab = await buildYunohostLab(work, outDir);      // lab.run: the build's events
 *   const { image, info } = await ensureYunohostImage();    // for the boot tier
 */
import { access, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { imagesDir, runBuild, TEST_CACHE, type BuildRun } from './images.ts';
import { makeSignedAptRepo, throwawayKeys } from './apt-repo.ts';
import { serveDir } from './static-server.ts';
import { yunohostStandinPackages } from './yunohost-standin.ts';
import { makeTestApp } from './ynh-test-app.ts';
import { realYunohost, type RealYunohost } from './yunohost-real.ts';

/** What the tests are run against: null, the stand-ins (read once: the environment is the switch). */
export const REAL_YUNOHOST: RealYunohost | null = realYunohost();
export const YUNOHOST_LAB = REAL_YUNOHOST ? 'clic-yunohost-real' : 'clic-yunohost-test';
export const GREETING = 'Bonjour from the lab, "offline" & <safe>';

/** What the lab image was built with: what the tests check in it and on its first boot. */
export interface YunohostLabInfo {
  /** Built against a real YunoHost repository and catalog (false: the stand-ins). */
  real: boolean;
  fingerprint: string;
  /** The repository key as served (ASCII-armored). */
  key: string;
  repositoryUrl: string;
  suite: string;
  components: string[];
  catalogUrl: string;
  /** In install order: the catalog's pinned revision and the answers the lab gives. */
  apps: { id: string; revision: string; args: Record<string, string> }[];
  /** The stand-in test app's source (stand-ins only). */
  testapp?: { sourceSha256: string };
}

type Change = { fingerprint?: string; keyUrl?: string };

export interface YunohostLab {
  run: BuildRun;
  info: YunohostLabInfo;
  /** Writes a lab file (another name, other repository key or fingerprint) and builds it. */
  buildVariant(name: string, change: Change, outDir: string, log?: string): Promise<BuildRun>;
  /** A key that did not sign the repository, as a URL or a file the lab file can name. */
  otherKey(): Promise<string>;
  close(): Promise<void>;
}

const TESTAPP = [{ id: 'testapp', args: { greeting: GREETING } }];

/** The lab file: the image, the repository, the catalog and the apps, with a change for a variant. */
function labYaml(info: YunohostLabInfo, key: string, change: Change): string {
  const lab = {
    extends: 'clic-pc-x86_64-yunohost',
    vars: {
      yunohost: { repository: { url: info.repositoryUrl, suite: info.suite, components: info.components, key: change.keyUrl ?? key, fingerprint: change.fingerprint ?? info.fingerprint } },
      apps: { catalog: info.catalogUrl },
    },
    apps: info.apps.map(({ id, args }) => (Object.keys(args).length ? { id, args } : id)),
  };
  const origin = info.real ? `the repository and catalog of CLIC_TEST_YUNOHOST_REPO_URL and CLIC_TEST_APP_CATALOG` : `local stand-ins of YunoHost's servers`;
  return `# lab build of the YunoHost tests (test/support/yunohost-image.ts): ${origin}\n${stringify(lab)}`;
}

async function textOf(keyOrUrl: string): Promise<string> {
  if (!/^https?:\/\//.test(keyOrUrl)) return readFile(keyOrUrl, 'utf8');
  const res = await fetch(keyOrUrl, { signal: AbortSignal.timeout(60_000) });
  if (!res.ok) throw new Error(`${keyOrUrl}: HTTP ${res.status}`);
  return res.text();
}

/** The real repository and catalog: the key as served, and each app's pinned revision. */
async function realInfo(real: RealYunohost): Promise<YunohostLabInfo> {
  const catalog = JSON.parse(await textOf(real.catalog)) as { apps: Record<string, { git?: { revision?: string } }> };
  return {
    real: true,
    fingerprint: real.repository.fingerprint,
    key: await textOf(real.repository.key),
    repositoryUrl: real.repository.url,
    suite: real.repository.suite,
    components: real.repository.components,
    catalogUrl: real.catalog,
    apps: real.apps.map(({ id, args }) => {
      const revision = catalog.apps[id]?.git?.revision;
      if (!revision) throw new Error(`CLIC_TEST_APPS names "${id}", which the catalog ${real.catalog} does not list`);
      return { id, revision, args };
    }),
  };
}

export async function startYunohostLab(work: string): Promise<Omit<YunohostLab, 'run'>> {
  const labOf = (info: YunohostLabInfo, key: string, otherKey: () => Promise<string>, close: () => Promise<void>) => ({
    info,
    otherKey,
    buildVariant: async (name: string, change: Change, outDir: string, log?: string) => {
      const file = join(work, `${name}.yaml`);
      await writeFile(file, labYaml(info, key, change));
      return runBuild(file, outDir, { cacheDir: TEST_CACHE, log });
    },
    close,
  });
  if (REAL_YUNOHOST) {
    const otherKey = async () => {
      const file = join(work, 'other-key.asc');
      await writeFile(file, (await throwawayKeys()).other.publicKey);
      return file;
    };
    return labOf(await realInfo(REAL_YUNOHOST), REAL_YUNOHOST.repository.key, otherKey, async () => undefined);
  }
  const www = join(work, 'www');
  await mkdir(www, { recursive: true });
  const server = await serveDir(www);
  const repo = await makeSignedAptRepo(join(www, 'apt'), { packages: yunohostStandinPackages(), suite: 'bookworm', component: 'main', architectures: ['amd64', 'arm64'] });
  await copyFile(repo.keyFile, join(www, 'apt', 'key.asc'));
  await copyFile(repo.otherKeyFile, join(www, 'apt', 'other-key.asc'));
  // the key beside the lab file, found by a path relative to it
  await copyFile(repo.keyFile, join(work, 'yunohost-test.asc'));
  const app = await makeTestApp(www, { baseUrl: server.url });
  const info: YunohostLabInfo = {
    real: false,
    fingerprint: repo.fingerprint,
    key: await readFile(repo.keyFile, 'utf8'),
    repositoryUrl: `${server.url}/apt/`,
    suite: 'bookworm',
    components: ['main'],
    catalogUrl: app.catalogUrl,
    apps: TESTAPP.map((a) => ({ ...a, revision: app.revision })),
    testapp: { sourceSha256: app.source.sha256 },
  };
  return labOf(info, 'yunohost-test.asc', async () => `${info.repositoryUrl}other-key.asc`, () => server.close());
}

/** Starts the stand-in servers (unless real), writes the lab YAML and builds it into outDir; the caller closes the lab. */
export async function buildYunohostLab(work: string, outDir: string, log?: string): Promise<YunohostLab> {
  const lab = await startYunohostLab(work);
  return { ...lab, run: await lab.buildVariant(YUNOHOST_LAB, {}, outDir, log) };
}
export async function saveYunohostInfo(artifacts: string, info: YunohostLabInfo): Promise<void> {
  await writeFile(join(artifacts, `${YUNOHOST_LAB}.info.json`), JSON.stringify(info, null, 2));
}

/** The lab image in the shared artifacts folder, built if missing (the integration tier leaves it there). */
export async function ensureYunohostImage(): Promise<{ image: string; info: YunohostLabInfo }> {
  const dir = await imagesDir();
  const image = join(dir, `${YUNOHOST_LAB}.img`);
  const meta = join(dir, `${YUNOHOST_LAB}.info.json`);
  if (await access(meta).then(() => true, () => false)) return { image, info: JSON.parse(await readFile(meta, 'utf8')) as YunohostLabInfo };
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'clic-yunohost-'));
  try {
    const lab = await buildYunohostLab(work, dir, join(dir, `${YUNOHOST_LAB}.build.log`));
    await lab.close();
    if (lab.run.code !== 0) throw new Error(`building ${YUNOHOST_LAB} failed (exit ${lab.run.code}):\n${lab.run.stderr.slice(-3000)}`);
    await saveYunohostInfo(dir, lab.info);
    return { image, info: lab.info };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
