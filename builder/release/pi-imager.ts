/**
 * The Raspberry Pi Imager repository of a release (`os_list_clic.json`) and its icon
 * (`clic-icon.png`, 40×40, drawn here so that no binary file is kept in the tree).
 *
 * Format followed: rpi-imager's `doc/schema-notes.md` ("Each OS entry must include: name,
 * description, icon, url, extract_size, extract_sha256, image_download_size, release_date
 * (YYYY-MM-DD), devices") and `doc/os-sublist-example.json`, which adds image_download_sha256;
 * `doc/json-schema/os-list-schema.json` types the sizes as integers and says the url "can be .zip,
 * .gz, .xz (since Imager 1.7 also .zstd)". The example's icon is an "svg-or-png-40x40".
 * `init_format` is left out on purpose: it makes Imager offer its own customisation (a
 * firstrun.sh or cloud-init user-data written to the FAT partition), which these images do not
 * read — they have their own first-boot settings.
 *
 * Option: baseUrl, where the folder is published (Imager needs absolute URLs).
 *
 *   imagerRepository(images, 'https://example.org/clic');
 *   // { os_list: [{ name: 'clic-rpi4', url: 'https://example.org/clic/clic-rpi4.img.xz', … }] }
 */
import { crc32, deflateSync } from 'node:zlib';
import type { ReleaseImage } from './index.ts';

export const IMAGER_REPOSITORY = 'os_list_clic.json';
export const ICON_FILE = 'clic-icon.png';

export interface ImagerEntry {
  name: string;
  description: string;
  icon: string;
  url: string;
  extract_size: number;
  extract_sha256: string;
  image_download_size: number;
  image_download_sha256: string;
  release_date: string;
  devices: string[];
}

export const fileUrl = (baseUrl: string, file: string) => `${baseUrl}/${encodeURIComponent(file)}`;

/** One entry per image whose board names Imager devices; the others (PCs) are not for Imager. */
export function imagerRepository(images: ReleaseImage[], baseUrl: string): { os_list: ImagerEntry[] } {
  return {
    os_list: images
      .filter((i) => i.board.imagerDevices.length > 0)
      .map((i) => ({
        name: i.name,
        description: i.description,
        icon: fileUrl(baseUrl, ICON_FILE),
        url: fileUrl(baseUrl, i.download.file),
        extract_size: i.image.size,
        extract_sha256: i.image.sha256,
        image_download_size: i.download.size,
        image_download_sha256: i.download.sha256,
        release_date: i.date.slice(0, 10),
        devices: [...i.board.imagerDevices],
      })),
  };
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** How much of the pixel at (x, y) a shape covers, sampled 4×4 for smooth edges. */
function coverage(x: number, y: number, inside: (px: number, py: number) => boolean): number {
  let hits = 0;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) if (inside(x + (i + 0.5) / 4, y + (j + 0.5) / 4)) hits++;
  return hits / 16;
}

/** The icon: a white "C" on a teal rounded square, 40×40 RGBA. Same bytes on every run (no
 *  date or text chunk; deflate's output depends only on its input and level). */
export function clicIconPng(): Buffer {
  const size = 40;
  const teal = [0x0b, 0x6e, 0x6a];
  const roundedSquare = (px: number, py: number) => {
    const r = 8;
    const dx = Math.max(r - px, px - (size - r), 0);
    const dy = Math.max(r - py, py - (size - r), 0);
    return dx * dx + dy * dy <= r * r;
  };
  const letterC = (px: number, py: number) => {
    const dx = px - 20;
    const dy = py - 20;
    const d = Math.hypot(dx, dy);
    // a ring open on the right, as the letter
    return d <= 12.5 && d >= 7 && Math.abs(Math.atan2(dy, dx)) > Math.PI / 4.5;
  };
  const rows: Buffer[] = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 4); // filter byte 0 (none), then RGBA
    for (let x = 0; x < size; x++) {
      const white = coverage(x, y, letterC);
      const rgb = teal.map((c) => Math.round(c + (255 - c) * white));
      row.set([...rgb, Math.round(255 * coverage(x, y, roundedSquare))], 1 + x * 4);
    }
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8 bits per channel, RGBA, deflate, no filter method, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(Buffer.concat(rows), { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}
