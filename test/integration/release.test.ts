/**
 * A release made from real build outputs — the shared Raspberry Pi image with its xz and zstd
 * copies (without its .img, as a release ships it) and the shared PC image — served on the
 * loopback as it would be published:
 * - the compressed copies give the image back (bmaptool copy of the .img.xz to a file; zstd -d);
 * - the manifest agrees with the image (outputs, packages, partition table);
 * - `clic-image release --base-url --sign minisign:` writes a Raspberry Pi Imager repository
 *   whose fields are the documented ones and whose sizes, checksums and URLs match the served
 *   files, and a download page that headless Chromium shows with every image (screenshot kept
 *   beside the shared images);
 * - `clic-image verify` passes the set, and catches a flipped byte, a missing file and a bad
 *   signature.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, link, mkdtemp, readFile, rm, stat, writeFile, open, unlink, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Ajv } from 'ajv';
import { CLI, COMPRESSED_IMAGE, imagesDir } from '../support/images.ts';
import { serveDir, type StaticServer } from '../support/static-server.ts';
import { openReleasePage } from '../support/release-page.ts';
import { IMAGER_SCHEMA } from '../support/imager-schema.ts';
import { parseSums } from '../../builder/release/sums.ts';
import type { Manifest } from '../../builder/release/manifest.ts';

const PI = COMPRESSED_IMAGE;
const PC = 'clic-pc-x86_64';

const sha256Of = async (file: string) => {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
};
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });

let shared: string;
let release: string;
let keys: string;
let server: StaticServer;
const scratch: string[] = [];

async function scratchDir(prefix: string) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** A copy of the release folder made of hard links (nothing is copied); `replace` files are real copies, safe to change. */
async function linkedCopy(replace: string[] = []): Promise<string> {
  const dir = await scratchDir('clic-release-copy-');
  for (const f of await readdir(release)) {
    if (replace.includes(f)) await copyFile(join(release, f), join(dir, f));
    else await link(join(release, f), join(dir, f));
  }
  return dir;
}

beforeAll(async () => {
  shared = await imagesDir();
  release = await scratchDir('clic-release-');
  keys = await scratchDir('clic-release-keys-');
  const files = [`${PI}.img.xz`, `${PI}.img.zst`, `${PI}.img.bmap`, `${PI}.manifest.json`, `${PI}.packages`, `${PC}.img`, `${PC}.img.bmap`, `${PC}.manifest.json`, `${PC}.packages`];
  for (const f of files) await link(join(shared, f), join(release, f));
  // the release's SHA256SUMS: the shared folder's lines of these images (it lists the .img too)
  const sums = parseSums(await readFile(join(shared, 'SHA256SUMS'), 'utf8')).entries.filter((e) => e.file.startsWith(`${PI}.`) || e.file.startsWith(`${PC}.`));
  await writeFile(join(release, 'SHA256SUMS'), sums.map((e) => `${e.sha256}  ${e.file}\n`).join(''));
  for (const name of ['release', 'other']) execFileSync('minisign', ['-G', '-W', '-f', '-p', join(keys, `${name}.pub`), '-s', join(keys, `${name}.key`)]);
  server = await serveDir(release);
});

afterAll(async () => {
  await server?.close();
  for (const d of scratch) await rm(d, { recursive: true, force: true });
});

describe('build outputs', () => {
  it('bmaptool copy of the .img.xz to a file gives the .img, byte for byte; the .img.zst decompresses to it too', async () => {
    const target = join(await scratchDir('clic-bmap-'), 'flashed.img');
    execFileSync('bmaptool', ['copy', '--bmap', join(shared, `${PI}.img.bmap`), join(shared, `${PI}.img.xz`), target], { stdio: 'pipe' });
    const img = join(shared, `${PI}.img`);
    expect((await stat(target)).size).toBe((await stat(img)).size);
    expect(spawnSync('cmp', [img, target]).status).toBe(0);
    const unzstd = execFileSync('sh', ['-c', 'zstd -dcq -- "$1" | sha256sum', 'sh', join(shared, `${PI}.img.zst`)]).toString().split(' ')[0];
    expect(unzstd).toBe(await sha256Of(img));
  });

  it('has a manifest that agrees with the image: outputs, packages, partition table', async () => {
    const m = JSON.parse(await readFile(join(shared, `${PI}.manifest.json`), 'utf8')) as Manifest;
    for (const o of m.outputs) {
      expect((await stat(join(shared, o.file))).size, o.file).toBe(o.size);
      expect(await sha256Of(join(shared, o.file)), o.file).toBe(o.sha256);
    }
    expect(m.outputs.map((o) => o.file)).toEqual([`${PI}.img`, `${PI}.img.xz`, `${PI}.img.zst`, `${PI}.img.bmap`, `${PI}.packages`]);
    const listed = (await readFile(join(shared, `${PI}.packages`), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(m.packages.map((p) => `${p.name}=${p.version}:${p.arch}`)).toEqual(listed);
    const table = JSON.parse(execFileSync('sfdisk', ['--json', join(shared, `${PI}.img`)]).toString()).partitiontable as { id: string; partitions: { start: number; size: number }[] };
    expect(m.partitionTable.partitions.map((p) => [p.start, p.size])).toEqual(table.partitions.map((p) => [p.start * 512, p.size * 512]));
    expect(m.partitionTable.id.toLowerCase()).toBe(table.id.toLowerCase());
    expect(m.board.imagerDevices).toEqual(['pi4-64bit']);
  });
});

describe('clic-image release', () => {
  let imager: { os_list: Record<string, unknown>[] };

  beforeAll(() => {
    const run = cli(['release', release, '--base-url', `${server.url}/`, '--sign', `minisign:${join(keys, 'release.key')}`]);
    expect(run.status, run.stderr).toBe(0);
  });

  it('writes a Raspberry Pi Imager repository with the documented fields, for the Pi image only', async () => {
    imager = JSON.parse(await readFile(join(release, 'os_list_clic.json'), 'utf8'));
    const validate = new Ajv({ allErrors: true }).compile(IMAGER_SCHEMA);
    expect(validate(imager), JSON.stringify(validate.errors)).toBe(true);
    expect(imager.os_list.map((e) => e.url)).toEqual([`${server.url}/${PI}.img.xz`]);
  });

  it('gives sizes and checksums that match the files, at URLs that serve them', async () => {
    const [entry] = imager.os_list as { url: string; icon: string; extract_size: number; extract_sha256: string; image_download_size: number; image_download_sha256: string }[];
    const img = join(shared, `${PI}.img`);
    expect(entry.extract_size).toBe((await stat(img)).size);
    expect(entry.extract_sha256).toBe(await sha256Of(img));
    const response = await fetch(entry.url);
    expect(response.status).toBe(200);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.length;
    }
    expect(size).toBe(entry.image_download_size);
    expect(hash.digest('hex')).toBe(entry.image_download_sha256);
    expect((await fetch(entry.icon)).status).toBe(200);
  });

  it('writes a download page that lists every image, with no external resource (headless Chromium)', async () => {
    const page = await openReleasePage(join(release, 'index.html'), join(shared, 'release-page.png'));
    expect(page.externalRequests).toEqual([]);
    expect(page.images.map((i) => i.name).sort()).toEqual([PC, PI]);
    for (const name of [PC, PI]) {
      const m = JSON.parse(await readFile(join(release, `${name}.manifest.json`), 'utf8')) as Manifest;
      const shown = page.images.find((i) => i.name === name)!;
      expect(shown.text).toContain(m.board.name);
      const download = name === PI ? `${PI}.img.xz` : `${PC}.img`;
      expect(shown.text).toContain(m.outputs.find((o) => o.file === download)!.sha256);
      expect(shown.links).toContain(download);
    }
    expect(await stat(join(shared, 'release-page.png')).then((s) => s.size)).toBeGreaterThan(10_000);
  });

  it('adds its files to SHA256SUMS and signs it: verify with the public key passes', () => {
    const sums = parseSums(execFileSync('cat', [join(release, 'SHA256SUMS')]).toString()).entries.map((e) => e.file);
    expect(sums).toEqual(expect.arrayContaining(['os_list_clic.json', 'images.json', 'index.html']));
    const run = cli(['verify', release, '--key', join(keys, 'release.pub'), '--ignore-missing']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/✓ signature +SHA256SUMS\.minisig/);
    expect(run.stderr).toMatch(new RegExp(`✓ bmap +${PI}\\.img\\.bmap: \\d+ mapped ranges match ${PI}\\.img\\.xz \\(decompressed`));
    expect(run.stderr).toMatch(new RegExp(`✓ bmap +${PC}\\.img\\.bmap: \\d+ mapped ranges match ${PC}\\.img$`, 'm'));
  });
});

describe('clic-image verify catches', () => {
  it('a flipped byte in a compressed image', async () => {
    const dir = await linkedCopy([`${PI}.img.zst`]);
    const handle = await open(join(dir, `${PI}.img.zst`), 'r+');
    const { buffer } = await handle.read(Buffer.alloc(1), 0, 1, 5_000_000);
    await handle.write(Buffer.from([buffer[0] ^ 0x01]), 0, 1, 5_000_000);
    await handle.close();
    const run = cli(['verify', dir, '--key', join(keys, 'release.pub'), '--ignore-missing']);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`✗ sha256 +${PI}\\.img\\.zst: sha256 differs from SHA256SUMS`));
  });

  it('a missing file', async () => {
    const dir = await linkedCopy();
    await unlink(join(dir, `${PC}.img.bmap`));
    const run = cli(['verify', dir, '--key', join(keys, 'release.pub')]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`✗ sha256 +${PC}\\.img\\.bmap: listed in SHA256SUMS but missing`));
  });

  it('a bad signature: another key, or SHA256SUMS changed after signing', async () => {
    const other = cli(['verify', release, '--key', join(keys, 'other.pub'), '--ignore-missing']);
    expect(other.status).toBe(1);
    expect(other.stderr).toMatch(/✗ signature +SHA256SUMS\.minisig: bad signature/);
    const dir = await linkedCopy(['SHA256SUMS']);
    const text = await readFile(join(dir, 'SHA256SUMS'), 'utf8');
    await writeFile(join(dir, 'SHA256SUMS'), text.split('\n').filter((l) => !l.endsWith(`  ${PC}.packages`)).join('\n'));
    const changed = cli(['verify', dir, '--key', join(keys, 'release.pub'), '--ignore-missing']);
    expect(changed.status).toBe(1);
    expect(changed.stderr).toMatch(/✗ signature +SHA256SUMS\.minisig: bad signature/);
  });
});
