/**
 * Writing a file whole or not at all: into `<file>.<pid>.<n>.partial` beside it (n: a counter,
 * so that two writers of one process do not share it), then renamed, so a reader (or a build
 * killed halfway) never sees half a file; the folder is made if needed.
 *
 *   await writeFileAtomically('out/images.json', JSON.stringify(index));
 *
 * And a set of files written under a folder, with their modes (a board's files in a root file
 * system): `await writeFiles(rootfs, { 'etc/default/u-boot': { content: '…' } })`.
 */
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** A file to write: its text and mode (0644 by default). */
export interface FileContent {
  content: string;
  mode?: number;
}

export async function writeFiles(root: string, files: Record<string, FileContent>): Promise<void> {
  for (const [path, { content, mode }] of Object.entries(files)) {
    const file = join(root, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
    await chmod(file, mode ?? 0o644);
  }
}

let writes = 0;

export async function writeFileAtomically(file: string, content: string | Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.${++writes}.partial`;
  await writeFile(partial, content);
  await rename(partial, file);
}
