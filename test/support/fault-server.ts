/**
 * A loopback HTTP server for download tests: serves files (or buffers) by path with Range,
 * If-Range, ETag and Last-Modified, and injects faults per path: cut the connection after N bytes
 * (once), answer HTTP 500 k times, stall after N bytes (once), throttle to B bytes/s, serve wrong
 * bytes, answer 404. It records every request and the most responses in flight at once.
 *
 * Faults: { cutAfter?, fail?: { status?, times, retryAfter? }, stallAfter?, bytesPerSecond?, wrongContent?, notFound? }.
 *
 *   const server = await startFaultServer();
 *   server.serve('/a/test.zim', zim.file, { cutAfter: 100_000 });
 *   await download({ name: 'test.zim', urls: [server.url('/a/test.zim')] }, …);
 *   server.requests; // [{ path: '/a/test.zim', range: undefined, status: 200, bytes: 100000 }, …]
 *   await server.close();
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { stat, open, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Faults {
  /** Destroys the socket after this many body bytes, on the first response only. */
  cutAfter?: number;
  /** Answers `status` (default 500) to the first `times` requests. */
  fail?: { status?: number; times: number; retryAfter?: string };
  /** Sends this many body bytes then nothing (connection left open), on the first response only. */
  stallAfter?: number;
  bytesPerSecond?: number;
  /** Serves other bytes of the same length (each byte inverted). */
  wrongContent?: boolean;
  notFound?: boolean;
}

export interface RequestRecord {
  path: string;
  range?: string;
  ifRange?: string;
  status: number;
  /** Body bytes written. */
  bytes: number;
}

interface Route {
  body: string | Buffer;
  size: number;
  etag: string;
  lastModified: string;
  faults: Faults;
  /** Requests answered, and bodies sent: `once` faults apply to the first body. */
  served: number;
  bodies: number;
}

export interface FaultServer {
  url(path: string): string;
  serve(path: string, body: string | Buffer, faults?: Faults): Promise<void>;
  requests: RequestRecord[];
  maxInFlight: number;
  inFlight: number;
  reset(): void;
  close(): Promise<void>;
}

const CHUNK = 16 * 1024;

async function readChunk(route: Route, fh: FileHandle | null, pos: number, n: number): Promise<Buffer> {
  if (Buffer.isBuffer(route.body)) return Buffer.from(route.body.subarray(pos, pos + n));
  const buf = Buffer.alloc(n);
  const { bytesRead } = await fh!.read(buf, 0, n, pos);
  return buf.subarray(0, bytesRead);
}

export async function startFaultServer(): Promise<FaultServer> {
  const routes = new Map<string, Route>();
  // pending pauses of throttled responses, ended at once by close()
  const pauses = new Map<NodeJS.Timeout, () => void>();
  const pause = (ms: number) => new Promise<void>((done) => {
    const t = setTimeout(() => { pauses.delete(t); done(); }, ms);
    pauses.set(t, done);
  });
  const drained = (res: ServerResponse) => new Promise<void>((done) => {
    const end = () => {
      res.off('drain', end);
      res.off('close', end);
      done();
    };
    res.on('drain', end);
    res.on('close', end);
  });

  async function send(route: Route, res: ServerResponse, record: RequestRecord, start: number, end: number, first: boolean, finish: () => void) {
    const f = route.faults;
    const fh = Buffer.isBuffer(route.body) ? null : await open(route.body);
    try {
      for (let pos = start; pos <= end && !res.destroyed;) {
        let n = Math.min(f.bytesPerSecond ? Math.max(1, Math.floor(f.bytesPerSecond / 20)) : CHUNK, end + 1 - pos);
        if (first && f.cutAfter !== undefined) n = Math.min(n, f.cutAfter - record.bytes);
        if (first && f.stallAfter !== undefined) n = Math.min(n, f.stallAfter - record.bytes);
        if (n <= 0) {
          // cut: the socket goes without a proper end; stall: it stays open, silent, until closed
          if (first && f.cutAfter !== undefined) res.socket?.destroy();
          return;
        }
        const chunk = await readChunk(route, fh, pos, n);
        if (f.wrongContent) for (let i = 0; i < chunk.length; i++) chunk[i] ^= 0xff;
        if (!chunk.length) break;
        pos += chunk.length;
        record.bytes += chunk.length;
        if (pos > end) {
          // the last bytes and the end in one go, no longer counted in flight from then: the
          // client may have read them all before the server sees 'finish'
          finish();
          return void res.end(chunk);
        }
        if (!res.write(chunk)) await drained(res);
        if (f.bytesPerSecond) await pause(50);
      }
      finish();
      res.end();
    } finally {
      await fh?.close();
    }
  }

  function handle(req: IncomingMessage, res: ServerResponse, server: FaultServer) {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const record: RequestRecord = { path, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined, status: 0, bytes: 0 };
    server.requests.push(record);
    server.inFlight++;
    server.maxInFlight = Math.max(server.maxInFlight, server.inFlight);
    let done = false;
    const finish = () => { if (!done) { done = true; server.inFlight--; } };
    res.on('finish', finish);
    res.on('close', finish);
    const answer = (status: number, headers: Record<string, string | number> = {}) => {
      record.status = status;
      res.writeHead(status, headers);
    };
    const route = routes.get(path);
    if (!route || route.faults.notFound) return answer(404), res.end('not found\n');
    if (route.faults.fail && ++route.served <= route.faults.fail.times) {
      answer(route.faults.fail.status ?? 500, route.faults.fail.retryAfter ? { 'retry-after': route.faults.fail.retryAfter } : {});
      return res.end('injected failure\n');
    }
    const validators = { etag: route.etag, 'last-modified': route.lastModified, 'accept-ranges': 'bytes' };
    let start = 0;
    let end = route.size - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    const rangeValid = range && (!ifRange || ifRange === route.etag || ifRange === route.lastModified);
    if (range && rangeValid) {
      start = Number(range[1]);
      if (range[2]) end = Math.min(end, Number(range[2]));
      if (start >= route.size) return answer(416, { 'content-range': `bytes */${route.size}` }), res.end();
      answer(206, { ...validators, 'content-length': end + 1 - start, 'content-range': `bytes ${start}-${end}/${route.size}` });
    } else {
      answer(200, { ...validators, 'content-length': route.size });
    }
    if (req.method === 'HEAD') return res.end();
    const first = route.bodies++ === 0;
    send(route, res, record, start, end, first, finish).catch(() => res.destroy());
  }

  const http = createServer((req, res) => handle(req, res, api));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;

  const api: FaultServer = {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    async serve(path, body, faults = {}) {
      const size = Buffer.isBuffer(body) ? body.length : (await stat(body)).size;
      const etag = `"${createHash('sha256').update(Buffer.isBuffer(body) ? body : `${body}:${size}`).digest('hex').slice(0, 16)}"`;
      routes.set(path, { body, size, etag, lastModified: new Date(Date.UTC(2026, 0, 1)).toUTCString(), faults, served: 0, bodies: 0 });
    },
    requests: [],
    maxInFlight: 0,
    inFlight: 0,
    reset() {
      this.requests.length = 0;
      this.maxInFlight = this.inFlight;
    },
    async close() {
      http.closeAllConnections();
      for (const [t, done] of pauses) {
        clearTimeout(t);
        done();
      }
      pauses.clear();
      await new Promise<void>((done) => http.close(() => done()));
    },
  };
  return api;
}
