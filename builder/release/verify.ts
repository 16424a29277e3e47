/**
 * Checks a downloaded (or about to be published) set of build outputs: the signature of
 * SHA256SUMS with the given public key (gpg: `SHA256SUMS.asc`, checked with gpgv; minisign:
 * `SHA256SUMS.minisig`), the sha256 of every file SHA256SUMS lists, and each block map against
 * its image — the `.img` when it is there, else its `.img.xz` or `.img.zst`, decompressed on the
 * fly, which must also give the `.img`'s listed sha256. Every problem is reported, not just the
 * first.
 *
 * Options: publicKey (file: minisign public key or OpenPGP key, armoured or not), ignoreMissing
 * (files listed but absent are skipped: a partial download), onCheck (each result as it comes).
 *
 *   const report = await verifyRelease('downloads', { publicKey: 'clic.pub', ignoreMissing: true });
 *   report.ok; // false: "clic-rpi4.img.xz: sha256 differs from SHA256SUMS"
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { runCommand } from '../exec.ts';
import { sha256File } from '../steps/checksum.ts';
import { BmapError, checkAgainstBmap, parseBmap } from './bmap.ts';
import { parseSums, SIGNATURE_FILES, SUMS } from './sums.ts';

export type CheckStatus = 'ok' | 'failed' | 'skipped';

export interface Check {
  kind: 'sums' | 'signature' | 'sha256' | 'bmap';
  file: string;
  status: CheckStatus;
  detail: string;
}

export interface VerifyOptions {
  publicKey?: string;
  ignoreMissing?: boolean;
  signal?: AbortSignal;
  onCheck?: (check: Check) => void;
}

export interface VerifyReport {
  ok: boolean;
  checks: Check[];
}

const exists = (path: string) => access(path).then(() => true, () => false);

async function checkSignature(dir: string, publicKey: string, signal?: AbortSignal): Promise<Omit<Check, 'kind'>> {
  const keyText = await readFile(publicKey).catch(() => null);
  if (!keyText) return { file: publicKey, status: 'failed', detail: 'cannot read the public key file' };
  const minisign = /^untrusted comment: minisign public key|^RW[A-Za-z0-9+/=]{50,}\s*$/m.test(keyText.toString('latin1'));
  const signature = minisign ? SIGNATURE_FILES.minisign : SIGNATURE_FILES.gpg;
  if (!(await exists(join(dir, signature)))) return { file: signature, status: 'failed', detail: `missing: the ${minisign ? 'minisign' : 'OpenPGP'} key given needs ${signature}` };
  const sums = join(dir, SUMS);
  if (minisign) {
    const good = await runCommand(['minisign', '-V', '-q', '-p', publicKey, '-m', sums, '-x', join(dir, signature)], { signal }).then(() => true, () => false);
    return { file: signature, status: good ? 'ok' : 'failed', detail: good ? `good minisign signature of ${SUMS}` : `bad signature: ${SUMS} was not signed by this key, or was changed since` };
  }
  // gpgv only trusts the keyring it is given, which it wants unarmoured
  const home = await mkdtemp(join(tmpdir(), 'clic-verify-'));
  try {
    const keyring = join(home, 'key.gpg');
    await runCommand(['gpg', '--batch', '--homedir', home, '--yes', '--dearmor', '--output', keyring, publicKey], { signal }).catch(async () => {
      await runCommand(['cp', publicKey, keyring]);
    });
    const good = await runCommand(['gpgv', '--homedir', home, '--keyring', keyring, join(dir, signature), sums], { signal }).then(() => true, () => false);
    return { file: signature, status: good ? 'ok' : 'failed', detail: good ? `good OpenPGP signature of ${SUMS}` : `bad signature: ${SUMS} was not signed by this key, or was changed since` };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/** The decompressed bytes of a compressed image, from xz or zstd. */
function decompressed(file: string, signal?: AbortSignal): { stream: Readable; done: Promise<void> } {
  const argv = file.endsWith('.xz') ? ['xz', '-dc', '--', file] : ['zstd', '-dcq', '--', file];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], signal });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${argv[0]} -d: ${stderr.trim() || `exit ${code}`}`))));
  });
  return { stream: child.stdout, done };
}

/** The bmap check; when it streamed the .img itself, that file's sha256 too, which then needs
 *  no second read. */
async function checkBmap(dir: string, bmapFile: string, sums: Map<string, string>, opts: VerifyOptions): Promise<Omit<Check, 'kind'> & { imgSha256?: string }> {
  let bmap;
  try {
    bmap = parseBmap(await readFile(join(dir, bmapFile), 'utf8'), bmapFile);
  } catch (err) {
    return { file: bmapFile, status: 'failed', detail: err instanceof BmapError ? err.message : String(err) };
  }
  if (!bmap.selfChecksumOk) return { file: bmapFile, status: 'failed', detail: 'its BmapFileChecksum does not match its content' };
  const img = bmapFile.replace(/\.bmap$/, '');
  const candidates = [img, `${img}.xz`, `${img}.zst`];
  const found: string[] = [];
  for (const c of candidates) if (await exists(join(dir, c))) found.push(c);
  const source = found[0];
  if (!source) {
    const missing = { file: bmapFile, detail: `no image to check it against (${candidates.join(', ')})` };
    return { ...missing, status: opts.ignoreMissing ? 'skipped' : 'failed' };
  }
  const path = join(dir, source);
  const unpack = source === img ? null : decompressed(path, opts.signal);
  let result;
  try {
    result = await checkAgainstBmap(unpack ? unpack.stream : createReadStream(path, { signal: opts.signal }), bmap);
    await unpack?.done;
  } catch (err) {
    return { file: bmapFile, status: 'failed', detail: `${source}: ${(err as Error).message}` };
  }
  const problems: string[] = [];
  if (result.size !== bmap.imageSize) problems.push(`${source} holds ${result.size} bytes, the block map says ${bmap.imageSize}`);
  if (result.badRanges.length) problems.push(`${source}: ${result.badRanges.length} mapped range(s) differ: ${result.badRanges.slice(0, 5).join(', ')}${result.badRanges.length > 5 ? ', …' : ''}`);
  if (unpack && sums.has(img) && sums.get(img) !== result.sha256) problems.push(`${source} does not decompress to the ${img} listed in ${SUMS}`);
  const imgSha256 = unpack ? undefined : result.sha256;
  return problems.length
    ? { file: bmapFile, status: 'failed', detail: problems.join('; '), imgSha256 }
    : { file: bmapFile, status: 'ok', detail: `${bmap.ranges.length} mapped ranges match ${source}${unpack ? ` (decompressed, same sha256 as ${img})` : ''}`, imgSha256 };
}

export async function verifyRelease(dir: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const checks: Check[] = [];
  const record = (kind: Check['kind'], c: Omit<Check, 'kind'>) => {
    const check = { kind, ...c };
    checks.push(check);
    opts.onCheck?.(check);
  };
  const text = await readFile(join(dir, SUMS), 'utf8').catch(() => null);
  if (text === null) {
    record('sums', { file: SUMS, status: 'failed', detail: `missing in ${dir}: a build writes it beside the images` });
    return { ok: false, checks };
  }
  const { entries, badLines } = parseSums(text);
  if (badLines.length || !entries.length) {
    record('sums', { file: SUMS, status: 'failed', detail: badLines.length ? `line(s) ${badLines.join(', ')}: expected "<sha256>  <file name>"` : 'lists no file' });
  } else record('sums', { file: SUMS, status: 'ok', detail: `${entries.length} files listed` });
  if (opts.publicKey) record('signature', await checkSignature(dir, opts.publicKey, opts.signal));
  else {
    const present = [];
    for (const s of Object.values(SIGNATURE_FILES)) if (await exists(join(dir, s))) present.push(s);
    if (present.length) record('signature', { file: present.join(', '), status: 'skipped', detail: 'not checked: give the signer\'s public key (--key)' });
  }
  const sums = new Map(entries.map((e) => [e.file, e.sha256]));
  // the block maps first: checking one against its .img reads the whole image, and gives its sha256
  const bmapChecks: Omit<Check, 'kind'>[] = [];
  const known = new Map<string, string>();
  for (const { file } of entries.filter((e) => e.file.endsWith('.img.bmap'))) {
    if (!(await exists(join(dir, file)))) continue;
    const { imgSha256, ...check } = await checkBmap(dir, file, sums, opts);
    if (imgSha256) known.set(file.replace(/\.bmap$/, ''), imgSha256);
    bmapChecks.push(check);
  }
  for (const { file, sha256 } of entries) {
    const path = join(dir, file);
    if (!(await exists(path))) {
      record('sha256', { file, status: opts.ignoreMissing ? 'skipped' : 'failed', detail: `listed in ${SUMS} but missing` });
      continue;
    }
    const actual = known.get(file) ?? (await sha256File(path, opts.signal));
    record('sha256', actual === sha256 ? { file, status: 'ok', detail: 'sha256 matches' } : { file, status: 'failed', detail: `sha256 differs from ${SUMS} (${actual.slice(0, 16)}… instead of ${sha256.slice(0, 16)}…)` });
  }
  const hashed = checks.filter((c) => c.kind === 'sha256');
  if (hashed.length && hashed.every((c) => c.status === 'skipped')) {
    record('sha256', { file: SUMS, status: 'failed', detail: 'none of the files it lists is here' });
  }
  for (const check of bmapChecks) record('bmap', check);
  return { ok: checks.every((c) => c.status !== 'failed'), checks };
}
