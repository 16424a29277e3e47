/**
 * Odroid boards (stand-in bootloader blobs): u-boot cannot be emulated, so each Odroid image is
 * proven from what u-boot would read. The test reads /boot/extlinux/extlinux.conf from the
 * image's bootable partition, as distro boot does, checks that the device tree it names is the
 * board's (its root `compatible`), and boots the kernel, initrd and arguments it names on QEMU's
 * generic `virt` machine (arm64, or 32-bit arm for the XU4) to the login prompt, the root
 * mounted by label from the image. Boards whose kernel, initrd and arguments are byte for byte
 * those of a board booted before them (one SoC family: C4, N2, HC4) are not booted again: on
 * `virt`, with QEMU's device tree, the same bytes boot the same way. The bootloader bytes in front of the first partition are
 * checked too: the stand-in blobs are at their offsets and the MBR table reads the same.
 * Images: test/support/odroid-images.ts (layers base and firstboot; blobs made by the test).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootImage, extractExtlinuxBootFiles } from '../../builder/qemu.ts';
import { loadRegistry, type BoardDef } from '../../builder/index.ts';
import { ensureOdroidImages, ODROID_BOARDS, standInBlobs } from '../support/odroid-images.ts';
import { openDisk } from '../support/inspect.ts';

/** The root `compatible` of each board's device tree, from the kernel's own DTBs. */
const COMPATIBLE: Record<string, string> = {
  'odroid-c4': 'hardkernel,odroid-c4',
  'odroid-n2': 'hardkernel,odroid-n2',
  'odroid-hc4': 'hardkernel,odroid-hc4',
  'odroid-xu4': 'hardkernel,odroid-xu4',
};

let images: Map<string, string>;
/** Kernel, initrd (sha256) and arguments already booted to the login prompt, and by which board. */
const booted = new Map<string, string>();
let boards: Map<string, BoardDef>;
const scratch = mkdtempSync(join(tmpdir(), 'clic-odroid-'));

beforeAll(async () => {
  boards = (await loadRegistry()).boards;
  images = await ensureOdroidImages();
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function readBytes(file: string, offset: number, length: number): Promise<Buffer> {
  const fd = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fd.read(buf, 0, length, offset);
    return buf;
  } finally {
    await fd.close();
  }
}

describe.each(ODROID_BOARDS)('%s image (stand-in bootloader blobs)', (name) => {
  it('has the bootloader regions before its first partition and an intact MBR table', async () => {
    const board = boards.get(name)!;
    const image = images.get(name)!;
    const disk = await openDisk(image);
    expect(disk.table.label).toBe('dos');
    expect(disk.table.partitions.map((p) => p.start * 512)).toEqual([4 * 2 ** 20, expect.any(Number)]);
    expect(disk.table.partitions[1].bootable).toBe(true);
    const blobs = standInBlobs(board);
    for (const region of board.rawRegions!) {
      const bytes = blobs.get(region.source.url)!.bytes;
      const skip = region.skip ?? 0;
      const expected = bytes.subarray(skip, region.count === undefined ? undefined : skip + region.count);
      expect((await readBytes(image, region.offset, expected.length)).equals(expected), `${region.name} at byte ${region.offset}`).toBe(true);
      expect(region.offset + expected.length).toBeLessThanOrEqual(4 * 2 ** 20);
    }
    // bytes 440–511: the disk signature and table the build wrote (sfdisk read them above), and the boot signature
    const mbr = await readBytes(image, 0, 512);
    expect(mbr.readUInt16LE(510)).toBe(0xaa55);
    expect(mbr.readUInt32LE(440).toString(16).padStart(8, '0')).toBe(disk.table.id.replace(/^0x/, ''));
  });

  it('extlinux.conf names the kernel, the initrd and the board\'s device tree, all in the image', async () => {
    const board = boards.get(name)!;
    const dir = mkdtempSync(join(scratch, `${name}-`));
    const files = await extractExtlinuxBootFiles(images.get(name)!, board, dir);
    expect(files.entry.fdt).toBe(files.entry.linux.replace(/^\/boot\/vmlinuz-(.+)$/, `/usr/lib/linux-image-$1/${board.deviceTree}`));
    expect(files.entry.initrd).toBe(files.entry.linux.replace('/vmlinuz-', '/initrd.img-'));
    expect(files.cmdline).toMatch(/(^| )root=LABEL=CLICROOT( |$)/);
    for (const console of board.consoles) expect(files.cmdline).toContain(`console=${console}`);
    const compatible = execFileSync('fdtget', ['-t', 's', files.dtb!, '/', 'compatible'], { encoding: 'utf8' });
    expect(compatible.split(/\s+/)).toContain(COMPATIBLE[name]);
    const disk = await openDisk(images.get(name)!);
    for (const [path, content] of Object.entries(board.bootFiles ?? {})) expect(await disk.extRead(1, path), path).toBe(content);
    const kernel = readFileSync(files.kernel);
    if (board.arch === 'arm64') expect(kernel.subarray(56, 60).toString('latin1')).toBe('ARM\x64');
    else expect(kernel.readUInt32LE(0x24)).toBe(0x016f2818);
  });

  it('boots the kernel, initrd and root extlinux.conf names on QEMU virt to its login prompt', async () => {
    const board = boards.get(name)!;
    const image = images.get(name)!;
    // boards of one SoC family share their kernel, initrd and arguments: the same bytes boot the same way on virt
    const files = await extractExtlinuxBootFiles(image, board, mkdtempSync(join(scratch, `${name}-files-`)));
    const fingerprint = [files.kernel, files.initrd].map((f) => createHash('sha256').update(readFileSync(f)).digest('hex')).concat(files.cmdline).join(' ');
    // booted already, under another board's name: the login prompt it reached is this board's too
    if (booted.has(fingerprint)) return;
    const r = await bootImage({ image, board, scratchDir: mkdtempSync(join(scratch, `${name}-boot-`)), timeoutMs: 900_000 });
    writeFileSync(image.replace(/\.img$/, `.${board.qemu.machine}.console.log`), r.console);
    expect(r.failure, r.console.slice(-3000)).toBeUndefined();
    expect(r.matched).toBe(true);
    expect(r.console).toMatch(/Kernel command line: .*root=LABEL=CLICROOT/);
    expect(r.console).toMatch(/^clic login: *$/m);
    expect(r.console).not.toMatch(/emergency mode|Kernel panic/);
    booted.set(fingerprint, name);
  });
});
