/**
 * Reads a disk image the way a user would check it, with no mount: sfdisk for the partition
 * table, mtools for FAT partitions, debugfs/dumpe2fs for ext4 (at the partition's offset).
 *
 *   const disk = await openDisk('out/clic-rpi4.img');
 *   await disk.fatRead(0, 'cmdline.txt');
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const run = async (argv: string[]) => (await exec(argv[0], argv.slice(1), { maxBuffer: 64 * 1024 * 1024 })).stdout;

export interface DiskPartition {
  node: string;
  start: number;
  size: number;
  type: string;
  uuid?: string;
  name?: string;
  bootable?: boolean;
}

export interface DiskTable {
  label: 'dos' | 'gpt';
  id: string;
  sectorsize?: number;
  partitions: DiskPartition[];
}

export async function openDisk(img: string) {
  const table = (JSON.parse(await run(['sfdisk', '--json', img])) as { partitiontable: DiskTable }).partitiontable;
  const offset = (i: number) => table.partitions[i].start * 512;
  const fat = (i: number) => `${img}@@${offset(i)}`;
  const ext = (i: number) => `${img}?offset=${offset(i)}`;
  return {
    table,
    dump: () => run(['sfdisk', '--dump', img]),
    fatList: async (i: number, dir = '') => (await run(['mdir', '-b', '-i', fat(i), `::/${dir}`])).split('\n').filter(Boolean).map((l) => l.replace(/^::\//, '').replace(/\/$/, '')),
    fatRead: (i: number, path: string) => run(['mtype', '-i', fat(i), `::/${path}`]),
    fatBytes: async (i: number, path: string) => (await exec('mcopy', ['-n', '-i', fat(i), `::/${path}`, '-'], { encoding: 'buffer', maxBuffer: 1 << 30 })).stdout,
    fatInfo: (i: number) => run(['minfo', '-i', fat(i), '::']),
    extRead: (i: number, path: string) => run(['debugfs', '-R', `cat ${path}`, ext(i)]),
    extList: async (i: number, path: string) =>
      (await run(['debugfs', '-R', `ls -p ${path}`, ext(i)]))
        .split('\n')
        .map((l) => l.split('/')[5])
        .filter((n) => n && n !== '.' && n !== '..'),
    extStat: (i: number, path: string) => run(['debugfs', '-R', `stat ${path}`, ext(i)]),
    extHeader: (i: number) => run(['dumpe2fs', '-h', ext(i)]),
  };
}
