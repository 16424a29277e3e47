/**
 * Writing a file whole or not at all: into `<file>.<pid>.partial` beside it, then renamed, so a
 * reader (or a build killed halfway) never sees half a file; the folder is made if needed.
 *
 *   await writeFileAtomically('out/images.json', JSON.stringify(index));
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function writeFileAtomically(file: string, content: string | Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, content);
  await rename(partial, file);
}
