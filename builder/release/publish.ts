/**
 * prepareRelease — makes a folder of build outputs ready to publish (`clic-image release`):
 * checks it first (every file SHA256SUMS lists that is there must match, each block map its
 * image; the images' own .img files may be left out of a release), then writes the Raspberry Pi
 * Imager repository, images.json and the download page (see index.ts), adds them to SHA256SUMS
 * and signs it when a key is given. A folder that fails the check is not indexed.
 *
 * Options: baseUrl (where the folder is published; the Imager repository needs it), signingKey,
 * onCheck (each check's result, as verify reports it).
 *
 *   const release = await prepareRelease('out', { baseUrl: 'https://example.org/nightly' });
 *   release.files; // ['os_list_clic.json', 'images.json', 'index.html', 'clic-icon.png']
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signSums, type SigningKey } from './sign.ts';
import { SIGNATURE_FILES, updateSums } from './sums.ts';
import { verifyRelease, type Check } from './verify.ts';
import { ReleaseError, writeReleaseIndex } from './index.ts';

export interface PreparedRelease {
  files: string[];
  skipped: string[];
  signature: string | null;
}

export async function prepareRelease(
  dir: string,
  opts: { baseUrl?: string; signingKey?: SigningKey | null; onCheck?: (check: Check) => void; signal?: AbortSignal } = {},
): Promise<PreparedRelease> {
  const report = await verifyRelease(dir, { ignoreMissing: true, onCheck: opts.onCheck, signal: opts.signal });
  const failed = report.checks.filter((c) => c.status === 'failed');
  if (failed.length) throw new ReleaseError(`${dir} is not fit to publish:\n${failed.map((c) => `  ${c.file}: ${c.detail}`).join('\n')}`);
  // adding the index to SHA256SUMS removes the old signature: the page names the one to come, if any
  const signature = opts.signingKey ? SIGNATURE_FILES[opts.signingKey.tool] : null;
  const index = await writeReleaseIndex(dir, { baseUrl: opts.baseUrl, signature });
  const entries = await Promise.all(index.files.map(async (file) => ({ file, sha256: createHash('sha256').update(await readFile(join(dir, file))).digest('hex') })));
  await updateSums(dir, entries, (file) => index.files.includes(file));
  const signed = opts.signingKey ? await signSums(dir, opts.signingKey, { signal: opts.signal }) : null;
  return { files: index.files, skipped: index.skipped, signature: signed };
}
