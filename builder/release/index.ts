/**
 * The release index of an output folder (`clic-image release DIR`). Reads every
 * `<image>.manifest.json`, checks that each output the manifest lists is in the folder with the
 * manifest's size (checksums are `verify`'s job: images are not hashed here), and writes beside
 * them:
 * - `os_list_clic.json` and `clic-icon.png`: a Raspberry Pi Imager repository of the images whose
 *   board names Imager devices (pi-imager.ts);
 * - `images.json`: every image with its download and files, for the project's site;
 * - `index.html`: a static download page with flashing instructions (page.ts).
 * An image's download is its `.img.xz`, else its `.img.zst`, else its `.img`. The `.img` may be
 * absent when a compressed copy is there: a release usually ships only those, and the manifest
 * still gives the `.img`'s size and sha256, which Imager needs. Each file is written as
 * `<file>.partial` then renamed; the same folder gives the same bytes (images sorted by name,
 * dates taken from the manifests, never from the clock).
 *
 * Options: baseUrl (where the folder will be published; the Imager repository needs absolute
 * URLs, so without it that file is skipped and `skipped` says why), title (of the page, default
 * "CLIC images"), signature (the signature file of SHA256SUMS the page tells how to check, or
 * null for none; by default whichever of `SHA256SUMS.asc`, `.gpg`, `.minisig` is in the folder.
 * A caller that signs after writing the index — the signature then covers the page — names the
 * file it will write: updating SHA256SUMS removes the old one).
 *
 *   const index = await writeReleaseIndex('out', { baseUrl: 'https://example.org/clic/nightly' });
 *   index.files;   // ['os_list_clic.json', 'clic-icon.png', 'images.json', 'index.html']
 *   index.skipped; // []
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest } from './manifest.ts';
import { renderReleasePage } from './page.ts';
import { clicIconPng, fileUrl, ICON_FILE, IMAGER_REPOSITORY, imagerRepository } from './pi-imager.ts';
import { SIGNATURE_FILES } from './sums.ts';
import { writeFileAtomically } from '../files.ts';

export class ReleaseError extends Error {}

export interface ReleaseFile {
  file: string;
  size: number;
  sha256: string;
}

export interface ReleaseImage {
  name: string;
  description: string;
  board: Manifest['board'];
  /** Build date (ISO 8601, UTC), from the manifest. */
  date: string;
  /** The manifest's file name. */
  manifest: string;
  /** The raw disk image: what Imager's extract_size/extract_sha256 describe. May be absent
   *  from the folder (see `files`). */
  image: ReleaseFile;
  /** What people download: the .img.xz, else the .img.zst, else the .img. */
  download: ReleaseFile;
  /** The manifest's outputs that are in the folder, in the manifest's order. */
  files: ReleaseFile[];
}

export interface ReleaseIndexOptions {
  baseUrl?: string;
  title?: string;
  signature?: string | null;
}

export interface ReleaseIndex {
  images: ReleaseImage[];
  /** Files written into the folder, by name. */
  files: string[];
  /** Files not written, each with the reason: `os_list_clic.json: needs --base-url`. */
  skipped: string[];
}

export const IMAGES_JSON = 'images.json';
export const PAGE = 'index.html';
const MANIFEST_SUFFIX = '.manifest.json';
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and checks the fields the index uses; errors name the file and the field. */
export function parseManifest(file: string, text: string): Manifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ReleaseError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const fail = (field: string, expected: string): never => {
    throw new ReleaseError(`${file}: field "${field}" ${expected}`);
  };
  const string = (obj: Record<string, unknown>, key: string, field: string, pattern?: RegExp, expected = 'must be a string'): string => {
    const v = obj[key];
    if (typeof v !== 'string' || (pattern && !pattern.test(v))) fail(field, v === undefined ? 'is missing' : expected);
    return v as string;
  };
  if (!isObject(data)) return fail('(top level)', 'must be an object');
  const image = string(data, 'image', 'image', PLAIN_NAME, 'must be a file name (letters, digits, . _ + -)');
  if (`${image}${MANIFEST_SUFFIX}` !== file) fail('image', `is "${image}", but the file is named ${file}`);
  string(data, 'description', 'description');
  const board = isObject(data.board) ? data.board : fail('board', data.board === undefined ? 'is missing' : 'must be an object');
  for (const key of ['name', 'arch', 'description']) string(board, key, `board.${key}`);
  const devices = board.imagerDevices;
  if (!Array.isArray(devices) || devices.some((d) => typeof d !== 'string')) fail('board.imagerDevices', devices === undefined ? 'is missing' : 'must be a list of strings');
  const date = string(data, 'date', 'date', /^\d{4}-\d{2}-\d{2}T/, 'must be an ISO 8601 date and time');
  if (Number.isNaN(Date.parse(date))) fail('date', 'must be an ISO 8601 date and time');
  const outputs = data.outputs;
  if (!Array.isArray(outputs) || outputs.length === 0) fail('outputs', outputs === undefined ? 'is missing' : 'must be a non-empty list');
  (outputs as unknown[]).forEach((o, i) => {
    if (!isObject(o)) return fail(`outputs[${i}]`, 'must be an object');
    string(o, 'file', `outputs[${i}].file`, PLAIN_NAME, 'must be a file name in the folder');
    if (!Number.isSafeInteger(o.size) || (o.size as number) < 0) fail(`outputs[${i}].size`, o.size === undefined ? 'is missing' : 'must be a size in bytes');
    string(o, 'sha256', `outputs[${i}].sha256`, /^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
  });
  if (!(outputs as { file: string }[]).some((o) => o.file === `${image}.img`)) fail('outputs', `lists no ${image}.img`);
  return data as unknown as Manifest;
}

/** Each output of the manifest is in `dir` with its size; the .img may be missing when a
 *  compressed copy stands for it. Returns the outputs present. */
async function checkOutputs(dir: string, manifestFile: string, manifest: Manifest, download: string): Promise<ReleaseFile[]> {
  const present: ReleaseFile[] = [];
  for (const output of manifest.outputs) {
    const size = await stat(join(dir, output.file)).then((s) => (s.isFile() ? s.size : null), () => null);
    if (size === null) {
      if (output.file === `${manifest.image}.img` && download !== output.file) continue;
      throw new ReleaseError(`${output.file} is missing from ${dir} (${manifestFile} lists it)`);
    }
    if (size !== output.size) {
      const what = size < output.size ? 'truncated: still being written or copied, or cut short?' : 'not the file the manifest describes';
      throw new ReleaseError(`${output.file} is ${size} bytes, ${manifestFile} says ${output.size}: ${what}`);
    }
    present.push({ file: output.file, size: output.size, sha256: output.sha256 });
  }
  return present;
}

async function readImage(dir: string, manifestFile: string): Promise<ReleaseImage> {
  const manifest = parseManifest(manifestFile, await readFile(join(dir, manifestFile), 'utf8'));
  const byFile = new Map(manifest.outputs.map((o) => [o.file, o]));
  const img = byFile.get(`${manifest.image}.img`)!;
  const download = byFile.get(`${img.file}.xz`) ?? byFile.get(`${img.file}.zst`) ?? img;
  const files = await checkOutputs(dir, manifestFile, manifest, download.file);
  const only = ({ file, size, sha256 }: ReleaseFile) => ({ file, size, sha256 });
  return {
    name: manifest.image,
    description: manifest.description,
    board: { name: manifest.board.name, arch: manifest.board.arch, description: manifest.board.description, imagerDevices: [...manifest.board.imagerDevices] },
    date: new Date(manifest.date).toISOString(),
    manifest: manifestFile,
    image: only(img),
    download: only(download),
    files,
  };
}

/** Absolute URL without its trailing slashes, or a ReleaseError. */
function normaliseBaseUrl(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, '');
  if (!URL.canParse(trimmed)) throw new ReleaseError(`base URL "${baseUrl}": not an absolute URL (e.g. https://example.org/clic/nightly)`);
  return trimmed;
}

function imagesJson(images: ReleaseImage[], baseUrl: string | undefined) {
  return {
    format: 1,
    generated: images.map((i) => i.date).reduce((a, b) => (a > b ? a : b)),
    images: images.map((i) => ({
      name: i.name,
      description: i.description,
      board: i.board.name,
      boardDescription: i.board.description,
      arch: i.board.arch,
      date: i.date,
      download: { file: i.download.file, ...(baseUrl ? { url: fileUrl(baseUrl, i.download.file) } : {}), size: i.download.size, sha256: i.download.sha256 },
      image: i.image,
      files: i.files,
      manifest: i.manifest,
    })),
  };
}

export async function writeReleaseIndex(dir: string, options: ReleaseIndexOptions = {}): Promise<ReleaseIndex> {
  const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    throw new ReleaseError(`cannot read the folder ${dir}: ${e.code ?? e.message}`);
  });
  const manifests = entries.filter((f) => f.endsWith(MANIFEST_SUFFIX)).sort();
  if (manifests.length === 0) {
    throw new ReleaseError(
      `${dir} has no build manifest (*${MANIFEST_SUFFIX}): give the --out folder of a build, where each image has ` +
        `<image>.img (or its .img.xz / .img.zst), <image>.img.bmap, <image>.packages, <image>${MANIFEST_SUFFIX}, and SHA256SUMS lists them all`,
    );
  }
  const images: ReleaseImage[] = [];
  for (const m of manifests) images.push(await readImage(dir, m));
  images.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const baseUrl = options.baseUrl === undefined ? undefined : normaliseBaseUrl(options.baseUrl);
  const files: string[] = [];
  const skipped: string[] = [];
  const repository = baseUrl ? imagerRepository(images, baseUrl) : null;
  if (!repository) skipped.push(`${IMAGER_REPOSITORY}: needs --base-url (Raspberry Pi Imager wants absolute URLs)`);
  else if (repository.os_list.length === 0) skipped.push(`${IMAGER_REPOSITORY}: no image is for Raspberry Pi Imager (no board names Imager devices)`);
  else {
    await writeFileAtomically(join(dir, IMAGER_REPOSITORY), JSON.stringify(repository, null, 2) + '\n');
    await writeFileAtomically(join(dir, ICON_FILE), clicIconPng());
    files.push(IMAGER_REPOSITORY, ICON_FILE);
  }

  await writeFileAtomically(join(dir, IMAGES_JSON), JSON.stringify(imagesJson(images, baseUrl), null, 2) + '\n');
  files.push(IMAGES_JSON);

  const signatures = options.signature !== undefined ? (options.signature ? [options.signature] : []) : Object.values(SIGNATURE_FILES).filter((s) => entries.includes(s));
  const page = renderReleasePage(images, {
    title: options.title ?? 'CLIC images',
    imagerRepository: files.includes(IMAGER_REPOSITORY) ? fileUrl(baseUrl!, IMAGER_REPOSITORY) : null,
    signatures,
  });
  await writeFileAtomically(join(dir, PAGE), page);
  files.push(PAGE);
  return { images, files, skipped };
}
