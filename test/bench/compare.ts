/**
 * Benchmark (issue #4, `npm run bench`; not a test): builds the same minimal Raspberry Pi image
 * with clic-image, debos and vmdb2, one after the other in one run, and prints for each the cold
 * build time, the rebuild time after one overlay file of the top layer changed, the image size
 * (raw, allocated, compressed), the peak memory of the whole process tree, and the ratios of
 * clic-image against each peer.
 *
 * The image: clic-image's `clic-rpi4` plan (`clic-image plan clic-rpi4 --json`, read at run
 * time): its packages, its board layout (MBR, FAT RASPIFIRM 256 MiB at 4 MiB on /boot/firmware,
 * ext4 RASPIROOT), /etc/default/raspi-firmware and /etc/fstab in place before the kernel hooks
 * run, the overlay folders of its layers (overlays/<layer>/) and its host name. The peers do not
 * replay the layers' commands (locales, time zone, enabled units…); clic-image does that work too.
 * Their recipes: test/bench/debos/*.yaml and test/bench/vmdb2/clic-rpi4.vmdb (how each is run
 * and cached: test/bench/peers.ts). Each build runs on the same Debian mirror.
 *
 * Measures: wall time of the build command; peak memory from a memory cgroup made per build
 * (test/bench/measure.ts): cgroup peak (page cache included) and sampled peak RSS. Compressed
 * size: `zstd -T0 -10` by default (seconds), `--compress xz` for `xz -T0 -6` (minutes, what a
 * release would ship). Each image is also checked: partition table, cmdline.txt naming the
 * root by label, boot files, host name, installed package set (compared with clic-image's), and
 * after the rebuild the changed overlay file. After each build, mounts and loop devices under
 * its work folder and processes left in its cgroup are reported and removed.
 *
 * Rebuild: one file of the top layer's overlay gets a comment line appended. clic-image reads
 * overlays/ itself, so the real file is changed just for its rebuild and always put back
 * (finally, and on Ctrl-C); debos and vmdb2 get the same change in their copy of the overlays.
 *
 * debos backend: fakemachine cannot run on this host. Its kvm and qemu backends boot the host's
 * own kernel (/boot/vmlinuz-$(uname -r), /lib/modules/$(uname -r)), which this Firecracker VM
 * does not have (and nested KVM fails here anyway); the uml backend needs systemd-resolved on
 * the host (installing it would take over the host's DNS), and with it supplied in a private
 * mount namespace the machine boots but resolves no host name, and runs fork+exec 11× slower
 * than the host on one CPU. So debos runs with --disable-fakemachine, as root, like vmdb2.
 *
 * Needs root (all three builders do). Missing debos/vmdb2 tools are installed with apt-get
 * (announced first). A builder that fails prints the end of its output; the others still run.
 *
 * Options:
 *   --only NAMES        clic-image, debos, vmdb2 (comma-separated or repeated; default: all)
 *   --mirror URL        Debian mirror for all three (default: the host's apt sources for the suite)
 *   --compress zstd|xz  compressed size with zstd -T0 -10 (default) or xz -T0 -6
 *   --size-mib N        disk size of the debos and vmdb2 images (default 2048; clic-image sizes to content)
 *   --work-dir DIR      where the temporary work folder goes (default: the OS temp folder)
 *   --json FILE         also write the results as JSON
 *   --keep              keep the work folder (images, caches) instead of removing it
 * Cold build times of clic-image's own images alone: `npm run bench:times` (build-times.ts).
 *
 *   npm run bench                          # all three, ~40-60 min on 2 cores
 *   npm run bench -- --only debos          # one builder
 *   npm run bench -- --only clic-image,vmdb2 --compress xz --json /tmp/bench.json
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { cleanLeftovers, leftoversUnder, memoryCgroupRoot, runMeasured, stopCurrent, type Measured } from './measure.ts';
import { CLI, PEERS, PROJECT_ROOT, type BenchPlan, type Peer, type PeerContext } from './peers.ts';

const exec = promisify(execFile);
const IMAGE = 'clic-rpi4';
const ORDER: Peer['name'][] = ['clic-image', 'debos', 'vmdb2'];

// ---------------------------------------------------------------- options

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    mirror: { type: 'string' },
    compress: { type: 'string', default: 'zstd' },
    'size-mib': { type: 'string', default: '2048' },
    'work-dir': { type: 'string', default: tmpdir() },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (opts.help) {
  const text = readFileSync(new URL(import.meta.url), 'utf8');
  process.stdout.write(text.slice(text.indexOf('/**') + 3, text.indexOf('*/')).replace(/^ \* ?/gm, '') + '\n');
  process.exit(0);
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

const aliases: Record<string, Peer['name']> = { clic: 'clic-image', 'clic-image': 'clic-image', debos: 'debos', vmdb2: 'vmdb2' };
const selected = opts.only?.length
  ? ORDER.filter((n) => opts.only!.flatMap((o) => o.split(',')).map((o) => aliases[o.trim()] ?? fail(`--only: unknown builder "${o}" (clic-image, debos, vmdb2)`)).includes(n))
  : ORDER;
const compressors = {
  zstd: { label: 'zstd -T0 -10', argv: ['zstd', '-T0', '-10', '-q', '-c'] },
  xz: { label: 'xz -T0 -6', argv: ['xz', '-T0', '-6', '-c'] },
} as const;
const compressor = compressors[opts.compress as keyof typeof compressors] ?? fail('--compress: zstd or xz');
const sizeMiB = Number(opts['size-mib']);
if (!Number.isInteger(sizeMiB) || sizeMiB < 512) fail('--size-mib: a whole number of MiB, at least 512');
if (process.getuid?.() !== 0) fail('must run as root (clic-image, debos and vmdb2 all need it)');

// ---------------------------------------------------------------- formatting

const fmtMs = (ms: number) =>
  ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')} s`;
const fmtBytes = (b: number) => (b >= 1024 ** 3 ? `${(b / 1024 ** 3).toFixed(2)} GiB` : `${(b / 1024 ** 2).toFixed(0)} MiB`);
const say = (line = '') => process.stdout.write(line + '\n');

// ---------------------------------------------------------------- plan and mirror

async function loadPlan(mirror: string | null): Promise<BenchPlan> {
  const { stdout } = await exec(process.execPath, [CLI, 'plan', IMAGE, '--json', ...(mirror ? ['--mirror', mirror] : [])], {
    cwd: PROJECT_ROOT,
    maxBuffer: 32 * 1024 * 1024,
  });
  return JSON.parse(stdout) as BenchPlan;
}

/** First `deb` source of the host's apt configuration that serves the suite (not -security). */
function hostMirror(suite: string): string | null {
  const dir = '/etc/apt/sources.list.d';
  const files = ['/etc/apt/sources.list', ...(existsSync(dir) ? readdirSync(dir).sort().map((f) => join(dir, f)) : [])];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => stanza.match(new RegExp(`^${name}:\\s*(.+)$`, 'mi'))?.[1].trim().split(/\s+/) ?? [];
        if (field('Enabled')[0]?.toLowerCase() === 'no' || !field('Types').includes('deb') || !field('Suites').includes(suite)) continue;
        const uri = field('URIs')[0];
        if (uri) return uri.replace(/\/$/, '');
      }
    } else if (file.endsWith('.list')) {
      for (const line of text.split('\n')) {
        const words = line.replace(/\[[^\]]*\]/, '').trim().split(/\s+/);
        if (words[0] === 'deb' && words[2] === suite && words[1]) return words[1].replace(/\/$/, '');
      }
    }
  }
  return null;
}

// ---------------------------------------------------------------- host tools

async function ensureTools(peer: Peer): Promise<void> {
  const missing = peer.tools.filter(([cmd]) => !commandExists(cmd));
  if (!missing.length) return;
  const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
  say(`  ${peer.name} needs ${missing.map(([c]) => c).join(', ')}: installing Debian packages ${pkgs.join(' ')} (apt-get install -y --no-install-recommends)`);
  await exec('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
  }).catch((err: { stdout?: string; stderr?: string }) => {
    throw new Error(`apt-get install ${pkgs.join(' ')} failed:\n${`${err.stdout ?? ''}${err.stderr ?? ''}`.split('\n').slice(-15).join('\n')}`);
  });
  const still = peer.tools.filter(([cmd]) => !commandExists(cmd));
  if (still.length) throw new Error(`still missing after apt-get: ${still.map(([c]) => c).join(', ')}`);
}

function commandExists(cmd: string): boolean {
  const path = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`;
  return path.split(':').some((d) => d && existsSync(join(d, cmd)));
}

// ---------------------------------------------------------------- image inspection

interface ImageFacts {
  rawBytes: number;
  allocatedBytes: number;
  compressedBytes: number | null;
  compressMs: number;
  packages: string[];
  /** package → installed version */
  versions: Record<string, string>;
  problems: string[];
}

interface PartInfo {
  start: number;
  size: number;
  type: string;
  bootable?: boolean;
}

async function partitionsOf(img: string): Promise<PartInfo[]> {
  const { stdout } = await exec('sfdisk', ['--json', img]);
  return (JSON.parse(stdout).partitiontable.partitions as PartInfo[]) ?? [];
}

async function ext4Cat(img: string, offset: number, path: string): Promise<string | null> {
  try {
    const { stdout, stderr } = await exec('debugfs', ['-R', `cat ${path}`, `${img}?offset=${offset}`], { maxBuffer: 64 * 1024 * 1024 });
    return /File not found|not found by ext2_lookup/.test(stderr) ? null : stdout;
  } catch {
    return null;
  }
}

async function compressedSize(img: string): Promise<{ bytes: number | null; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(compressor.argv[0], [...compressor.argv.slice(1), img], { stdio: ['ignore', 'pipe', 'ignore'] });
    let bytes = 0;
    child.stdout.on('data', (c: Buffer) => (bytes += c.length));
    child.on('error', () => resolve({ bytes: null, ms: 0 }));
    child.on('close', (code) => resolve({ bytes: code === 0 ? bytes : null, ms: Date.now() - started }));
  });
}

/** Sizes and equivalence checks of one image; `expect` = content the changed overlay file must have. */
async function inspectImage(img: string, ctx: PeerContext, expect: string, withSizes: boolean): Promise<ImageFacts> {
  const st = statSync(img);
  const problems: string[] = [];
  const { plan } = ctx;
  const parts = await partitionsOf(img);
  const bootIdx = plan.partitions.findIndex((p) => p.mountpoint !== '/');
  const rootIdx = plan.partitions.findIndex((p) => p.mountpoint === '/');
  if (parts.length < plan.partitions.length) problems.push(`${parts.length} partitions, expected ${plan.partitions.length}`);
  const boot = parts[bootIdx];
  const root = parts[rootIdx];
  if (boot) {
    const want = plan.partitions[bootIdx];
    if (boot.start !== 8192) problems.push(`boot partition starts at sector ${boot.start}, expected 8192 (4 MiB)`);
    if (want.sizeMiB && boot.size !== want.sizeMiB * 2048) problems.push(`boot partition is ${boot.size / 2048} MiB, expected ${want.sizeMiB}`);
    if (boot.type.toLowerCase() !== want.type) problems.push(`boot partition type ${boot.type}, expected ${want.type}`);
    const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
    const at = `${img}@@${boot.start * 512}`;
    const cmdline = await exec('mtype', ['-i', at, '::cmdline.txt'], { env }).then((r) => r.stdout, () => '');
    const rootLabel = plan.partitions[rootIdx].label;
    if (!cmdline.includes(`root=LABEL=${rootLabel}`)) problems.push(`cmdline.txt does not name root=LABEL=${rootLabel}: "${cmdline.trim()}"`);
    const listing = await exec('mdir', ['-b', '-i', at, '::'], { env }).then((r) => r.stdout, () => '');
    // raspi-firmware's hooks name the kernel and initrd after the kernel version (vmlinuz-6.1.0-…-arm64)
    const names = listing.split('\n').map((l) => l.trim().replace(/^::\//, ''));
    for (const f of ['config.txt', 'initrd.img', 'vmlinuz', 'bcm2711-rpi-4-b.dtb', 'start4.elf']) {
      if (!names.some((n) => n === f || n.startsWith(`${f}-`))) problems.push(`boot partition lacks ${f}`);
    }
  }
  let packages: string[] = [];
  const versions: Record<string, string> = {};
  if (root) {
    const offset = root.start * 512;
    const status = (await ext4Cat(img, offset, '/var/lib/dpkg/status')) ?? '';
    for (const stanza of status.split(/\n\n+/)) {
      if (!/^Status: install ok installed$/m.test(stanza)) continue;
      versions[stanza.match(/^Package: (\S+)/m)?.[1] ?? '?'] = stanza.match(/^Version: (\S+)/m)?.[1] ?? '?';
    }
    packages = Object.keys(versions).sort();
    if (!packages.length) problems.push('no installed package found in /var/lib/dpkg/status');
    for (const p of plan.packages) if (packages.length && !packages.includes(p)) problems.push(`package ${p} not installed`);
    const hostname = (await ext4Cat(img, offset, '/etc/hostname'))?.trim();
    if (hostname !== ctx.hostname) problems.push(`host name "${hostname}", expected "${ctx.hostname}"`);
    const fstab = (await ext4Cat(img, offset, '/etc/fstab')) ?? '';
    if (!fstab.includes(`LABEL=${plan.partitions[rootIdx].label}`)) problems.push('/etc/fstab does not mount the root by label');
    const changed = await ext4Cat(img, offset, `/${ctx.changedFile.rel}`);
    if (changed !== expect) problems.push(`overlay file /${ctx.changedFile.rel} ${changed === null ? 'missing' : 'differs from the overlay'}`);
  }
  const compressed = withSizes ? await compressedSize(img) : { bytes: null, ms: 0 };
  return { rawBytes: st.size, allocatedBytes: st.blocks * 512, compressedBytes: compressed.bytes, compressMs: compressed.ms, packages, versions, problems };
}

// ---------------------------------------------------------------- one builder

interface PhaseResult extends Measured {
  load: [number, number];
  /** clic-image only: steps that ran and steps reused from its cache */
  ran?: string[];
  skipped?: string[];
}

interface PeerResult {
  name: Peer['name'];
  notes: string[];
  cold?: PhaseResult;
  rebuild?: PhaseResult;
  image?: ImageFacts;
  rebuildProblems?: string[];
  error?: string;
  leftovers: string[];
}

let restoreChange: (() => void) | null = null;
let workDir = '';

async function measurePhase(peer: Peer, phase: 'cold' | 'rebuild', argv: string[], ctx: PeerContext): Promise<PhaseResult> {
  const events: Record<string, unknown>[] = [];
  const loadBefore = loadavg()[0];
  say(`  ${phase === 'cold' ? 'cold build' : 'rebuild'}: ${argv.map((a) => relative(ctx.dir, a).startsWith('..') ? a : relative(ctx.dir, a) || '.').join(' ').slice(0, 220)}`);
  const result = await runMeasured(argv, {
    cwd: ctx.dir,
    log: join(ctx.logDir, `${peer.name}-${phase}.log`),
    env: peer.env?.(ctx), // no TMPDIR: vmdb2 passes its environment into the image's chroot
    onLine: (line) => {
      if (peer.name === 'clic-image' && line.startsWith('{')) {
        try {
          events.push(JSON.parse(line));
        } catch {
          /* not an event */
        }
      }
    },
  });
  const out: PhaseResult = { ...result, load: [loadBefore, loadavg()[0]] };
  if (peer.name === 'clic-image') {
    out.ran = events.filter((e) => e.type === 'step:end').map((e) => `${e.step} ${fmtMs(e.ms as number)}`);
    out.skipped = events.filter((e) => e.type === 'step:skip').map((e) => String(e.step));
  }
  const status = result.code === 0 ? `done in ${fmtMs(result.ms)}` : `FAILED (exit ${result.code ?? result.signal}) after ${fmtMs(result.ms)}`;
  say(`    ${status}${result.peakBytes !== null ? `, peak ${fmtBytes(result.peakBytes)} (cgroup), ${fmtBytes(result.peakRssBytes ?? 0)} RSS` : ''}`);
  if (out.ran?.length) say(`    steps run: ${out.ran.join(', ')}`);
  if (out.skipped?.length) say(`    steps reused from the cache: ${out.skipped.join(', ')}`);
  return out;
}

async function runPeer(peer: Peer, base: Omit<PeerContext, 'dir'>): Promise<PeerResult> {
  const ctx: PeerContext = { ...base, dir: join(workDir, peer.name) };
  const result: PeerResult = { name: peer.name, notes: [], leftovers: [] };
  say(`\n▶ ${peer.name}`);
  try {
    mkdirSync(ctx.dir, { recursive: true });
    result.notes = peer.notes(ctx);
    await ensureTools(peer);
    peer.prepare(ctx);
    const target = peer.changeTarget(ctx);
    const original = readFileSync(target);
    const { atime, mtime } = statSync(target);

    result.cold = await measurePhase(peer, 'cold', peer.cold(ctx), ctx);
    result.leftovers.push(...(await cleanAfter(ctx, result.cold)));
    if (result.cold.code !== 0) throw new PhaseError('cold build', result.cold);
    say(`  inspecting ${peer.image(ctx)} (${compressor.label})`);
    result.image = await inspectImage(peer.image(ctx), ctx, original.toString('latin1'), true);
    if (result.image.problems.length) say(`    differences from the plan: ${result.image.problems.join('; ')}`);

    // one overlay file of the top layer changed, then the same build again
    const changed = Buffer.concat([original, Buffer.from(`\n# clic-image bench: rebuild marker ${new Date().toISOString()}\n`)]);
    for (const f of peer.beforeRebuild?.(ctx) ?? []) rmSync(f, { force: true });
    restoreChange = () => {
      writeFileSync(target, original); // same inode: mode and owner stay
      utimesSync(target, atime, mtime);
      restoreChange = null;
    };
    try {
      writeFileSync(target, changed);
      result.rebuild = await measurePhase(peer, 'rebuild', peer.rebuild(ctx), ctx);
    } finally {
      restoreChange?.();
    }
    result.leftovers.push(...(await cleanAfter(ctx, result.rebuild)));
    if (result.rebuild.code !== 0) throw new PhaseError('rebuild', result.rebuild);
    result.rebuildProblems = (await inspectImage(peer.image(ctx), ctx, changed.toString('latin1'), false)).problems;
    if (result.rebuildProblems.length) say(`    rebuilt image: ${result.rebuildProblems.join('; ')}`);
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    say(`  ✗ ${peer.name}: ${result.error}`);
    if (err instanceof PhaseError) say(err.phase.tail.slice(-25).map((l) => `    | ${l}`).join('\n'));
    say(`    full log: ${ctx.logDir}`);
    result.leftovers.push(...(await cleanLeftovers(workDir)));
  }
  if (result.leftovers.length) say(`  left behind (now removed): ${result.leftovers.join('; ')}`);
  if (!opts.keep) await removeTree(ctx.dir);
  return result;
}

class PhaseError extends Error {
  constructor(what: string, readonly phase: Measured) {
    super(`${what} failed (exit ${phase.code ?? phase.signal}); last lines of its output:`);
  }
}

async function cleanAfter(ctx: PeerContext, phase: Measured): Promise<string[]> {
  const stray = phase.strayProcesses.map((p) => `process ${p}`);
  return [...stray, ...(await cleanLeftovers(ctx.dir))];
}

/** rm -r that never follows into a mount left behind (they are unmounted first). */
async function removeTree(dir: string): Promise<void> {
  await cleanLeftovers(dir);
  const { mounts } = await leftoversUnder(dir);
  if (mounts.length) {
    say(`  not removing ${dir}: still mounted ${mounts.join(', ')}`);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- report

function report(results: PeerResult[], plan: BenchPlan, mirror: string | null): Record<string, unknown> {
  const cols = results.map((r) => r.name);
  const row = (label: string, cells: string[]) => say(`${label.padEnd(30)}${cells.map((c) => c.padEnd(22)).join('')}`);
  const cell = (r: PeerResult, f: (r: PeerResult) => string | null | undefined) => (r.error && !r.cold ? 'failed' : (f(r) ?? '—'));
  say('\n' + '='.repeat(30 + 22 * cols.length));
  say(`${plan.image} (board ${plan.board.name}, ${plan.board.arch}, Debian ${plan.suite}, ${plan.packages.length} packages), mirror ${mirror ?? 'default'}`);
  say(`host: ${cpuCount()} CPUs; 1-min load average shown per build (other builds on the host slow these figures)`);
  say('');
  row('', cols);
  row('cold build', results.map((r) => cell(r, (x) => x.cold && (x.cold.code === 0 ? fmtMs(x.cold.ms) : 'failed'))));
  row('rebuild, 1 overlay file', results.map((r) => cell(r, (x) => x.rebuild && (x.rebuild.code === 0 ? fmtMs(x.rebuild.ms) : 'failed'))));
  row('image raw', results.map((r) => cell(r, (x) => x.image && fmtBytes(x.image.rawBytes))));
  row('image allocated (sparse)', results.map((r) => cell(r, (x) => x.image && fmtBytes(x.image.allocatedBytes))));
  row(`image ${compressor.label}`, results.map((r) => cell(r, (x) => x.image?.compressedBytes != null ? fmtBytes(x.image.compressedBytes) : undefined)));
  row('peak memory, cgroup (cold)', results.map((r) => cell(r, (x) => x.cold?.peakBytes != null ? fmtBytes(x.cold.peakBytes) : 'n/a')));
  row('peak RSS+shm, sampled (cold)', results.map((r) => cell(r, (x) => x.cold?.peakRssBytes != null ? fmtBytes(x.cold.peakRssBytes) : 'n/a')));
  row('peak memory, cgroup (rebuild)', results.map((r) => cell(r, (x) => x.rebuild?.peakBytes != null ? fmtBytes(x.rebuild.peakBytes) : undefined)));
  row('installed packages', results.map((r) => cell(r, (x) => (x.image ? String(x.image.packages.length) : undefined))));
  row('load avg cold (start→end)', results.map((r) => cell(r, (x) => x.cold && `${x.cold.load[0].toFixed(1)}→${x.cold.load[1].toFixed(1)}`)));
  row('image checks', results.map((r) => cell(r, (x) => (x.image ? (x.image.problems.length ? `${x.image.problems.length} differences` : 'ok') : undefined))));
  row('rebuilt image has the change', results.map((r) => cell(r, (x) => (x.rebuildProblems ? (x.rebuildProblems.some((p) => p.startsWith('overlay file')) ? 'NO' : 'yes') : undefined))));

  const clic = results.find((r) => r.name === 'clic-image');
  const ratios: Record<string, Record<string, number | null>> = {};
  if (clic) {
    const ratio = (a: number | null | undefined, b: number | null | undefined) => (a != null && b != null && b > 0 ? a / b : null);
    for (const peer of results.filter((r) => r.name !== 'clic-image')) {
      const ok = (p: PeerResult, phase: 'cold' | 'rebuild') => (p[phase]?.code === 0 ? p[phase]!.ms : null);
      const r = {
        cold: ratio(ok(clic, 'cold'), ok(peer, 'cold')),
        rebuild: ratio(ok(clic, 'rebuild'), ok(peer, 'rebuild')),
        raw: ratio(clic.image?.rawBytes, peer.image?.rawBytes),
        allocated: ratio(clic.image?.allocatedBytes, peer.image?.allocatedBytes),
        compressed: ratio(clic.image?.compressedBytes, peer.image?.compressedBytes),
        peakMemory: ratio(clic.cold?.peakBytes, peer.cold?.peakBytes),
        peakRss: ratio(clic.cold?.peakRssBytes, peer.cold?.peakRssBytes),
      };
      ratios[peer.name] = r;
      const f = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(2)}×`);
      say(
        `\nclic-image / ${peer.name}: cold ${f(r.cold)}, rebuild ${f(r.rebuild)}, raw ${f(r.raw)}, allocated ${f(r.allocated)}, ` +
          `compressed ${f(r.compressed)}, peak memory ${f(r.peakMemory)} (cgroup) ${f(r.peakRss)} (RSS)   (below 1 = clic-image smaller/faster)`,
      );
      if (clic.image && peer.image) {
        const only = (a: string[], b: string[]) => a.filter((p) => !b.includes(p));
        const extra = only(peer.image.packages, clic.image.packages);
        const lacking = only(clic.image.packages, peer.image.packages);
        say(`  package set vs clic-image: ${extra.length || lacking.length ? `${peer.name} has +${extra.join(' +') || '(none)'}; lacks ${lacking.join(', ') || '(none)'}` : 'identical'}`);
        const other = clic.image.packages.filter((p) => peer.image!.versions[p] && peer.image!.versions[p] !== clic.image!.versions[p]);
        if (other.length) say(`  other versions: ${other.map((p) => `${p} ${clic.image!.versions[p]} vs ${peer.image!.versions[p]}`).join(', ')}`);
      }
    }
  }
  say('');
  for (const r of results) {
    say(`${r.name}:`);
    for (const n of r.notes) say(`  - ${n}`);
    if (r.image?.problems.length) say(`  - image differences: ${r.image.problems.join('; ')}`);
    if (r.image?.compressMs) say(`  - ${compressor.label} took ${fmtMs(r.image.compressMs)} (not counted in build times)`);
    if (r.error) say(`  - FAILED: ${r.error.split('\n')[0]}`);
  }
  return { image: plan.image, mirror, compressor: compressor.label, sizeMiB, results, ratios };
}

function cpuCount(): number {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------- main

async function interrupted(signal: NodeJS.Signals) {
  say(`\nbench: ${signal}: stopping the running build, putting the overlay file back, cleaning up`);
  await stopCurrent();
  restoreChange?.();
  if (workDir) {
    await cleanLeftovers(workDir);
    if (!opts.keep) await removeTree(workDir).catch(() => undefined);
  }
  process.exit(130);
}
process.on('SIGINT', () => void interrupted('SIGINT'));
process.on('SIGTERM', () => void interrupted('SIGTERM'));

const mirror = opts.mirror ?? hostMirror((await loadPlan(null)).suite);
// the peers' recipes make the boot and root partitions; clic-image adds its content partition
// (32 MiB, empty, last), which they leave out: compared on the partitions they share
const fullPlan = await loadPlan(mirror);
const plan: BenchPlan = { ...fullPlan, partitions: fullPlan.partitions.filter((p) => !p.content) };
const topLayer = [...plan.layers].reverse().find((l) => l.overlay);
if (!topLayer) fail(`${IMAGE} has no layer with an overlay folder`);
const listFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
const changedRel = relative(topLayer.overlay!, listFiles(topLayer.overlay!)[0]);
const hostname = plan.layers.map((l) => l.env?.CLIC_HOSTNAME).find(Boolean) ?? 'localhost';
if (plan.board.partitionTable !== 'dos' || plan.partitions.length !== 2) fail(`the peers' recipes are written for an MBR disk with two partitions; ${IMAGE}'s board has changed`);

mkdirSync(opts['work-dir']!, { recursive: true });
workDir = mkdtempSync(join(opts['work-dir']!, 'clic-bench-'));
const logDir = join(workDir, 'logs');
mkdirSync(logDir);
say(`benchmark of ${selected.join(', ')} on ${IMAGE}: ${plan.packages.length} packages, layers ${plan.layers.map((l) => l.name).join(', ')}`);
say(`mirror: ${mirror ?? "each builder's default"}; rebuild changes ${topLayer.name} overlay file ${changedRel}; work folder ${workDir}`);
if (!memoryCgroupRoot()) say('no usable memory cgroup (v1): peak memory will be n/a');

const results: PeerResult[] = [];
try {
  for (const name of selected) {
    results.push(await runPeer(PEERS[name], { plan, hostname, mirror, logDir, sizeMiB, changedFile: { layer: topLayer.name, rel: changedRel } }));
  }
} finally {
  (restoreChange as (() => void) | null)?.(); // set by runPeer while a file is changed
}
const data = report(results, plan, mirror);
if (opts.json) writeFileSync(opts.json, JSON.stringify(data, null, 2) + '\n');

const final = await leftoversUnder(workDir);
say(
  final.mounts.length || final.loops.length
    ? `\nSTILL LEFT: mounts ${final.mounts.join(', ') || 'none'}; loops ${final.loops.map((l) => l.name).join(', ') || 'none'}`
    : '\nno mount or loop device left behind under the work folder; every build ran in its own cgroup, emptied after it',
);
if (!opts.keep) {
  for (const name of selected) await removeTree(join(workDir, name));
  say(`logs kept in ${logDir}`);
} else say(`work folder kept: ${workDir}`);
process.exit(results.some((r) => r.error) ? 1 : 0);
