/**
 * The release commands of the CLI: `verify <dir>` prints each check and exits 1 on a problem;
 * `release <dir>` prints the checks, then the files it wrote. Only the CLI uses it.
 *
 *   process.exitCode = await verifyCommand('downloads', { key: 'clic.pub', json: false });
 */
import { resolve } from 'node:path';
import type { Check } from './release/verify.ts';
import { verifyRelease } from './release/verify.ts';
import { prepareRelease } from './release/publish.ts';
import { parseSigningKey } from './release/sign.ts';

const MARK = { ok: '✓', failed: '✗', skipped: '·' } as const;

const printCheck = (json: boolean) => (c: Check) => {
  if (json) process.stdout.write(JSON.stringify({ type: 'check', ...c }) + '\n');
  else process.stderr.write(`${MARK[c.status]} ${c.kind.padEnd(9)} ${c.file}: ${c.detail}\n`);
};

export async function verifyCommand(dir: string, opts: { key?: string; ignoreMissing: boolean; json: boolean }): Promise<number> {
  const report = await verifyRelease(resolve(dir), { publicKey: opts.key && resolve(opts.key), ignoreMissing: opts.ignoreMissing, onCheck: printCheck(opts.json) });
  const failed = report.checks.filter((c) => c.status === 'failed').length;
  const unsigned = !opts.key;
  if (opts.json) process.stdout.write(JSON.stringify({ type: 'verify:end', ok: report.ok, failed }) + '\n');
  else {
    process.stderr.write(report.ok ? `${dir}: all checks passed${unsigned ? ' (signature not checked: no --key given)' : ''}\n` : `${dir}: ${failed} check${failed === 1 ? '' : 's'} failed\n`);
  }
  return report.ok ? 0 : 1;
}

export async function releaseCommand(dir: string, opts: { baseUrl?: string; sign?: string; json: boolean }): Promise<number> {
  const signingKey = opts.sign ? parseSigningKey(opts.sign) : null;
  const release = await prepareRelease(resolve(dir), { baseUrl: opts.baseUrl, signingKey, onCheck: opts.json ? printCheck(true) : undefined });
  if (opts.json) {
    process.stdout.write(JSON.stringify({ type: 'release:end', ...release }) + '\n');
    return 0;
  }
  for (const s of release.skipped) process.stderr.write(`note: not written: ${s}\n`);
  process.stdout.write([...release.files, 'SHA256SUMS', ...(release.signature ? [release.signature] : [])].map((f) => resolve(dir, f)).join('\n') + '\n');
  return 0;
}
