/**
 * The offline library in a running kit: the kiwix lab image (test/support/kiwix-image.ts: the
 * x86_64 image with two test ZIM files on its content partition) boots under QEMU with no route
 * out; through a port forward to the kit's port 80, the test opens the portal page, follows its
 * link to the library, and reads an article of each ZIM file through kiwix-serve — served by
 * nginx on the portal's address, from the content partition.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRegistry } from '../../builder/index.ts';
import { LOGIN_PROMPT, startVm, type Vm } from '../../builder/qemu.ts';
import { ensureKiwixImage, type KiwixContent } from '../support/kiwix-image.ts';
import { imagesDir } from '../support/images.ts';
import { freePort } from './hotspot-kit.ts';
import { writeFileSync } from 'node:fs';

let vm: Vm | undefined;
let scratch: string;
let base: string;
let content: KiwixContent;

/** GET with a bounded wait for the service to come up (nginx answers before kiwix-serve is ready). */
async function get(path: string, ok = (r: Response) => r.status === 200): Promise<{ status: number; text: string }> {
  let last = 'no answer';
  for (let i = 0; i < 60; i++) {
    try {
      const r = await fetch(base + path, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
      const text = await r.text();
      if (ok(r)) return { status: r.status, text };
      last = `HTTP ${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`GET ${path}: ${last} after 60 attempts`);
}

beforeAll(async () => {
  const built = await ensureKiwixImage();
  content = built.content;
  const board = (await loadRegistry()).boards.get('pc-x86_64')!;
  scratch = await mkdtemp(join(tmpdir(), 'clic-kiwix-boot-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  vm = await startVm({ image: built.image, board, scratchDir: scratch, forwards: [{ hostPort: port, guestPort: 80 }] });
  await vm.waitFor(LOGIN_PROMPT, 600_000);
});

afterAll(async () => {
  if (vm) {
    writeFileSync(join(await imagesDir(), 'clic-kiwix-test.console.log'), vm.console);
    await vm.stop();
  }
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('kiwix lab image under QEMU', () => {
  it('the portal page links to the offline library', async () => {
    const portal = await get('/');
    expect(portal.text).toMatch(/href="\/kiwix\/"/);
    const library = await get('/kiwix/');
    expect(library.text).toMatch(/<html/i);
  });

  it('kiwix-serve lists both books of the content partition', async () => {
    const entries = await get('/kiwix/catalog/v2/entries', (r) => r.status === 200);
    for (const z of content.zims) expect(entries.text).toContain(`<name>${z.name}</name>`);
  });

  it('serves an article of each ZIM file through the portal address, by its dated and undated names', async () => {
    for (const z of content.zims) {
      const file = z.file.split('/').pop()!.replace(/\.zim$/, '');
      for (const book of [file, z.name]) {
        const page = await get(`/kiwix/${book}/${z.article}`);
        expect(page.text).toContain(z.text);
      }
    }
  });
});
