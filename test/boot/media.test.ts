/**
 * The kit on slow and damaged media, and its offline library: the kiwix lab image (the x86_64
 * image with two test ZIM files on its content partition, test/support/kiwix-image.ts) boots
 * under QEMU, no route out, on a disk where
 *  - the FAT partition's file system is zeroed (the partition deployers edit on any PC, and
 *    break): the kit must come up all the same, portal working, and say on the portal that it
 *    could not read its settings;
 *  - the content partition is not there at power-on: its file system is on a second disk that
 *    is plugged in a minute later (a slow card, a USB disk that shows up late). Until then the
 *    library's card stays hidden (its availability check fails) and /kiwix/ answers with the
 *    kit's own "not available" page; once it appears, it is mounted and kiwix serves it, with no
 *    one at the kit, and the card's check passes. A path the kit lacks gets its own 404 page.
 * The kernel and initrd are those of the image, booted directly (QEMU reads them from the
 * image's pristine ESP: the zeroed one on the disk can no longer hold them). Through a port
 * forward to the kit's port 80 the test opens the portal, follows its link to the library and
 * reads an article of each ZIM file, by its dated and undated names.
 */
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRegistry } from '../../builder/index.ts';
import { T, type Language } from '../../builder/portal/pages.ts';
import { runCommand } from '../../builder/exec.ts';
import { LOGIN_PROMPT, startVm, type Vm } from '../../builder/qemu.ts';
import { ensureKiwixImage, type KiwixContent } from '../support/kiwix-image.ts';
import { imagesDir } from '../support/images.ts';
import { openDisk } from '../support/inspect.ts';
import { freePort } from './hotspot-kit.ts';

/** When the content disk shows up, after power-on (the slow card: a minute). */
const LATE_MS = 60_000;

let vm: Vm | undefined;
let scratch: string;
let base: string;
let content: KiwixContent;
let started: number;
const seen: Record<string, { status: number; text: string }> = {};
/** Milliseconds after power-on: the login prompt, the disk plugged in, the library serving. */
const times: Record<string, number> = {};

async function get(path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(base + path, { redirect: 'manual', signal: AbortSignal.timeout(20_000) });
  return { status: r.status, text: await r.text() };
}

/** GET until `ok`, a bounded number of times (services come up after the login prompt). */
async function getUntil(path: string, ok: (r: { status: number; text: string }) => boolean, attempts = 60): Promise<{ status: number; text: string }> {
  let last = 'no answer';
  for (let i = 0; i < attempts; i++) {
    try {
      const r = await get(path);
      if (ok(r)) return r;
      last = `HTTP ${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((res) => setTimeout(res, 2000));
  }
  throw new Error(`GET ${path}: ${last} after ${attempts} attempts`);
}

/** The portal's language (the settings file could not be read: the image's default). */
const language = () => /<html lang="([a-z]+)">/.exec(seen.portal.text)![1] as Language;

/** The library's card in the portal page: hidden, with the check the page's script makes. */
function libraryCard(html: string): { check: string; contains: string } {
  const m = /<li data-check="([^"]*)" data-check-contains="([^"]*)" hidden><a href="\/kiwix\/" data-service="kiwix">/.exec(html);
  if (!m) throw new Error('the portal has no hidden kiwix card with an availability check');
  const unescape = (v: string) => v.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
  return { check: unescape(m[1]), contains: unescape(m[2]) };
}

/** The disk as the kit finds it: a qcow2 overlay over the image with its FAT and content file
 *  systems zeroed, and the content file system on its own raw image, to plug in later. */
async function damagedDisk(image: string, fatIndex: number): Promise<{ late: string }> {
  const { table } = await openDisk(image);
  const fat = table.partitions[fatIndex];
  const data = table.partitions[table.partitions.length - 1]; // the content partition comes last
  const late = join(scratch, 'late-content.img');
  await runCommand(['dd', `if=${image}`, `of=${late}`, 'bs=1M', `skip=${data.start * 512}`, `count=${data.size * 512}`, 'iflag=skip_bytes,count_bytes', 'conv=sparse', 'status=none']);
  const overlay = join(scratch, 'vm', 'disk.qcow2');
  await mkdir(join(scratch, 'vm'), { recursive: true });
  await runCommand(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', image, '-F', 'raw', overlay]);
  // the FAT partition's first MiB (boot sector, its backup, the FATs' start) and the content
  // partition's first 4 MiB (the ext4 superblock): no file system is found on either any more
  await runCommand(['qemu-io', '-f', 'qcow2', '-c', `write -z ${fat.start * 512} 1M`, '-c', `write -z ${data.start * 512} 4M`, overlay]);
  return { late };
}

beforeAll(async () => {
  const built = await ensureKiwixImage();
  content = built.content;
  const board = (await loadRegistry()).boards.get('pc-x86_64')!;
  scratch = await mkdtemp(join(tmpdir(), 'clic-media-boot-'));
  const { late } = await damagedDisk(built.image, board.partitions.findIndex((p) => p.fs === 'vfat'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  started = Date.now();
  vm = await startVm({
    image: built.image,
    board,
    scratchDir: join(scratch, 'vm'),
    reuseDisk: true,
    kernelArgs: [],
    hotplug: true,
    forwards: [{ hostPort: port, guestPort: 80 }],
  });
  await vm.waitFor(LOGIN_PROMPT, 600_000);
  times.login = Date.now() - started;
  // before the content disk: the portal is up, the library is not
  seen.portal = await getUntil('/', (r) => r.status === 200);
  seen.errors = await getUntil('/clic/settings-errors.json', (r) => r.status === 200);
  seen.checkBefore = await get(libraryCard(seen.portal.text).check);
  seen.libraryBefore = await get('/kiwix/');
  seen.missing = await get('/no/such/page');
  await new Promise((res) => setTimeout(res, Math.max(0, started + LATE_MS - Date.now())));
  await vm.plugDrive(late);
  times.plugged = Date.now() - started;
}, 900_000);

afterAll(async () => {
  if (vm) {
    await vm.stop();
    const dir = await imagesDir();
    writeFileSync(join(dir, 'clic-kiwix-test.media.console.log'), vm.console);
    writeFileSync(join(dir, 'clic-kiwix-test.media.json'), JSON.stringify({ accel: vm.accel, times }, null, 2));
  }
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('kiwix lab image on a zeroed FAT partition, its content disk plugged in a minute after power-on', () => {
  it('comes up with its portal, and tells the portal it could not read its settings', () => {
    expect(seen.portal.status).toBe(200);
    expect(seen.portal.text).toMatch(/href="\/kiwix\/"/);
    const errors = JSON.parse(seen.errors.text) as { key: string; message: string }[];
    expect(errors.map((e) => e.message).join('\n')).toMatch(/the FAT partition is not mounted \(missing or damaged\): clic-settings\.txt cannot be read/);
  });

  it("before the content disk: the library's card stays hidden (its check fails), /kiwix/ gets the kit's own 50x page", async () => {
    const card = libraryCard(seen.portal.text);
    expect(card.check).toBe('/kiwix/catalog/v2/entries?count=1');
    expect(seen.checkBefore.status).toBe(502);
    expect(seen.libraryBefore.status).toBe(502);
    expect(seen.libraryBefore.text).toContain(`<html lang="${language()}">`);
    expect(seen.libraryBefore.text).toContain(`<h1>${T.unavailableTitle[language()]}</h1>`);
    expect(seen.libraryBefore.text).toContain('<a href="/">');
  });

  it("a path the kit does not have gets the portal's own 404 page, in the portal's language, with status 404", () => {
    expect(seen.missing.status).toBe(404);
    expect(seen.missing.text).toContain(`<html lang="${language()}">`);
    expect(seen.missing.text).toContain(`<h1>${T.notFoundTitle[language()]}</h1>`);
    expect(seen.missing.text).toContain('<a href="/">');
  });

  it('once the disk appears: mounted with no one at the kit, kiwix serves both books', async () => {
    const entries = await getUntil('/kiwix/catalog/v2/entries', (r) => r.status === 200 && content.zims.every((z) => r.text.includes(`<name>${z.name}</name>`)), 90);
    for (const z of content.zims) expect(entries.text).toContain(`<name>${z.name}</name>`);
    times.serving = Date.now() - started;
    expect((await get('/kiwix/')).text).toMatch(/<html/i);
    // the check the portal page makes now passes: the library's card shows
    const card = libraryCard(seen.portal.text);
    expect((await get(card.check)).text).toContain(card.contains);
  });

  it('serves an article of each ZIM file through the portal address, by its dated and undated names', async () => {
    for (const z of content.zims) {
      const file = z.file.split('/').pop()!.replace(/\.zim$/, '');
      for (const book of [file, z.name]) {
        const page = await getUntil(`/kiwix/${book}/${z.article}`, (r) => r.status === 200);
        expect(page.text).toContain(z.text);
      }
    }
  });
});
