/**
 * Boot tests: each shared image boots under QEMU to its login prompt on the serial console,
 * within a bounded time; the console log is kept in test/.artifacts/<stamp>/<image>.<machine>.console.log.
 * Nothing test-only is added to the images: the login prompt is the proof of a normal boot
 * (getty only starts once the system reached its default target's dependencies).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootImage, type BootResult } from '../../builder/qemu.ts';
import { loadRegistry, type BoardDef } from '../../builder/index.ts';
import { imagesDir } from '../support/images.ts';

async function boot(imageName: string, board: BoardDef, timeoutMs: number): Promise<BootResult> {
  const dir = await imagesDir();
  const scratchDir = mkdtempSync(join(tmpdir(), 'clic-boot-'));
  try {
    const result = await bootImage({ image: join(dir, `${imageName}.img`), board, scratchDir, timeoutMs });
    writeFileSync(join(dir, `${imageName}.${board.qemu.machine}.console.log`), result.console);
    writeFileSync(join(dir, `${imageName}.${board.qemu.machine}.boot.json`), JSON.stringify({ accel: result.accel, ms: result.ms, matched: result.matched, failure: result.failure }));
    return result;
  } finally {
    rmSync(scratchDir, { recursive: true, force: true });
  }
}

function expectNormalBoot(r: BootResult, hostname: string) {
  expect(r.failure, r.console.slice(-3000)).toBeUndefined();
  expect(r.matched).toBe(true);
  expect(r.console).toMatch(/Linux version \S+/);
  expect(r.console).toMatch(new RegExp(`^${hostname} login: *$`, 'm'));
  expect(r.console).not.toMatch(/emergency mode|Kernel panic/);
}

describe('boot under QEMU', () => {
  it('clic-pc-x86_64 boots with OVMF (UEFI, systemd-boot from the ESP) to its login prompt', async () => {
    const registry = await loadRegistry();
    const r = await boot('clic-pc-x86_64', registry.boards.get('pc-x86_64')!, 600_000);
    expectNormalBoot(r, 'clic');
    expect(r.console).toMatch(/Reached target .*Multi-User System|Reached target .*Login Prompts/);
  });

  it('clic-rpi4 boots on the raspi3b machine, kernel/DTB/initrd from its FAT partition, root by label', async () => {
    const registry = await loadRegistry();
    // the Pi images carry the same kernel, firmware and DTBs for Pi 3 and 4: QEMU 7.2 emulates
    // only the Pi 3, so the Pi 4 image is booted as a Pi 3 B with the bcm2837-rpi-3-b.dtb it carries
    const rpi4 = registry.boards.get('rpi4')!;
    const rpi3 = registry.boards.get('rpi3')!;
    const r = await boot('clic-rpi4', { ...rpi4, qemu: rpi3.qemu }, 900_000);
    expectNormalBoot(r, 'clic');
    expect(r.console).toMatch(/Machine model: Raspberry Pi 3 Model B/);
    expect(r.console).toMatch(/root=LABEL=RASPIROOT/);
  });
});
