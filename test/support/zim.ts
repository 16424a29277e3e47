/**
 * Real ZIM files for tests, made with `zimwriterfs` (Debian zim-tools): a welcome page, a few
 * articles and, to make a file big enough to cut mid-way, an incompressible padding asset.
 *
 *   const zim = await makeZim(dir, { name: 'test_fr_mini', articles: { 'Paris.html': '<p>…</p>' } });
 *   zim.file; zim.sha256; zim.size;
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deflateSync } from 'node:zlib';

const exec = promisify(execFile);

export interface ZimSpec {
  /** Book name (version independent), e.g. `test_fr_mini`; the file is `<name>_<date>.zim` unless `file` is given. */
  name: string;
  file?: string;
  title?: string;
  /** ISO 639-3 language code. */
  language?: string;
  flavour?: string;
  /** Article path → HTML body. */
  articles?: Record<string, string>;
  /** Bytes of incompressible padding, to make the file large (default 0). */
  padBytes?: number;
}

export interface MadeZim {
  name: string;
  file: string;
  sha256: string;
  size: number;
}

/** A 48×48 PNG (zimwriterfs requires an illustration of that size). */
function illustration(): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, tail]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(48, 0);
  ihdr.writeUInt32BE(48, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(48 * 3, 0x80)]);
  const raw = Buffer.concat(Array.from({ length: 48 }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const page = (title: string, body: string) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>\n`;

export async function makeZim(dir: string, spec: ZimSpec): Promise<MadeZim> {
  await mkdir(dir, { recursive: true });
  const src = await mkdtemp(join(dir, '.zim-src-'));
  try {
    const articles = spec.articles ?? { 'Paris.html': '<p>Paris est la capitale de la France.</p>' };
    const links = Object.keys(articles).map((a) => `<li><a href="${a}">${a.replace(/\.html$/, '')}</a></li>`).join('');
    await writeFile(join(src, 'index.html'), page(spec.title ?? spec.name, `<h1>${spec.title ?? spec.name}</h1><ul>${links}</ul>`));
    for (const [path, body] of Object.entries(articles)) await writeFile(join(src, path), page(path.replace(/\.html$/, ''), body));
    await writeFile(join(src, 'illustration.png'), illustration());
    if (spec.padBytes) await writeFile(join(src, 'padding.bin'), randomBytes(spec.padBytes));
    const file = join(dir, spec.file ?? `${spec.name}_2026-01.zim`);
    await rm(file, { force: true });
    await exec('zimwriterfs', [
      '--welcome=index.html', '--illustration=illustration.png', `--language=${spec.language ?? 'fra'}`,
      `--title=${spec.title ?? spec.name}`, `--description=test content ${spec.name}`, '--creator=clic-image tests',
      '--publisher=clic-image tests', `--name=${spec.name}`, `--flavour=${spec.flavour ?? 'mini'}`, '--withoutFTIndex',
      src, file,
    ]);
    const bytes = await readFile(file);
    return { name: spec.name, file, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  } finally {
    await rm(src, { recursive: true, force: true });
  }
}
