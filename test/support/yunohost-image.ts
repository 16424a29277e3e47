/**
 * A lab build with YunoHost and one app, shared by the integration and boot tiers. YunoHost's
 * repository, its app catalog and GitHub cannot be reached from here, so everything they serve
 * comes from a local server on the loopback that this module fills: a signed apt repository
 * holding a STAND-IN `yunohost` package (test/support/yunohost-standin.ts — not YunoHost), the
 * test app's git repository (manifest v2, sources for amd64 and arm64, Debian dependency jq —
 * which comes from Debian for real) and a v3 app catalog. The build's code paths are the real
 * ones: key fetched and its fingerprint checked, repository used by apt, catalog looked up, app
 * package fetched by git at its pinned revision, source downloaded and verified.
 *
 *   const lab = await buildYunohostLab(work, outDir);      // lab.run: the build's events
 *   const { image, lab } = await ensureYunohostImage();     // for the boot tier
 */
import { access, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imagesDir, runBuild, TEST_CACHE, type BuildRun } from './images.ts';
import { makeSignedAptRepo } from './apt-repo.ts';
import { serveDir } from './static-server.ts';
import { yunohostStandinPackages } from './yunohost-standin.ts';
import { makeTestApp } from './ynh-test-app.ts';

export const YUNOHOST_LAB = 'clic-yunohost-test';
export const GREETING = 'Bonjour from the lab, "offline" & <safe>';

/** What the lab image was built with: what the tests check in it and on its first boot. */
export interface YunohostLabInfo {
  fingerprint: string;
  /** The repository key as served (ASCII-armored). */
  key: string;
  repositoryUrl: string;
  catalogUrl: string;
  app: { id: 'testapp'; revision: string; sourceSha256: string };
}

export interface YunohostLab {
  run: BuildRun;
  info: YunohostLabInfo;
  /** Writes a lab file (another name, other repository key or fingerprint, other apps…) and builds it. */
  buildVariant(name: string, change: { fingerprint?: string; keyUrl?: string; apps?: string }, outDir: string): Promise<BuildRun>;
  /** Writes a lab file and runs `clic-image plan` on it. */
  labFile(name: string, change: { fingerprint?: string; keyUrl?: string; apps?: string }): Promise<string>;
  close(): Promise<void>;
}

const APPS = `apps:\n  - id: testapp\n    args:\n      greeting: '${GREETING.replaceAll("'", "''")}'\n`;

export async function startYunohostLab(work: string): Promise<Omit<YunohostLab, 'run'>> {
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
    fingerprint: repo.fingerprint,
    key: await readFile(repo.keyFile, 'utf8'),
    repositoryUrl: `${server.url}/apt/`,
    catalogUrl: app.catalogUrl,
    app: { id: 'testapp', revision: app.revision, sourceSha256: app.source.sha256 },
  };
  const labFile = async (name: string, change: { fingerprint?: string; keyUrl?: string; apps?: string }) => {
    const file = join(work, `${name}.yaml`);
    await writeFile(
      file,
      [
        '# lab build of the YunoHost tests (test/support/yunohost-image.ts): local stand-ins of YunoHost\'s servers',
        'extends: clic-pc-x86_64-yunohost',
        'vars:',
        '  yunohost:',
        '    repository:',
        `      url: ${info.repositoryUrl}`,
        '      suite: bookworm',
        '      components: [main]',
        `      key: ${change.keyUrl ?? 'yunohost-test.asc'}`,
        `      fingerprint: '${change.fingerprint ?? repo.fingerprint}'`,
        '  apps:',
        `    catalog: ${info.catalogUrl}`,
        change.apps ?? APPS,
      ].join('\n'),
    );
    return file;
  };
  return {
    info,
    labFile,
    buildVariant: async (name, change, outDir) => runBuild(await labFile(name, change), outDir, { cacheDir: TEST_CACHE }),
    close: () => server.close(),
  };
}

/** Starts the stand-in servers, writes the lab YAML and builds it into outDir; the caller closes the lab. */
export async function buildYunohostLab(work: string, outDir: string, log?: string): Promise<YunohostLab> {
  const lab = await startYunohostLab(work);
  const run = await runBuild(await lab.labFile(YUNOHOST_LAB, {}), outDir, { cacheDir: TEST_CACHE, log });
  return { ...lab, run };
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
