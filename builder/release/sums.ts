/**
 * SHA256SUMS, the one checksum file of an output folder (`sha256sum -c SHA256SUMS` checks it
 * all): read it, and replace one image's lines in it while keeping the other images'.
 *
 *   await updateSums('out', [{ file: 'clic-rpi4.img', sha256: '3f5a…' }], (f) => f.startsWith('clic-rpi4.'));
 */
import { readFile, rm } from 'node:fs/promises';
import { writeFileAtomically } from '../files.ts';
import { join } from 'node:path';

export const SUMS = 'SHA256SUMS';

export interface SumEntry {
  file: string;
  sha256: string;
}

/** `sha256  file` lines (sha256sum's text and binary forms); file names with a `/` are refused. */
export function parseSums(text: string): { entries: SumEntry[]; badLines: number[] } {
  const entries: SumEntry[] = [];
  const badLines: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (m && !m[2].includes('/')) entries.push({ file: m[2], sha256: m[1] });
    else badLines.push(i + 1);
  });
  return { entries, badLines };
}

export const formatSums = (entries: SumEntry[]) =>
  [...entries]
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    .map((e) => `${e.sha256}  ${e.file}\n`)
    .join('');

/** Detached signatures of SHA256SUMS, by signing tool. */
export const SIGNATURE_FILES = { gpg: `${SUMS}.asc`, minisign: `${SUMS}.minisig` } as const;

/** The lines of `previous` that are not `owned`, and `ours`, sorted by file name. */
export function mergeSums(previous: string, ours: SumEntry[], owned: (file: string) => boolean): string {
  const kept = parseSums(previous).entries.filter((e) => !owned(e.file) && !ours.some((o) => o.file === e.file));
  return formatSums([...kept, ...ours]);
}

const updates = new Map<string, Promise<void>>();

/** Replaces the `owned` lines of `<dir>/SHA256SUMS` by `ours`, atomically. Callers in one process
 *  (the builds of build --all) take turns. A signature of the old file is removed: it would no
 *  longer match (signing again is the caller's choice). */
export function updateSums(dir: string, ours: SumEntry[], owned: (file: string) => boolean): Promise<void> {
  const sums = join(dir, SUMS);
  const update = async () => {
    const previous = await readFile(sums, 'utf8').catch(() => '');
    for (const signature of Object.values(SIGNATURE_FILES)) await rm(join(dir, signature), { force: true });
    await writeFileAtomically(sums, mergeSums(previous, ours, owned));
  };
  const next = (updates.get(dir) ?? Promise.resolve()).then(update, update);
  updates.set(dir, next.catch(() => undefined));
  return next;
}
