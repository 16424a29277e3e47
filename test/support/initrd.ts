/**
 * The file names an initramfs holds, read the way lsinitramfs reads it, with no tool beyond
 * zstd/gzip/xz: Debian's initrd is one or more uncompressed cpio archives (early microcode),
 * then a compressed one. Only the newc cpio format (what initramfs-tools writes) is read.
 *
 *   const names = await initrdEntries(await disk.fatBytes(0, 'initrd.img'));
 *   names.includes('usr/sbin/fsck.ext4');
 */
import { execFile } from 'node:child_process';

const NEWC = ['070701', '070702'];
const COMPRESSORS: { magic: number[]; argv: string[] }[] = [
  { magic: [0x28, 0xb5, 0x2f, 0xfd], argv: ['zstd', '-dcq'] },
  { magic: [0x1f, 0x8b], argv: ['gzip', '-dc'] },
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a], argv: ['xz', '-dc'] },
];

const align4 = (n: number) => (n + 3) & ~3;

function decompress(argv: string[], data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0], argv.slice(1), { encoding: 'buffer', maxBuffer: 1 << 30 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin!.end(data);
  });
}

/** Entries of the cpio archives from `at`, and where the last one ended. */
function readCpio(data: Buffer, at: number, names: string[]): number {
  let pos = at;
  while (pos + 110 <= data.length && NEWC.includes(data.toString('latin1', pos, pos + 6))) {
    const field = (i: number) => parseInt(data.toString('latin1', pos + 6 + i * 8, pos + 14 + i * 8), 16);
    const fileSize = field(6);
    const nameSize = field(11);
    const name = data.toString('utf8', pos + 110, pos + 110 + nameSize - 1);
    pos = align4(pos + 110 + nameSize);
    pos = align4(pos + fileSize);
    if (name === 'TRAILER!!!') {
      // the next archive, if any, starts after zero padding
      while (pos < data.length && data[pos] === 0) pos++;
      continue;
    }
    names.push(name.replace(/^\.\//, ''));
  }
  return pos;
}

export async function initrdEntries(initrd: Buffer): Promise<string[]> {
  const names: string[] = [];
  const end = readCpio(initrd, 0, names);
  if (end < initrd.length) {
    const compressor = COMPRESSORS.find((c) => c.magic.every((b, i) => initrd[end + i] === b));
    if (!compressor) throw new Error(`initrd: unknown data at byte ${end} (neither cpio nor zstd, gzip, xz)`);
    readCpio(await decompress(compressor.argv, initrd.subarray(end)), 0, names);
  }
  return names;
}
