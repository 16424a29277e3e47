/**
 * The release index (`writeReleaseIndex`) over a small output folder made here: three fake
 * images of a few KiB of random bytes, compressed with the real xz and zstd, and their manifests
 * with the files' real sizes and sha256 — a Pi 4 image with an .img.xz, a PC image with an
 * .img.zst, a Pi 3 image with neither. Checks the Raspberry Pi Imager repository against a schema
 * written from Imager's documented fields (and the sizes and checksums against the files, hashed
 * here), images.json, that two runs give the same bytes, the errors (empty folder, missing or
 * truncated file, broken manifest), the escaping of manifest text, and the page as headless
 * Chromium shows it on a phone (screenshot kept beside the shared images).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import type { Manifest } from '../../builder/release/manifest.ts';
import { ReleaseError, writeReleaseIndex } from '../../builder/release/index.ts';
import { formatBytes } from '../../builder/download/types.ts';
import { imagesDir } from '../support/images.ts';
import { openReleasePage } from '../support/release-page.ts';
import { IMAGER_SCHEMA } from '../support/imager-schema.ts';

const BASE_URL = 'https://downloads.example.org/clic/nightly';
const NASTY = 'Lab kit <script>alert("x")</script> & more';

interface FakeImage {
  name: string;
  board: Manifest['board'];
  date: string;
  compress: ('xz' | 'zst')[];
  description: string;
}

const IMAGES: FakeImage[] = [
  { name: 'clic-rpi4', board: { name: 'rpi4', arch: 'arm64', description: 'Raspberry Pi 4 B / 400', imagerDevices: ['pi4-64bit'] }, date: '2024-06-01T10:20:30.000Z', compress: ['xz'], description: 'Offline server for a Raspberry Pi 4' },
  { name: 'clic-pc-x86_64', board: { name: 'pc-x86_64', arch: 'amd64', description: 'x86-64 PC (UEFI)', imagerDevices: [] }, date: '2024-06-02T08:00:00.000Z', compress: ['zst'], description: NASTY },
  { name: 'clic-rpi3', board: { name: 'rpi3', arch: 'arm64', description: 'Raspberry Pi 3 B / B+', imagerDevices: ['pi3-64bit'] }, date: '2024-05-30T23:59:59.000Z', compress: [], description: 'Offline server for a Raspberry Pi 3' },
];
const PI_IMAGES = ['clic-rpi3', 'clic-rpi4'];
const DOWNLOAD: Record<string, string> = { 'clic-rpi4': 'clic-rpi4.img.xz', 'clic-pc-x86_64': 'clic-pc-x86_64.img.zst', 'clic-rpi3': 'clic-rpi3.img' };


const dirs: string[] = [];
let base: string;

const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const real = (dir: string, file: string) => ({ file, size: statSync(join(dir, file)).size, sha256: sha256Of(join(dir, file)) });
const readJson = <T>(file: string) => JSON.parse(readFileSync(file, 'utf8')) as T;

function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** A copy of the folder made in beforeAll, safe to change. */
function freshCopy(): string {
  const dir = scratch('clic-release-index-');
  cpSync(base, dir, { recursive: true });
  return dir;
}

function makeImage(dir: string, image: FakeImage): Manifest {
  const img = join(dir, `${image.name}.img`);
  // random bytes, then zeros: something to compress
  writeFileSync(img, Buffer.concat([randomBytes(6 * 1024), Buffer.alloc(10 * 1024)]));
  if (image.compress.includes('xz')) execFileSync('xz', ['-q', '-k', '-T1', '-6', img]);
  if (image.compress.includes('zst')) execFileSync('zstd', ['-q', '-k', img]);
  writeFileSync(`${img}.bmap`, `<?xml version="1.0" ?>\n<bmap version="2.0"><ImageSize>${16 * 1024}</ImageSize></bmap>\n`);
  writeFileSync(join(dir, `${image.name}.packages`), 'base-files=12.4+deb12u6:arm64\nbash=5.2.15-2+b7:arm64\n');
  const files = [`${image.name}.img`, ...image.compress.map((c) => `${image.name}.img.${c}`), `${image.name}.img.bmap`, `${image.name}.packages`];
  const manifest: Manifest = {
    format: 1,
    image: image.name,
    description: image.description,
    board: image.board,
    suite: 'bookworm',
    recipe: { file: `recipes/images/${image.name}.ts`, sha256: 'a'.repeat(64) },
    builder: { name: 'clic-image', version: '0.1.0' },
    date: image.date,
    sourceDateEpoch: Date.parse(image.date) / 1000,
    layers: [{ name: 'base', vars: { hostname: 'clic' } }],
    packages: [{ name: 'base-files', version: '12.4+deb12u6', arch: 'arm64' }],
    downloads: [],
    partitionTable: { label: 'dos', id: '0x12345678', partitions: [] },
    outputs: files.map((f) => real(dir, f)),
  };
  writeFileSync(join(dir, `${image.name}.manifest.json`), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

const editManifest = (dir: string, name: string, edit: (m: Record<string, unknown>) => void) => {
  const file = join(dir, `${name}.manifest.json`);
  const m = readJson<Record<string, unknown>>(file);
  edit(m);
  writeFileSync(file, JSON.stringify(m));
};

async function releaseError(run: Promise<unknown>): Promise<string> {
  const error = await run.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ReleaseError);
  return (error as ReleaseError).message;
}

beforeAll(() => {
  base = scratch('clic-release-base-');
  for (const image of IMAGES) makeImage(base, image);
  execFileSync('sh', ['-c', 'sha256sum -- *.img *.img.* *.packages *.manifest.json > SHA256SUMS'], { cwd: base });
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('Raspberry Pi Imager repository', () => {
  let dir: string;
  let index: Awaited<ReturnType<typeof writeReleaseIndex>>;
  let repo: { os_list: Record<string, unknown>[] };

  beforeAll(async () => {
    dir = freshCopy();
    index = await writeReleaseIndex(dir, { baseUrl: `${BASE_URL}/` });
    repo = readJson(join(dir, 'os_list_clic.json'));
  });

  it('has the fields Imager documents, for the Pi images only', () => {
    const validate = new Ajv({ allErrors: true }).compile(IMAGER_SCHEMA);
    expect(validate(repo), JSON.stringify(validate.errors)).toBe(true);
    expect(repo.os_list.map((e) => e.name)).toEqual(PI_IMAGES);
    expect(index.files).toEqual(['os_list_clic.json', 'clic-icon.png', 'images.json', 'index.html']);
    expect(index.skipped).toEqual([]);
  });

  it('gives the sizes and checksums of the files, at URLs under the base URL (its trailing slash dropped)', () => {
    for (const entry of repo.os_list) {
      const name = entry.name as string;
      const img = real(dir, `${name}.img`);
      const download = real(dir, DOWNLOAD[name]);
      expect(entry).toMatchObject({
        url: `${BASE_URL}/${download.file}`,
        icon: `${BASE_URL}/clic-icon.png`,
        extract_size: img.size,
        extract_sha256: img.sha256,
        image_download_size: download.size,
        image_download_sha256: download.sha256,
        release_date: IMAGES.find((i) => i.name === name)!.date.slice(0, 10),
        devices: IMAGES.find((i) => i.name === name)!.board.imagerDevices,
      });
    }
  });

  it('ships its icon: a 40×40 PNG', () => {
    const png = readFileSync(join(dir, 'clic-icon.png'));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([40, 40]);
  });

  it('is skipped without a base URL, and said so', async () => {
    const other = freshCopy();
    const result = await writeReleaseIndex(other, {});
    expect(result.files).toEqual(['images.json', 'index.html']);
    expect(result.skipped).toEqual([expect.stringMatching(/^os_list_clic\.json: needs --base-url/)]);
    expect(readdirSync(other)).not.toContain('os_list_clic.json');
    const site = readJson<{ images: { download: Record<string, unknown> }[] }>(join(other, 'images.json'));
    for (const image of site.images) expect(image.download).not.toHaveProperty('url');
  });
});

describe('images.json', () => {
  it('lists every image with its download, its raw image and its files, as they are on disk', async () => {
    const dir = freshCopy();
    await writeReleaseIndex(dir, { baseUrl: BASE_URL });
    const site = readJson<{ format: number; generated: string; images: Record<string, unknown>[] }>(join(dir, 'images.json'));
    expect(site.format).toBe(1);
    expect(site.generated).toBe('2024-06-02T08:00:00.000Z');
    expect(site.images.map((i) => i.name)).toEqual(['clic-pc-x86_64', 'clic-rpi3', 'clic-rpi4']);
    for (const entry of site.images) {
      const image = IMAGES.find((i) => i.name === entry.name)!;
      const files = [`${image.name}.img`, ...image.compress.map((c) => `${image.name}.img.${c}`), `${image.name}.img.bmap`, `${image.name}.packages`];
      expect(entry).toEqual({
        name: image.name,
        description: image.description,
        board: image.board.name,
        boardDescription: image.board.description,
        arch: image.board.arch,
        date: image.date,
        download: { ...real(dir, DOWNLOAD[image.name]), url: `${BASE_URL}/${DOWNLOAD[image.name]}` },
        image: real(dir, `${image.name}.img`),
        files: files.map((f) => real(dir, f)),
        manifest: `${image.name}.manifest.json`,
      });
    }
  });

  it('takes the sizes of a raw image left out of the folder from its manifest, and offers its compressed copy', async () => {
    const dir = freshCopy();
    const img = real(dir, 'clic-rpi4.img');
    unlinkSync(join(dir, 'clic-rpi4.img'));
    const index = await writeReleaseIndex(dir, { baseUrl: BASE_URL });
    const rpi4 = index.images.find((i) => i.name === 'clic-rpi4')!;
    expect(rpi4.image).toEqual(img);
    expect(rpi4.files.map((f) => f.file)).toEqual(['clic-rpi4.img.xz', 'clic-rpi4.img.bmap', 'clic-rpi4.packages']);
    const entry = readJson<{ os_list: Record<string, unknown>[] }>(join(dir, 'os_list_clic.json')).os_list.find((e) => e.name === 'clic-rpi4')!;
    expect([entry.extract_size, entry.extract_sha256]).toEqual([img.size, img.sha256]);
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).not.toContain('href="clic-rpi4.img"');
  });
});

describe('writing', () => {
  it('gives the same bytes twice, in any folder, and leaves no .partial file', async () => {
    const [a, b] = [freshCopy(), freshCopy()];
    const first = await writeReleaseIndex(a, { baseUrl: BASE_URL, title: 'Nightly' });
    const again = await writeReleaseIndex(a, { baseUrl: BASE_URL, title: 'Nightly' });
    await writeReleaseIndex(b, { baseUrl: BASE_URL, title: 'Nightly' });
    expect(again.files).toEqual(first.files);
    const snapshot = (dir: string) => first.files.map((f) => readFileSync(join(dir, f)).toString('base64'));
    const firstBytes = snapshot(a);
    await writeReleaseIndex(a, { baseUrl: BASE_URL, title: 'Nightly' });
    expect(snapshot(a)).toEqual(firstBytes);
    expect(snapshot(b)).toEqual(firstBytes);
    expect(readdirSync(a).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });
});

describe('errors', () => {
  it('an empty folder: no build manifest, and what a build writes', async () => {
    const message = await releaseError(writeReleaseIndex(scratch('clic-release-empty-'), {}));
    expect(message).toMatch(/has no build manifest/);
    expect(message).toMatch(/\.manifest\.json/);
    expect(message).toMatch(/SHA256SUMS/);
  });

  it('a missing file, named', async () => {
    const dir = freshCopy();
    unlinkSync(join(dir, 'clic-pc-x86_64.img.bmap'));
    expect(await releaseError(writeReleaseIndex(dir, {}))).toMatch(/^clic-pc-x86_64\.img\.bmap is missing .*clic-pc-x86_64\.manifest\.json/);
  });

  it('a raw image missing when it is the download', async () => {
    const dir = freshCopy();
    unlinkSync(join(dir, 'clic-rpi3.img'));
    expect(await releaseError(writeReleaseIndex(dir, {}))).toMatch(/^clic-rpi3\.img is missing/);
  });

  it('a truncated file, named with both sizes', async () => {
    const dir = freshCopy();
    const file = join(dir, 'clic-rpi4.img.xz');
    const size = statSync(file).size;
    truncateSync(file, size - 100);
    expect(await releaseError(writeReleaseIndex(dir, {}))).toMatch(new RegExp(`^clic-rpi4\\.img\\.xz is ${size - 100} bytes, clic-rpi4\\.manifest\\.json says ${size}: truncated`));
  });

  it('a manifest that is not JSON, named', async () => {
    const dir = freshCopy();
    writeFileSync(join(dir, 'clic-rpi3.manifest.json'), '{"image": "clic-rpi3",');
    expect(await releaseError(writeReleaseIndex(dir, {}))).toMatch(/^clic-rpi3\.manifest\.json: not valid JSON/);
  });

  it('a manifest lacking a field, or with a bad one: file and field named', async () => {
    const cases: [(m: Record<string, unknown>) => void, RegExp][] = [
      [(m) => delete (m.board as Record<string, unknown>).arch, /^clic-rpi4\.manifest\.json: field "board\.arch" is missing/],
      [(m) => delete m.outputs, /^clic-rpi4\.manifest\.json: field "outputs" is missing/],
      [(m) => ((m.outputs as Record<string, unknown>[])[1].sha256 = 'XYZ'), /^clic-rpi4\.manifest\.json: field "outputs\[1\]\.sha256" must be 64 lowercase hex digits/],
      [(m) => ((m.outputs as Record<string, unknown>[])[2].file = '../etc/passwd'), /^clic-rpi4\.manifest\.json: field "outputs\[2\]\.file" must be a file name/],
      [(m) => (m.date = 'yesterday'), /^clic-rpi4\.manifest\.json: field "date" must be an ISO 8601 date/],
      [(m) => (m.image = 'clic-rpi5'), /^clic-rpi4\.manifest\.json: field "image" is "clic-rpi5", but the file is named clic-rpi4\.manifest\.json/],
    ];
    for (const [edit, expected] of cases) {
      const dir = freshCopy();
      editManifest(dir, 'clic-rpi4', edit);
      expect(await releaseError(writeReleaseIndex(dir, {}))).toMatch(expected);
    }
  });

  it('a base URL that is not absolute', async () => {
    expect(await releaseError(writeReleaseIndex(freshCopy(), { baseUrl: 'clic/nightly' }))).toMatch(/base URL "clic\/nightly": not an absolute URL/);
  });
});

describe('download page', () => {
  it('escapes the text of manifests, and refers to nothing outside the folder', async () => {
    const dir = freshCopy();
    await writeReleaseIndex(dir, { baseUrl: BASE_URL });
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).not.toContain('<script');
    expect(html).toContain('Lab kit &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<link\b|@import|url\(/);
    expect(html).toContain(`rpi-imager --repo ${BASE_URL}/os_list_clic.json`);
    expect(html).toContain('sudo bmaptool copy --bmap clic-rpi4.img.bmap clic-rpi4.img.xz /dev/sdX');
    expect(html).toContain('zstdcat clic-pc-x86_64.img.zst | sudo dd of=/dev/sdX');
    expect(html).toContain('sha256sum -c --ignore-missing SHA256SUMS');
    expect(html).not.toMatch(/minisign|gpg --verify/);
  });

  it('tells how to check a signature that is there, or that the caller will write', async () => {
    const dir = freshCopy();
    writeFileSync(join(dir, 'SHA256SUMS.asc'), '-----BEGIN PGP SIGNATURE-----\n');
    await writeReleaseIndex(dir, {});
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toContain('gpg --verify SHA256SUMS.asc SHA256SUMS');
    await writeReleaseIndex(dir, { signature: 'SHA256SUMS.minisig' });
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    expect(html).toContain('minisign -Vm SHA256SUMS');
    expect(html).toContain('href="SHA256SUMS.minisig"');
    expect(html).not.toContain('SHA256SUMS.asc');
  });

  it('shows every image on a phone with board, size and checksum, loading nothing (headless Chromium)', async () => {
    const dir = freshCopy();
    const index = await writeReleaseIndex(dir, { baseUrl: BASE_URL });
    const shots = await imagesDir();
    mkdirSync(shots, { recursive: true });
    const screenshot = join(shots, 'release-page-unit.png');
    const page = await openReleasePage(join(dir, 'index.html'), screenshot);
    expect(page.externalRequests).toEqual([]);
    expect(page.overflows).toBe(false);
    expect(page.images.map((i) => i.name)).toEqual(index.images.map((i) => i.name));
    for (const image of IMAGES) {
      const shown = page.images.find((i) => i.name === image.name)!;
      const download = real(dir, DOWNLOAD[image.name]);
      expect(shown.text).toContain(image.board.name);
      expect(shown.text).toContain(image.board.arch);
      expect(shown.text).toContain(image.description);
      expect(shown.text).toContain(formatBytes(download.size));
      expect(shown.text).toContain(download.sha256);
      expect(shown.links).toEqual(expect.arrayContaining([download.file, `${image.name}.img.bmap`, `${image.name}.manifest.json`, 'SHA256SUMS']));
    }
    expect(statSync(screenshot).size).toBeGreaterThan(10_000);
  }, 120_000);
});
