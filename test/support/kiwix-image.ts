/**
 * A lab build with offline content, shared by the integration and boot tiers: the x86_64 image
 * with two real ZIM files (made by zimwriterfs), one found by name in a local kiwix OPDS catalog
 * (test/support/kiwix-catalog.ts, on the loopback), the other given by URL and sha256. kiwix's
 * own servers cannot be reached from here: the catalog and download code paths are the real
 * ones, only the server is local.
 *
 *   const lab = await buildKiwixLab(work, outDir);   // lab.run (events), lab.content (articles)
 *   const { image, content } = await ensureKiwixImage();   // for the boot tier
 */
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imagesDir, runBuild, TEST_CACHE, type BuildRun } from './images.ts';
import { makeZim, type MadeZim } from './zim.ts';
import { startKiwixCatalog } from './kiwix-catalog.ts';

export const KIWIX_LAB = 'clic-kiwix-test';

export interface KiwixContent {
  /** The ZIM files as made, and what each serves: an article path and a sentence in it. */
  zims: (MadeZim & { article: string; text: string; lang: string })[];
}

export interface KiwixLab {
  run: BuildRun;
  content: KiwixContent;
  labFile: string;
  catalogUrl: string;
  /** Requests the local catalog server received (paths). */
  requests: string[];
  /** Builds the same lab again while the catalog server still runs (same out or another). */
  rebuild(outDir: string, log?: string): Promise<BuildRun>;
  close(): Promise<void>;
}

const ARTICLES = [
  { name: 'clic_test_fr_mini', lang: 'fra', article: 'Paris.html', text: 'Paris est la capitale de la France.' },
  { name: 'clic_guide_en_water', lang: 'eng', article: 'Water.html', text: 'Boil water for one minute before drinking it.' },
];

/** Starts the catalog, writes the lab YAML, builds it into outDir; the caller closes the lab. */
export async function buildKiwixLab(work: string, outDir: string, log?: string): Promise<KiwixLab> {
  const zims: KiwixContent['zims'] = [];
  for (const a of ARTICLES) {
    const made = await makeZim(join(work, 'zims'), { name: a.name, language: a.lang, articles: { [a.article]: `<p>${a.text}</p>` }, padBytes: 1_500_000 });
    zims.push({ ...made, article: a.article, text: a.text, lang: a.lang });
  }
  const catalog = await startKiwixCatalog({ dir: join(work, 'catalog'), zims });
  const labFile = join(work, `${KIWIX_LAB}.yaml`);
  await writeFile(
    labFile,
    [
      '# lab build of the kiwix tests (test/support/kiwix-image.ts)',
      'extends: clic-pc-x86_64',
      'vars:',
      '  kiwix:',
      `    catalog: ${catalog.url}`,
      '    zims:',
      `      - ${zims[0].name}`,
      `      - url: ${catalog.zimUrl(zims[1].name)}`,
      `        sha256: ${zims[1].sha256}`,
      `        size: ${zims[1].size}`,
      '',
    ].join('\n'),
  );
  const build = (out: string, logFile?: string) => runBuild(labFile, out, { cacheDir: TEST_CACHE, log: logFile });
  const run = await build(outDir, log);
  return {
    run,
    content: { zims },
    labFile,
    catalogUrl: catalog.url,
    requests: catalog.requests.map((r) => (typeof r === 'string' ? r : (r as { path: string }).path)),
    rebuild: build,
    close: () => catalog.close(),
  };
}

/** The lab image in the shared artifacts folder, built if missing (the integration tier leaves it there). */
export async function ensureKiwixImage(): Promise<{ image: string; content: KiwixContent }> {
  const dir = await imagesDir();
  const image = join(dir, `${KIWIX_LAB}.img`);
  const meta = join(dir, `${KIWIX_LAB}.content.json`);
  if (await access(meta).then(() => true, () => false)) return { image, content: JSON.parse(await readFile(meta, 'utf8')) as KiwixContent };
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'clic-kiwix-'));
  try {
    const lab = await buildKiwixLab(work, dir, join(dir, `${KIWIX_LAB}.build.log`));
    await lab.close();
    if (lab.run.code !== 0) throw new Error(`building ${KIWIX_LAB} failed (exit ${lab.run.code}):\n${lab.run.stderr.slice(-3000)}`);
    await saveKiwixContent(dir, lab.content);
    return { image, content: lab.content };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Records what the lab image built in the artifacts folder serves, for ensureKiwixImage. */
export async function saveKiwixContent(artifacts: string, content: KiwixContent): Promise<void> {
  await writeFile(join(artifacts, `${KIWIX_LAB}.content.json`), JSON.stringify(content, null, 2));
}
