/**
 * Signs an output folder's SHA256SUMS with a detached signature, so one signature covers every
 * image, block map and manifest listed in it: `SHA256SUMS.asc` (gpg, ASCII-armoured) or
 * `SHA256SUMS.minisig` (minisign). The key is named, never read by this code: gpg takes it from
 * its keyring ($GNUPGHOME), minisign from the secret key file. A passphrase, when the key has
 * one, comes from $CLIC_SIGNING_PASSPHRASE and goes to the signer's stdin: it is never on a
 * command line, printed, or written to the outputs.
 *
 * Key specs: `gpg:<key id or fingerprint>`, `minisign:<secret key file>`.
 *
 *   await signSums('out', parseSigningKey('minisign:/run/secrets/clic.key'));
 *   // → out/SHA256SUMS.minisig
 */
import { access, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runCommand } from '../exec.ts';
import { SIGNATURE_FILES, SUMS } from './sums.ts';

export type SigningKey = { tool: 'gpg'; keyId: string } | { tool: 'minisign'; secretKeyFile: string };


export class SigningKeyError extends Error {}

export function parseSigningKey(spec: string): SigningKey {
  const m = /^(gpg|minisign):(.+)$/.exec(spec);
  if (!m) throw new SigningKeyError(`--sign "${spec}": expected gpg:<key id> or minisign:<secret key file>`);
  return m[1] === 'gpg' ? { tool: 'gpg', keyId: m[2] } : { tool: 'minisign', secretKeyFile: resolve(m[2]) };
}

function signArgv(key: SigningKey, sums: string, signature: string, withPassphrase: boolean): string[] {
  if (key.tool === 'minisign') return ['minisign', '-S', '-s', key.secretKeyFile, '-m', sums, '-x', signature];
  return [
    'gpg', '--batch', '--yes', '--no-tty', '--local-user', key.keyId, '--armor', '--detach-sign', '--digest-algo', 'SHA512',
    ...(withPassphrase ? ['--pinentry-mode', 'loopback', '--passphrase-fd', '0'] : []),
    '--output', signature, sums,
  ];
}

/** Writes the detached signature of `<dir>/SHA256SUMS`; removes a signature made by the other
 *  tool, which would no longer match. Returns the signature's path. */
export async function signSums(dir: string, key: SigningKey, opts: { signal?: AbortSignal } = {}): Promise<string> {
  const sums = join(dir, SUMS);
  await access(sums).catch(() => {
    throw new SigningKeyError(`${sums}: nothing to sign (a build writes SHA256SUMS in its output folder)`);
  });
  if (key.tool === 'minisign') {
    await access(key.secretKeyFile).catch(() => {
      throw new SigningKeyError(`--sign minisign:${key.secretKeyFile}: no such secret key file`);
    });
  }
  const signature = join(dir, SIGNATURE_FILES[key.tool]);
  const partial = `${signature}.partial`;
  const passphrase = process.env.CLIC_SIGNING_PASSPHRASE;
  try {
    await runCommand(signArgv(key, sums, partial, passphrase !== undefined), {
      signal: opts.signal,
      input: passphrase !== undefined ? `${passphrase}\n` : '',
      env: { CLIC_SIGNING_PASSPHRASE: undefined },
    });
    await rename(partial, signature);
  } finally {
    await rm(partial, { force: true });
  }
  for (const other of Object.values(SIGNATURE_FILES)) if (join(dir, other) !== signature) await rm(join(dir, other), { force: true });
  return signature;
}
