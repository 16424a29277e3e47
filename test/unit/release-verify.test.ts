/**
 * Signing SHA256SUMS (minisign and gpg, with throwaway keys) and `verify`, on a small set made
 * here with the real tools: a sparse 8 MiB image, its bmaptool block map, xz and zstd copies,
 * sha256sum's SHA256SUMS. verify must pass the set as made, and catch a flipped byte (in the
 * image, or in the compressed copy when the image was not downloaded), a missing file, a bad or
 * foreign signature.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync, closeSync, appendFileSync, existsSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSigningKey, signSums, SigningKeyError } from '../../builder/release/sign.ts';
import { verifyRelease, type VerifyReport } from '../../builder/release/verify.ts';
import { throwawayKeys } from '../support/apt-repo.ts';

const BLOCK = 4096;
const DATA_BLOCKS = [0, 1, 2, 300, 1500];
let base: string;
let keys: string;
const dirs: string[] = [];

const sh = (argv: string[], cwd?: string, input?: string) => execFileSync(argv[0], argv.slice(1), { cwd, input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();

function freshCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clic-verify-set-'));
  dirs.push(dir);
  cpSync(base, dir, { recursive: true });
  return dir;
}

function flipByte(file: string, offset: number) {
  const fd = openSync(file, 'r+');
  const byte = Buffer.alloc(1);
  byte[0] = readFileSync(file)[offset] ^ 0xff;
  writeSync(fd, byte, 0, 1, offset);
  closeSync(fd);
}

const failed = (r: VerifyReport) => r.checks.filter((c) => c.status === 'failed').map((c) => `${c.kind} ${c.file}: ${c.detail}`);

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'clic-verify-base-'));
  keys = mkdtempSync(join(tmpdir(), 'clic-verify-keys-'));
  dirs.push(base, keys);
  const img = join(base, 'demo.img');
  writeFileSync(img, '');
  execFileSync('truncate', ['--size', '8M', img]);
  const fd = openSync(img, 'r+');
  // random data in a few blocks, holes elsewhere: the block map lists only these
  for (const b of DATA_BLOCKS) writeSync(fd, Buffer.from(Array.from({ length: BLOCK }, (_, i) => (i * 31 + b * 7) & 0xff)), 0, BLOCK, b * BLOCK);
  closeSync(fd);
  sh(['bmaptool', 'create', '--output', join(base, 'demo.img.bmap'), img]);
  sh(['sh', '-c', 'xz -T0 -1 --keep --stdout demo.img > demo.img.xz && zstd -q -o demo.img.zst demo.img'], base);
  writeFileSync(join(base, 'demo.manifest.json'), '{"image":"demo"}\n');
  sh(['sh', '-c', 'sha256sum demo.img demo.img.bmap demo.img.xz demo.img.zst demo.manifest.json > SHA256SUMS'], base);
  for (const name of ['release', 'other']) sh(['minisign', '-G', '-W', '-f', '-p', join(keys, `${name}.pub`), '-s', join(keys, `${name}.key`)]);
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('verify', () => {
  it('passes the set as made: every listed file, and the block map against the image', async () => {
    const report = await verifyRelease(freshCopy());
    expect(failed(report)).toEqual([]);
    expect(report.checks.filter((c) => c.kind === 'sha256' && c.status === 'ok').map((c) => c.file).sort()).toEqual(['demo.img', 'demo.img.bmap', 'demo.img.xz', 'demo.img.zst', 'demo.manifest.json']);
    const bmap = report.checks.find((c) => c.kind === 'bmap')!;
    expect(bmap.status).toBe('ok');
    expect(bmap.detail).toMatch(/mapped ranges match demo\.img$/);
  });

  it('catches a flipped byte in the image: its sha256, and the block range it lies in', async () => {
    const dir = freshCopy();
    flipByte(join(dir, 'demo.img'), 300 * BLOCK + 17);
    const report = await verifyRelease(dir);
    expect(report.ok).toBe(false);
    expect(failed(report)).toEqual([
      expect.stringMatching(/^sha256 demo\.img: sha256 differs from SHA256SUMS/),
      expect.stringMatching(/^bmap demo\.img\.bmap: demo\.img: 1 mapped range\(s\) differ: block 300$/),
    ]);
  });

  it('without the .img, checks the block map against the decompressed .img.xz, which must give the listed .img', async () => {
    const dir = freshCopy();
    unlinkSync(join(dir, 'demo.img'));
    expect(failed(await verifyRelease(dir))).toEqual(['sha256 demo.img: listed in SHA256SUMS but missing']);
    const partial = await verifyRelease(dir, { ignoreMissing: true });
    expect(failed(partial)).toEqual([]);
    expect(partial.checks.find((c) => c.kind === 'bmap')!.detail).toMatch(/match demo\.img\.xz \(decompressed, same sha256 as demo\.img\)/);
  });

  it('catches a flipped byte in the .img.xz when the .img was not downloaded', async () => {
    const dir = freshCopy();
    unlinkSync(join(dir, 'demo.img'));
    const xz = join(dir, 'demo.img.xz');
    flipByte(xz, Math.floor(readFileSync(xz).length / 2));
    const problems = failed(await verifyRelease(dir, { ignoreMissing: true }));
    expect(problems[0]).toMatch(/^sha256 demo\.img\.xz: sha256 differs/);
    expect(problems[1]).toMatch(/^bmap demo\.img\.bmap: demo\.img\.xz: /);
  });

  it('fails on a missing SHA256SUMS, and on a set where none of the listed files is here', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'clic-verify-empty-'));
    dirs.push(empty);
    expect(failed(await verifyRelease(empty))).toEqual([expect.stringMatching(/^sums SHA256SUMS: missing in /)]);
    writeFileSync(join(empty, 'SHA256SUMS'), readFileSync(join(base, 'SHA256SUMS')));
    expect(failed(await verifyRelease(empty, { ignoreMissing: true }))).toContain('sha256 SHA256SUMS: none of the files it lists is here');
  });

  it('fails on a tampered block map (its own checksum)', async () => {
    const dir = freshCopy();
    const bmap = join(dir, 'demo.img.bmap');
    writeFileSync(bmap, readFileSync(bmap, 'utf8').replace('<BlockSize> 4096 </BlockSize>', '<BlockSize> 4096  </BlockSize>'));
    sh(['sh', '-c', 'sha256sum demo.img demo.img.bmap demo.img.xz demo.img.zst demo.manifest.json > SHA256SUMS'], dir);
    expect(failed(await verifyRelease(dir))).toEqual(['bmap demo.img.bmap: its BmapFileChecksum does not match its content']);
  });
});

describe('signing SHA256SUMS', () => {
  it('minisign: verify accepts the signer\'s public key, refuses another key and a changed SHA256SUMS', async () => {
    const dir = freshCopy();
    const signature = await signSums(dir, parseSigningKey(`minisign:${join(keys, 'release.key')}`));
    expect(signature).toBe(join(dir, 'SHA256SUMS.minisig'));
    expect(failed(await verifyRelease(dir, { publicKey: join(keys, 'release.pub') }))).toEqual([]);
    expect((await verifyRelease(dir, { publicKey: join(keys, 'release.pub') })).checks[1]).toMatchObject({ kind: 'signature', status: 'ok' });
    expect(failed(await verifyRelease(dir, { publicKey: join(keys, 'other.pub') }))).toEqual([expect.stringMatching(/^signature SHA256SUMS\.minisig: bad signature/)]);
    // without a key the signature is reported, not checked
    expect((await verifyRelease(dir)).checks.find((c) => c.kind === 'signature')).toMatchObject({ status: 'skipped' });
    appendFileSync(join(dir, 'SHA256SUMS'), `${'0'.repeat(64)}  extra.txt\n`);
    writeFileSync(join(dir, 'extra.txt'), '');
    const problems = failed(await verifyRelease(dir, { publicKey: join(keys, 'release.pub') }));
    expect(problems[0]).toMatch(/^signature SHA256SUMS\.minisig: bad signature/);
  });

  it('gpg: an armoured detached signature checked with gpgv; another key is refused; the minisign signature is removed', async () => {
    const dir = freshCopy();
    const { signing, other } = await throwawayKeys();
    const home = mkdtempSync(join(tmpdir(), 'clic-gh-'));
    dirs.push(home);
    sh(['gpg', '--homedir', home, '--batch', '--quiet', '--import'], undefined, signing.secretKey);
    writeFileSync(join(keys, 'signing.asc'), signing.publicKey);
    writeFileSync(join(keys, 'other.asc'), other.publicKey);
    await signSums(dir, parseSigningKey(`minisign:${join(keys, 'release.key')}`));
    const saved = process.env.GNUPGHOME;
    process.env.GNUPGHOME = home;
    try {
      await signSums(dir, parseSigningKey(`gpg:${signing.fingerprint}`));
    } finally {
      if (saved === undefined) delete process.env.GNUPGHOME;
      else process.env.GNUPGHOME = saved;
      execFileSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
    }
    expect(readFileSync(join(dir, 'SHA256SUMS.asc'), 'utf8')).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
    expect(existsSync(join(dir, 'SHA256SUMS.minisig'))).toBe(false);
    expect(failed(await verifyRelease(dir, { publicKey: join(keys, 'signing.asc') }))).toEqual([]);
    expect(failed(await verifyRelease(dir, { publicKey: join(keys, 'other.asc') }))).toEqual([expect.stringMatching(/^signature SHA256SUMS\.asc: bad signature/)]);
    // a minisign key for a gpg-signed set: the signature it needs is missing
    expect(failed(await verifyRelease(dir, { publicKey: join(keys, 'release.pub') }))).toEqual([expect.stringMatching(/^signature SHA256SUMS\.minisig: missing/)]);
  });

  it('takes a key\'s passphrase from CLIC_SIGNING_PASSPHRASE, and never shows it', async () => {
    const dir = freshCopy();
    const secret = 'correct horse battery staple';
    sh(['minisign', '-G', '-f', '-p', join(keys, 'locked.pub'), '-s', join(keys, 'locked.key')], undefined, `${secret}\n${secret}\n`);
    const key = parseSigningKey(`minisign:${join(keys, 'locked.key')}`);
    process.env.CLIC_SIGNING_PASSPHRASE = 'wrong passphrase';
    try {
      const err = await signSums(dir, key).then(() => null, (e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String(err?.message)).not.toContain('wrong passphrase');
      expect(existsSync(join(dir, 'SHA256SUMS.minisig'))).toBe(false);
      expect(existsSync(join(dir, 'SHA256SUMS.minisig.partial'))).toBe(false);
      process.env.CLIC_SIGNING_PASSPHRASE = secret;
      await signSums(dir, key);
    } finally {
      delete process.env.CLIC_SIGNING_PASSPHRASE;
    }
    expect(failed(await verifyRelease(dir, { publicKey: join(keys, 'locked.pub') }))).toEqual([]);
    // minisign derives the key from the passphrase with scrypt: seconds per use
  }, 60_000);

  it('refuses a key spec it does not know, and a missing key file, naming what is expected', async () => {
    expect(() => parseSigningKey('ssh:~/.ssh/id')).toThrow(new SigningKeyError('--sign "ssh:~/.ssh/id": expected gpg:<key id> or minisign:<secret key file>'));
    await expect(signSums(freshCopy(), parseSigningKey('minisign:/nonexistent/key'))).rejects.toThrow('--sign minisign:/nonexistent/key: no such secret key file');
  });
});
