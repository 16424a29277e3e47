/**
 * Build leases: what tells the scratch folders of a live build from those of a dead one, and what
 * ends the commands of a build that was killed.
 *
 * A build takes a lease before it makes anything in the cache folder: an exclusive lock (flock)
 * on `<cacheDir>/leases/<id>`, held by a watcher process for as long as the build lives. Its
 * scratch folder (`work/<image>.<id>`) and its temporary cache entries (`steps/.tmp-….<id>`) end
 * with that id, and every command it runs carries `CLIC_IMAGE_BUILD=<id>` in its environment.
 * The watcher reads a pipe from the build: when the build ends, however it ends (`kill -9`
 * included), the pipe closes, the watcher kills every process that still carries the id, then
 * exits, which frees the lock. A folder whose lease nobody holds is a leftover: builds, `cache ls`
 * and `cache prune` find it; builds and prune remove it, after ending its processes and
 * detaching what is still mounted below it.
 *
 *   const lease = await takeLease(cacheDir);   // lease.id: '4242-9f3a0c1e'
 *   await runCommand(argv, { env: lease.env });
 *   await lease.release();
 *   await removeLeftovers(await findLeftovers(cacheDir));
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { processAlive, runCommand } from '../exec.ts';
import { TMP_PREFIX } from './store.ts';

export const BUILD_ID_VARIABLE = 'CLIC_IMAGE_BUILD';
const LEASES = 'leases';
const ID = /\.(\d+-[0-9a-f]{8})$/;

/** Kills, until none is left (bounded), the processes whose environment carries the build's id. */
const END_PROCESSES = `
marker="${BUILD_ID_VARIABLE}=$id"
i=0
while [ $i -lt 100 ]; do
  pids=$(grep -lzxF -- "$marker" /proc/[0-9]*/environ 2>/dev/null | sed -n 's|^/proc/\\([0-9]*\\)/environ$|\\1|p')
  [ -n "$pids" ] || exit 0
  kill -KILL $pids 2>/dev/null || true
  i=$((i + 1))
  sleep 0.1
done
echo "processes of build $id still running: $pids" >&2
exit 1
`;

/** The watcher: locks the lease file (the one at that path once it holds the lock: a sweeper may
 *  have removed a free one in between), says so, waits for the build's pipe to close, ends what
 *  the build left running. */
const WATCH = `file=$1 id=$2
while :; do
  exec 9>>"$file"
  flock --exclusive 9
  [ "$(stat -L -c %i /proc/self/fd/9)" = "$(stat -c %i "$file" 2>/dev/null)" ] && break
done
echo held
cat >/dev/null
${END_PROCESSES}`;

export interface Lease {
  id: string;
  /** The environment variable every command of the build gets. */
  env: Record<string, string>;
  /** Ends what the build left running and frees the lock; its folders must be gone already. */
  release(): Promise<void>;
}

const leaseFile = (cacheDir: string, id: string) => join(resolve(cacheDir), LEASES, id);

/** The lease id at the end of a scratch folder's or temporary entry's name, or null. */
export const leaseIdOf = (name: string): string | null => ID.exec(name)?.[1] ?? null;

export async function takeLease(cacheDir: string): Promise<Lease> {
  const id = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const file = leaseFile(cacheDir, id);
  await mkdir(join(resolve(cacheDir), LEASES), { recursive: true });
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== BUILD_ID_VARIABLE));
  // its own process group: Ctrl-C reaches the build, which cleans up, and not the watcher
  const watcher = spawn('sh', ['-c', WATCH, 'clic-lease', file, id], { stdio: ['pipe', 'pipe', 'inherit'], detached: true, env });
  const exited = new Promise<void>((done) => watcher.on('close', () => done()));
  await new Promise<void>((held, failed) => {
    watcher.on('error', (err) => failed(new Error(`cannot take a lease in ${cacheDir}: ${err.message}`)));
    watcher.stdout.setEncoding('utf8').once('data', () => held());
    watcher.on('close', (code) => failed(new Error(`cannot take a lease in ${cacheDir}: flock ended (exit ${code})`)));
  });
  // the build may end without releasing: the pipe then closes with the process
  watcher.unref();
  watcher.stdout.destroy();
  (watcher.stdin as unknown as { unref?: () => void }).unref?.();
  return {
    id,
    env: { [BUILD_ID_VARIABLE]: id },
    async release() {
      // referenced again: an unreferenced child alone would let the process exit right here
      watcher.ref();
      watcher.stdin.end();
      await exited;
      await rm(file, { force: true });
    },
  };
}

/** Whether a live process holds this lease (a missing lease file is nobody's). */
export async function leaseHeld(cacheDir: string, id: string): Promise<boolean> {
  const file = leaseFile(cacheDir, id);
  if (!(await access(file).then(() => true, () => false))) return false;
  return runCommand(['flock', '--exclusive', '--nonblock', file, 'true']).then(() => false, () => true);
}

export interface Leftover {
  path: string;
  what: 'scratch folder of a build' | 'temporary cache entry' | 'lease';
  /** The dead build's lease id; null for folders named before leases existed. */
  id: string | null;
}

/** A folder named before leases: dead when the pid it names (file `pid` or name) is gone. */
async function legacyAlive(dir: string, name: string): Promise<boolean> {
  const fromFile = Number(await readFile(join(dir, 'pid'), 'utf8').catch(() => 'NaN'));
  const fromName = Number(name.split('-').at(-2));
  const pid = Number.isInteger(fromFile) ? fromFile : fromName;
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid);
}

/** Scratch folders, temporary cache entries and leases of builds that are no longer running. */
export async function findLeftovers(cacheDir: string): Promise<Leftover[]> {
  const root = resolve(cacheDir);
  const found: Leftover[] = [];
  const candidates: [string, string, Leftover['what']][] = [];
  for (const name of await readdir(join(root, 'work')).catch(() => [] as string[])) candidates.push([join(root, 'work', name), name, 'scratch folder of a build']);
  for (const name of await readdir(join(root, 'steps')).catch(() => [] as string[])) {
    if (name.startsWith(TMP_PREFIX)) candidates.push([join(root, 'steps', name), name, 'temporary cache entry']);
  }
  for (const [path, name, what] of candidates) {
    const id = leaseIdOf(name);
    const alive = id ? await leaseHeld(root, id) : await legacyAlive(path, name);
    if (!alive) found.push({ path, what, id });
  }
  for (const id of await readdir(join(root, LEASES)).catch(() => [] as string[])) {
    if (!(await leaseHeld(root, id))) found.push({ path: join(root, LEASES, id), what: 'lease', id });
  }
  return found;
}

/** Mount points at or below dir, from the kernel's own table, deepest first. */
export async function mountsBelow(dir: string): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  const prefix = resolve(dir);
  return table
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && (m === prefix || m.startsWith(prefix + '/')))
    .reverse();
}

/** Ends the dead builds' processes, detaches what is mounted below their folders (never
 *  recursing into a mounted /dev or /proc), then removes the folders, leases last. Returns what
 *  could not be removed, in words (the next sweep tries again). */
export async function removeLeftovers(leftovers: readonly Leftover[]): Promise<string[]> {
  const problems: string[] = [];
  const ids = new Set(leftovers.map((l) => l.id).filter((id): id is string => !!id));
  for (const id of ids) {
    await runCommand(['sh', '-c', `id=$1\n${END_PROCESSES}`, 'clic-end', id]).catch((err: Error) => problems.push(err.message));
  }
  const order = (l: Leftover) => (l.what === 'lease' ? 1 : 0);
  for (const leftover of [...leftovers].sort((a, b) => order(a) - order(b))) {
    if (leftover.what === 'lease') {
      // removed under its lock: a build that opened this file meanwhile takes the lock after us,
      // sees the file gone and makes a new one
      await runCommand(['flock', '--exclusive', '--nonblock', leftover.path, 'rm', '-f', leftover.path]).catch(() => {});
      continue;
    }
    try {
      for (const mount of await mountsBelow(leftover.path)) await runCommand(['umount', '--lazy', mount]);
      const still = await mountsBelow(leftover.path);
      if (still.length) throw new Error(`still mounted: ${still.join(', ')}`);
      await rm(leftover.path, { recursive: true, force: true });
    } catch (err) {
      problems.push(`cannot remove the ${leftover.what} ${leftover.path}: ${(err as Error).message}`);
    }
  }
  return problems;
}
