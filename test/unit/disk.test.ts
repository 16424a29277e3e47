/**
 * Disk layout and partition table, checked against the real sfdisk: the table our script
 * describes is written into a sparse file and read back with `sfdisk --json`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolvePlan, type Plan } from '../../builder/recipe/plan.ts';
import { diskLayout, sfdiskScript } from '../../builder/steps/disk.ts';
import { OPTIONS, plannableRegistry } from './helpers/registries.ts';

const MIB = 1024 * 1024;
const SECTORS_PER_MIB = MIB / 512;
const GPT_TYPES: Record<string, string> = { U: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', L: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' };

const registry = await plannableRegistry();
const planFor = (name: string) => resolvePlan(registry.images.get(name)!, `${name}.ts`, registry, OPTIONS);
/** One plan per partition table kind the shipped boards use. */
const plans: Plan[] = ['dos', 'gpt'].map((kind) => {
  const img = [...registry.images.values()].find((i) => registry.boards.get(i.board)?.partitionTable === kind);
  if (!img) throw new Error(`no shipped image with a ${kind} table`);
  return planFor(img.name);
});

/** Sizes of partition files: the board's fixed sizes, and awkward ones for the root. */
const sizesFor = (plan: Plan, rootMiB: number) => plan.partitions.map((p) => p.sizeMiB ?? rootMiB);

describe.each(plans.map((p) => [p.board.partitionTable, p] as const))('diskLayout (%s)', (table, plan) => {
  it.each([1, 3.2, 4, 1001.5, 2048])('aligns every partition to 4 MiB, the first at 4 MiB, without overlap (root %d MiB)', (rootMiB) => {
    const sizes = sizesFor(plan, rootMiB);
    const { entries, totalMiB } = diskLayout(plan, sizes);
    expect(entries.map((e) => e.label)).toEqual(plan.partitions.map((p) => p.label));
    expect(entries[0].startMiB).toBe(4);
    entries.forEach((e, i) => {
      expect(e.startMiB % 4).toBe(0);
      expect(e.sizeMiB % 4).toBe(0);
      expect(e.sizeMiB).toBeGreaterThanOrEqual(sizes[i]);
      expect(e.sizeMiB - sizes[i]).toBeLessThan(4);
      if (i > 0) expect(e.startMiB).toBeGreaterThanOrEqual(entries[i - 1].startMiB + entries[i - 1].sizeMiB);
    });
    const end = entries.at(-1)!.startMiB + entries.at(-1)!.sizeMiB;
    // GPT keeps its backup header after the last partition
    expect(totalMiB).toBe(end + (table === 'gpt' ? 1 : 0));
  });
});

describe('sfdiskScript, read back by sfdisk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clic-disk-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(plans.map((p) => [p.board.partitionTable, p] as const))('%s: starts, sizes, types, flags and disk id as planned', (table, plan) => {
    const { entries, totalMiB } = diskLayout(plan, sizesFor(plan, 37));
    const img = join(dir, `${plan.image}.img`);
    writeFileSync(img, '');
    truncateSync(img, totalMiB * MIB);
    execFileSync('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', img], { input: sfdiskScript(plan, entries), stdio: ['pipe', 'pipe', 'pipe'] });
    const pt = (JSON.parse(execFileSync('sfdisk', ['--json', img], { encoding: 'utf8' })) as { partitiontable: SfdiskTable }).partitiontable;

    expect(pt.label).toBe(table);
    expect(pt.id.toLowerCase()).toBe(plan.diskId.toLowerCase());
    expect(pt.partitions).toHaveLength(plan.partitions.length);
    pt.partitions.forEach((got, i) => {
      const want = plan.partitions[i];
      expect(got.start).toBe(entries[i].startMiB * SECTORS_PER_MIB);
      expect(got.size).toBe(entries[i].sizeMiB * SECTORS_PER_MIB);
      if (table === 'dos') {
        expect(got.type).toBe(want.type);
        expect(got.bootable ?? false).toBe(want.bootable ?? false);
      } else {
        expect(got.type).toBe(GPT_TYPES[want.type] ?? want.type.toUpperCase());
        expect(got.name).toBe(want.label);
        expect(got.uuid).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
      }
    });
    if (table === 'gpt') {
      expect(new Set(pt.partitions.map((p) => p.uuid)).size).toBe(pt.partitions.length);
      const last = pt.partitions.at(-1)!;
      expect(last.start + last.size - 1).toBeLessThanOrEqual(pt.lastlba!);
    }
  });

  it('gives the same script for the same plan, and GPT partition uuids that follow the disk id', () => {
    const gpt = plans.find((p) => p.board.partitionTable === 'gpt')!;
    const { entries } = diskLayout(gpt, sizesFor(gpt, 100));
    expect(sfdiskScript(gpt, entries)).toBe(sfdiskScript(structuredClone(gpt), entries));
    const uuids = (s: string) => [...s.matchAll(/uuid=([0-9A-F-]+)/g)].map((m) => m[1]);
    const other = sfdiskScript({ ...gpt, diskId: '00000000-0000-4000-8000-000000000000' }, entries);
    expect(uuids(other)).toHaveLength(gpt.partitions.length);
    uuids(other).forEach((u, i) => expect(u).not.toBe(uuids(sfdiskScript(gpt, entries))[i]));
  });
});

interface SfdiskTable {
  label: string;
  id: string;
  lastlba?: number;
  partitions: { start: number; size: number; type: string; bootable?: boolean; uuid?: string; name?: string }[];
}
