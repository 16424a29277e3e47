/**
 * Measuring one build of the benchmark (test/bench/compare.ts): runs a command in a memory
 * cgroup of its own and reports its wall time, its peak memory and the tail of its output; then
 * finds and removes what the build left behind (processes still in its cgroup, mounts and loop
 * devices under its work folder), so one failing builder cannot break the next.
 *
 * Peak memory (host with cgroup v1, as this one): a child cgroup of the harness's own memory
 * cgroup is made per run; the command is moved into it before it starts (`sh -c 'echo $$ >
 * cgroup.procs; exec …'`), so every process it starts is counted, whatever namespaces it enters.
 *   - peakBytes: `memory.max_usage_in_bytes`, kept by the kernel: processes' memory plus the page
 *     cache the build charged (files it wrote or read first). Large for any image builder.
 *   - peakRssBytes: largest `total_rss + total_shmem` of `memory.stat`, sampled every 250 ms:
 *     the processes' own memory, the figure to compare builders' appetite.
 * Without a usable memory cgroup (cgroup v2 only, not root) both are null and the run goes on.
 *
 *   const r = await runMeasured(['debos', 'recipe.yaml'], { cwd, log: 'debos.log', env: {} });
 *   // → { code: 0, ms: 812345, peakBytes: …, peakRssBytes: …, tail: [last lines], leftovers: [] }
 */
import { spawn, execFile } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  peakBytes: number | null;
  peakRssBytes: number | null;
  /** last lines of stdout+stderr */
  tail: string[];
  /** processes still in the cgroup after the command ended (killed by the harness) */
  strayProcesses: string[];
}

/** The harness's own memory cgroup (v1), where run cgroups are made; null if not usable. */
export function memoryCgroupRoot(): string | null {
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes('memory'));
    if (!line) return null;
    const dir = `/sys/fs/cgroup/memory${line.split(':')[2]}`.replace(/\/$/, '');
    return existsSync(`${dir}/memory.max_usage_in_bytes`) && process.getuid?.() === 0 ? dir : null;
  } catch {
    return null;
  }
}

function readNumber(file: string): number | null {
  try {
    return Number(readFileSync(file, 'utf8').trim());
  } catch {
    return null;
  }
}

function rssOf(cgroup: string): number | null {
  try {
    const stat = Object.fromEntries(readFileSync(`${cgroup}/memory.stat`, 'utf8').trim().split('\n').map((l) => l.split(' ')));
    return Number(stat.total_rss ?? 0) + Number(stat.total_shmem ?? 0);
  } catch {
    return null;
  }
}

export function cgroupPids(cgroup: string): number[] {
  try {
    return readFileSync(`${cgroup}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 120) || `pid ${pid}`;
  } catch {
    return `pid ${pid}`;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops every process of the cgroup, by pid: TERM, then KILL after 5 s. Returns what was running. */
export async function killCgroup(cgroup: string): Promise<string[]> {
  const found = cgroupPids(cgroup).map((pid) => `${pid} ${commOf(pid)}`);
  for (const pid of cgroupPids(cgroup)) {
    try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
  }
  for (let i = 0; i < 50 && cgroupPids(cgroup).length; i++) await sleep(100);
  for (const pid of cgroupPids(cgroup)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  for (let i = 0; i < 50 && cgroupPids(cgroup).length; i++) await sleep(100);
  return found;
}

let counter = 0;
/** Cgroup of the run in progress, so an interrupted harness can stop it (see stopCurrent). */
let current: { cgroup: string | null; pgid: number | undefined } | null = null;

export async function stopCurrent(): Promise<void> {
  if (!current) return;
  if (current.cgroup) await killCgroup(current.cgroup);
  else if (current.pgid) {
    try { process.kill(-current.pgid, 'SIGKILL'); } catch { /* gone */ }
  }
}

export async function runMeasured(
  argv: string[],
  opts: { cwd: string; log: string; env?: Record<string, string>; onLine?: (line: string) => void },
): Promise<Measured> {
  const root = memoryCgroupRoot();
  let cgroup: string | null = null;
  if (root) {
    cgroup = `${root}/clic-bench-${process.pid}-${++counter}`;
    try {
      mkdirSync(cgroup);
    } catch {
      cgroup = null;
    }
  }
  const command = cgroup ? ['sh', '-c', 'echo $$ > "$0" && exec "$@"', `${cgroup}/cgroup.procs`, ...argv] : argv;
  const log = createWriteStream(opts.log, { flags: 'a' });
  log.write(`$ ${argv.join(' ')}\n`);
  const tail: string[] = [];
  let partial = '';
  const onData = (chunk: Buffer) => {
    log.write(chunk);
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      opts.onLine?.(line);
      tail.push(line);
      if (tail.length > 40) tail.shift();
    }
  };
  let peakRss: number | null = null;
  const started = Date.now();
  const child = spawn(command[0], command.slice(1), {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group: the terminal's Ctrl-C reaches the harness only, which stops the run
  });
  current = { cgroup, pgid: child.pid };
  const sampler = cgroup
    ? setInterval(() => {
        const rss = rssOf(cgroup!);
        if (rss !== null && (peakRss === null || rss > peakRss)) peakRss = rss;
      }, 250)
    : null;
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (err) => {
      tail.push(`cannot start ${argv[0]}: ${err.message}`);
      resolve({ code: 127, signal: null });
    });
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  const ms = Date.now() - started;
  if (sampler) clearInterval(sampler);
  if (partial) tail.push(partial);
  await new Promise((r) => log.end(r));
  let peakBytes: number | null = null;
  let strayProcesses: string[] = [];
  if (cgroup) {
    const rss = rssOf(cgroup);
    if (rss !== null && (peakRss === null || rss > peakRss)) peakRss = rss;
    peakBytes = readNumber(`${cgroup}/memory.max_usage_in_bytes`);
    strayProcesses = await killCgroup(cgroup);
    for (let i = 0; i < 20; i++) {
      try {
        rmdirSync(cgroup);
        break;
      } catch {
        await sleep(250);
      }
    }
  }
  current = null;
  return { code, signal, ms, peakBytes, peakRssBytes: cgroup ? peakRss : null, tail, strayProcesses };
}

/** Mount points (deepest first) and loop devices whose path or backing file is under dir. */
export async function leftoversUnder(dir: string): Promise<{ mounts: string[]; loops: { name: string; file: string }[] }> {
  const prefix = dir.replace(/\/$/, '') + '/';
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => unescape(l.split(' ')[4]))
    .filter((m) => m.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
  let loops: { name: string; file: string }[] = [];
  try {
    const { stdout } = await exec('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE']);
    const devs = (JSON.parse(stdout || '{"loopdevices":[]}').loopdevices ?? []) as { name: string; 'back-file': string | null }[];
    loops = devs
      .map((d) => ({ name: d.name, file: (d['back-file'] ?? '').replace(/ \(deleted\)$/, '') }))
      .filter((d) => d.file.startsWith(prefix));
  } catch {
    /* no losetup: nothing to list */
  }
  return { mounts: [...new Set(mounts)], loops };
}

/** Unmounts and detaches what leftoversUnder finds (kpartx maps first); returns what it removed. */
export async function cleanLeftovers(dir: string): Promise<string[]> {
  const done: string[] = [];
  const { mounts, loops } = await leftoversUnder(dir);
  for (const m of mounts) {
    try {
      await exec('umount', [m]);
    } catch {
      await exec('umount', ['--lazy', m]).catch(() => undefined);
    }
    done.push(`mount ${m}`);
  }
  for (const l of loops) {
    await exec('kpartx', ['-d', l.name]).catch(() => undefined);
    await exec('losetup', ['--detach', l.name]).catch(() => undefined);
    done.push(`loop ${l.name} (${l.file})`);
  }
  return done;
}
