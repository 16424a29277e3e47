/**
 * Reads a bmaptool block map (format 2.x) and checks an image against it as the image streams by:
 * its size, and the sha256 of every mapped block range — what `bmaptool copy` checks while it
 * flashes, done here without a device. The bmap file's own checksum is checked too.
 *
 *   const bmap = parseBmap(await readFile('clic-rpi4.img.bmap', 'utf8'), 'clic-rpi4.img.bmap');
 *   const { size, sha256, badRanges } = await checkAgainstBmap(createReadStream('clic-rpi4.img'), bmap);
 */
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { XMLParser } from 'fast-xml-parser';

export interface BmapRange {
  first: number;
  last: number;
  sha256: string;
}

export interface Bmap {
  imageSize: number;
  blockSize: number;
  ranges: BmapRange[];
  /** The file's own checksum matches its text (computed with the checksum field zeroed). */
  selfChecksumOk: boolean;
}

export class BmapError extends Error {}

const int = (value: unknown) => Number(String(value).trim());

export function parseBmap(text: string, file: string): Bmap {
  const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', textNodeName: 'text', isArray: (name) => name === 'Range' }).parse(text) as {
    bmap?: { version?: string; ImageSize?: unknown; BlockSize?: unknown; ChecksumType?: unknown; BmapFileChecksum?: unknown; BlockMap?: { Range?: ({ text: unknown; chksum?: string } | string)[] } | string };
  };
  const bmap = parsed.bmap;
  if (!bmap || !String(bmap.version ?? '').startsWith('2.')) throw new BmapError(`${file}: not a bmap file of format 2.x`);
  if (String(bmap.ChecksumType).trim() !== 'sha256') throw new BmapError(`${file}: ChecksumType: expected sha256, found ${String(bmap.ChecksumType).trim()}`);
  const imageSize = int(bmap.ImageSize);
  const blockSize = int(bmap.BlockSize);
  if (!Number.isSafeInteger(imageSize) || !Number.isSafeInteger(blockSize) || blockSize <= 0) throw new BmapError(`${file}: ImageSize and BlockSize: expected whole numbers`);
  const ranges = (typeof bmap.BlockMap === 'object' ? bmap.BlockMap.Range ?? [] : []).map((r, i) => {
    const m = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(typeof r === 'string' ? r : String(r.text));
    const sha256 = typeof r === 'string' ? '' : (r.chksum ?? '');
    if (!m || !/^[0-9a-f]{64}$/.test(sha256)) throw new BmapError(`${file}: BlockMap range ${i + 1}: expected "first-last" with a sha256 chksum`);
    return { first: Number(m[1]), last: Number(m[2] ?? m[1]), sha256 };
  });
  const declared = String(bmap.BmapFileChecksum ?? '').trim();
  const zeroed = text.replace(declared, '0'.repeat(declared.length));
  const selfChecksumOk = /^[0-9a-f]{64}$/.test(declared) && createHash('sha256').update(zeroed).digest('hex') === declared;
  return { imageSize, blockSize, ranges: ranges.sort((a, b) => a.first - b.first), selfChecksumOk };
}

/** Streams the image once: its size and sha256, and the mapped ranges whose bytes differ. */
export async function checkAgainstBmap(image: Readable, bmap: Bmap): Promise<{ size: number; sha256: string; badRanges: string[] }> {
  const whole = createHash('sha256');
  const badRanges: string[] = [];
  const label = (r: BmapRange) => (r.first === r.last ? `block ${r.first}` : `blocks ${r.first}-${r.last}`);
  let index = 0;
  let current: Hash = createHash('sha256');
  let pos = 0;
  for await (const chunk of image as AsyncIterable<Buffer>) {
    whole.update(chunk);
    const end = pos + chunk.length;
    while (index < bmap.ranges.length) {
      const r = bmap.ranges[index];
      const rangeStart = r.first * bmap.blockSize;
      const rangeEnd = Math.min((r.last + 1) * bmap.blockSize, bmap.imageSize);
      const from = Math.max(rangeStart, pos);
      const to = Math.min(rangeEnd, end);
      if (from >= end) break;
      if (to > from) current.update(chunk.subarray(from - pos, to - pos));
      if (to < rangeEnd) break;
      if (current.digest('hex') !== r.sha256) badRanges.push(label(r));
      current = createHash('sha256');
      index++;
    }
    pos = end;
  }
  for (const r of bmap.ranges.slice(index)) badRanges.push(`${label(r)} (past the end of the image)`);
  return { size: pos, sha256: whole.digest('hex'), badRanges };
}
