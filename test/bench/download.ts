/**
 * Download benchmark (not a test): how fast builder/download fetches one large file from a plain
 * loopback HTTP server, next to curl writing the same file. Each is run 3 times, alternately, and
 * the medians compared; curl followed by sha256sum is shown too, since the downloader hashes as
 * it writes. Last, a second download() of the same file, which must come from the cache (~0 ms).
 *
 *   npx tsx test/bench/download.ts                  # a 512 MiB file
 *   npx tsx test/bench/download.ts --size-mib 256 --runs 3
 *
 * The file is random bytes, not a ZIM: the transfer does not care, and zimwriterfs would spend
 * minutes compressing incompressible padding. Everything lives in a temporary folder, removed at
 * the end (also on Ctrl-C).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { download } from '../../builder/download/index.ts';

const exec = promisify(execFile);
const MIB = 2 ** 20;

const { values } = parseArgs({ options: { 'size-mib': { type: 'string', default: '512' }, runs: { type: 'string', default: '3' } } });
const sizeMiB = Number(values['size-mib']);
const runs = Number(values.runs);
if (!(sizeMiB > 0) || !(runs > 0)) throw new Error('usage: download.ts [--size-mib N] [--runs N]');

const dir = await mkdtemp(join(tmpdir(), 'clic-bench-download-'));
const cleanup = () => rm(dir, { recursive: true, force: true });
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));


async function makeFile(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  for (let left = bytes; left > 0; left -= 4 * MIB) {
    const chunk = randomBytes(Math.min(4 * MIB, left));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
  return hash.digest('hex');
}

const SERVER = `
  const { createServer } = require('node:http');
  const { createReadStream, statSync } = require('node:fs');
  const file = process.argv[1];
  const size = statSync(file).size;
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
    createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port)));
`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (ms: number) => (sizeMiB / (ms / 1000)).toFixed(0).padStart(6);

async function time(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

let server: ChildProcess | undefined;
try {
  const source = join(dir, 'source.bin');
  const bytes = sizeMiB * MIB;
  process.stdout.write(`making a ${sizeMiB} MiB file… `);
  const sha256 = await makeFile(source, bytes);
  process.stdout.write('done\n');

  // a plain static server, in a process of its own as a real server would be (in this one, it
  // would take the downloader's CPU and not curl's)
  server = spawn(process.execPath, ['-e', SERVER, source], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [port] = (await once(server.stdout!, 'data')) as [Buffer];
  const url = `http://127.0.0.1:${Number(port)}/source.bin`;

  const times = { curl: [] as number[], curlSha: [] as number[], downloader: [] as number[] };
  let cached = NaN;
  for (let i = 0; i < runs; i++) {
    const out = join(dir, 'curl.bin');
    times.curl.push(await time(() => exec('curl', ['-s', '-f', '-o', out, url])));
    if ((await stat(out)).size !== bytes) throw new Error('curl wrote a short file');
    times.curlSha.push(times.curl.at(-1)! + (await time(() => exec('sha256sum', [out]))));
    await rm(out);

    const cacheDir = join(dir, `cache-${i}`);
    times.downloader.push(await time(() => download({ name: 'source.bin', urls: [url], sha256, size: bytes }, { cacheDir })));
    if (i === runs - 1) cached = await time(() => download({ name: 'source.bin', urls: [url], sha256, size: bytes }, { cacheDir }));
    await rm(cacheDir, { recursive: true, force: true });
  }

  console.log(`\n${sizeMiB} MiB over loopback, ${runs} runs each (MiB/s; median first)`);
  const row = (name: string, ms: number[]) => console.log(`  ${name.padEnd(18)} ${rate(median(ms))}   [${ms.map(rate).map((s) => s.trim()).join(', ')}]`);
  row('curl', times.curl);
  row('curl + sha256sum', times.curlSha);
  row('download()', times.downloader);
  console.log(`  download() / curl            ${(median(times.curl) / median(times.downloader)).toFixed(2)} (speed ratio)`);
  console.log(`  download() / curl+sha256sum  ${(median(times.curlSha) / median(times.downloader)).toFixed(2)}`);
  console.log(`  second download() (cached)   ${cached.toFixed(1)} ms`);
} finally {
  server?.kill();
  await cleanup();
}
