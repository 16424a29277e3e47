/**
 * Raw regions (BoardDef.rawRegions): bootloader bytes at fixed offsets of the disk, outside the
 * partitions. The geometry both checks share — where the partition table lives, where the first
 * partition starts — and the plan-time checks of a board's regions: what can be told before any
 * file is fetched (field values, the table, the first partition, regions whose ends are known).
 * What depends on the files' sizes is checked by the disk step (placeRawRegions).
 *
 *   rawRegionProblems(board); // [{ path: '/boards/odroid-c4/rawRegions/0/count', message: '…' }]
 */
import type { BoardDef, RawRegion } from './define.ts';
import type { RecipeProblem } from '../errors.ts';
import { ALIGN_MIB } from '../steps/filesystems.ts';

/** Bytes 0–439 of the first sector are boot code, free for a region whatever the table. */
export const BOOT_CODE_BYTES = 440;
/** The first partition starts here (diskLayout), so every region must end by then. */
export const FIRST_PARTITION_OFFSET = ALIGN_MIB * 1024 * 1024;
const SECTOR = 512;
/** GPT: protective MBR, header and 128 entries of 128 bytes, i.e. sectors 0–33 (and the same
 *  entries plus a header in the last 33 sectors of the disk). */
const GPT_SECTORS = 34;
const GPT_BACKUP_SECTORS = 33;
const REGION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;

/** A byte range of the disk, end excluded. */
export interface ByteRange {
  start: number;
  end: number;
}

/** `bytes 440–511` (the last byte included). */
export const formatRange = (r: ByteRange) => `bytes ${r.start}–${r.end - 1}`;

export const overlaps = (a: ByteRange, b: ByteRange) => a.start < b.end && b.start < a.end;

/** Where the partition table lives on a disk of this size (the GPT backup needs the size). */
export function tableAreas(table: BoardDef['partitionTable'], diskBytes?: number): (ByteRange & { what: string })[] {
  if (table === 'dos') return [{ what: 'the MBR disk signature and partition table', start: BOOT_CODE_BYTES, end: SECTOR }];
  return [
    { what: 'the protective MBR, GPT header and partition entries', start: BOOT_CODE_BYTES, end: GPT_SECTORS * SECTOR },
    ...(diskBytes === undefined ? [] : [{ what: 'the backup GPT', start: diskBytes - GPT_BACKUP_SECTORS * SECTOR, end: diskBytes }]),
  ];
}

const isCount = (n: unknown, min: number) => typeof n === 'number' && Number.isSafeInteger(n) && n >= min;

function httpUrl(url: unknown): boolean {
  if (typeof url !== 'string') return false;
  try {
    return ['http:', 'https:'].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

/** Every problem of a board's raw regions that can be told from the recipe alone. */
export function rawRegionProblems(board: BoardDef): RecipeProblem[] {
  const problems: RecipeProblem[] = [];
  const regions = board.rawRegions ?? [];
  const at = (i: number, field: string) => `/boards/${board.name}/rawRegions/${i}/${field}`;
  const label = (r: RawRegion, i: number) => `board "${board.name}", region ${typeof r.name === 'string' && r.name ? `"${r.name}"` : i}`;
  /** Each region with its bytes on the disk, when its fields allow (end null: the rest of its file). */
  const placed: { i: number; start: number; end: number | null }[] = [];
  regions.forEach((r, i) => {
    if (typeof r.name !== 'string' || !REGION_NAME.test(r.name)) {
      problems.push({ path: at(i, 'name'), message: `${label(r, i)}: name ${JSON.stringify(r.name)} — expected letters, digits, dots, dashes or underscores` });
    } else {
      const first = regions.findIndex((o) => o.name === r.name);
      if (first < i) problems.push({ path: at(i, 'name'), message: `${label(r, i)}: region ${first} has the same name` });
    }
    if (r.source?.unpinned !== undefined) {
      // once per source, not per region using it
      if (regions.findIndex((o) => o.source === r.source) === i) problems.push({ path: at(i, 'source'), message: `${label(r, i)}: no file is pinned for it yet — ${r.source.unpinned}` });
    } else {
      if (!httpUrl(r.source?.url)) problems.push({ path: at(i, 'source/url'), message: `${label(r, i)}: url ${JSON.stringify(r.source?.url)} — expected an http or https URL` });
      if (typeof r.source?.sha256 !== 'string' || !SHA256.test(r.source.sha256)) {
        problems.push({ path: at(i, 'source/sha256'), message: `${label(r, i)}: sha256 ${JSON.stringify(r.source?.sha256)} — expected 64 hex digits` });
      }
    }
    const member = r.source?.member;
    if (member !== undefined && (typeof member !== 'string' || !/^[A-Za-z0-9_.+-]+(\/[A-Za-z0-9_.+-]+)*$/.test(member) || member.split('/').some((part) => part === '.' || part === '..'))) {
      problems.push({ path: at(i, 'source/member'), message: `${label(r, i)}: member ${JSON.stringify(member)} — expected the file's path inside the package, without a leading / or ..: e.g. usr/lib/u-boot/odroid-c4/u-boot.bin` });
    }
    let ok = true;
    for (const [field, min, what] of [['offset', 0, 'a non-negative'], ['skip', 0, 'a non-negative'], ['count', 1, 'a positive']] as const) {
      const value = r[field];
      if (value === undefined && field !== 'offset') continue;
      if (!isCount(value, min)) {
        problems.push({ path: at(i, field), message: `${label(r, i)}: ${field} ${JSON.stringify(value)} — expected ${what} integer (bytes)` });
        ok = false;
      }
    }
    if (!ok) return;
    const start = r.offset;
    const end = r.count === undefined ? null : start + r.count;
    if (start >= FIRST_PARTITION_OFFSET) {
      problems.push({ path: at(i, 'offset'), message: `${label(r, i)}: offset ${start} is inside the first partition, which starts at byte ${FIRST_PARTITION_OFFSET} (${ALIGN_MIB} MiB)` });
      return;
    }
    if (end !== null && end > FIRST_PARTITION_OFFSET) {
      problems.push({ path: at(i, 'count'), message: `${label(r, i)}: ${formatRange({ start, end })} run into the first partition, which starts at byte ${FIRST_PARTITION_OFFSET} (${ALIGN_MIB} MiB)` });
    }
    for (const area of tableAreas(board.partitionTable)) {
      if (start >= area.end) continue;
      if (end === null) {
        problems.push({ path: at(i, 'offset'), message: `${label(r, i)}: starts at byte ${start}, before the end of ${area.what} (${formatRange(area)}), with no count: give a count that ends it by byte ${BOOT_CODE_BYTES}` });
      } else if (end > area.start) {
        problems.push({ path: at(i, 'offset'), message: `${label(r, i)}: ${formatRange({ start, end })} would overwrite ${area.what} (${formatRange(area)}); only bytes 0–${BOOT_CODE_BYTES - 1} are free before it` });
      }
    }
    placed.push({ i, start, end });
  });
  // overlaps that the recipe already tells: same offset, or a known end past another's start
  for (const b of placed) {
    for (const a of placed.filter((p) => p.i < b.i)) {
      const clash = a.start === b.start
        || (a.start < b.start && a.end !== null && a.end > b.start)
        || (b.start < a.start && b.end !== null && b.end > a.start);
      if (!clash) continue;
      const range = (p: typeof a) => (p.end === null ? `from byte ${p.start}` : formatRange({ start: p.start, end: p.end }));
      problems.push({
        path: at(b.i, 'offset'),
        message: `${label(regions[b.i], b.i)} (${range(b)}) overlaps region "${regions[a.i].name}" (${range(a)})`,
      });
    }
  }
  return problems;
}
