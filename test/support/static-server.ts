/**
 * A static HTTP server on the loopback for tests: serves the files under a folder, as they are
 * at request time (files written after it started are served too). GET and HEAD, with
 * Content-Length; a folder or a missing file is a 404 (no listing), a path that climbs out of
 * the folder (`..`, encoded or not) a 403. That is all apt needs of a repository and all git
 * needs of a bare repository over its "dumb" HTTP protocol (after `git update-server-info`).
 * test/support/fault-server.ts serves registered paths (with faults) and kiwix-catalog.ts a
 * kiwix; neither serves a folder, hence this one.
 *
 *   const server = await serveDir(www);
 *   server.url;        // http://127.0.0.1:PORT (no trailing slash): www/apt/… is at `${server.url}/apt/…`
 *   server.requests;   // [{ method: 'GET', path: '/apt/dists/bookworm/InRelease', status: 200 }, …]
 *   await server.close();
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, relative, isAbsolute } from 'node:path';

export interface ServedRequest {
  method: string;
  /** Path and query, as requested. */
  path: string;
  status: number;
}

export interface StaticServer {
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  url: string;
  /** Every request answered, in order. */
  requests: ServedRequest[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.asc': 'application/pgp-keys',
  '.gz': 'application/gzip',
  '.deb': 'application/vnd.debian.binary-package',
  '.toml': 'text/plain; charset=utf-8',
};

/** Whether `child` is `parent` or inside it. */
const within = (parent: string, child: string) => {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

export async function serveDir(dir: string): Promise<StaticServer> {
  const root = await realpath(dir);
  const requests: ServedRequest[] = [];

  const server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const answer = (status: number, body: string, headers: Record<string, string | number> = {}) => {
      requests.push({ method, path, status });
      const bytes = Buffer.from(body);
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': bytes.length, ...headers });
      res.end(method === 'HEAD' ? undefined : bytes);
    };
    if (method !== 'GET' && method !== 'HEAD') return answer(405, 'method not allowed\n', { allow: 'GET, HEAD' });
    void serveFile(method, path, answer, res);
  });

  async function serveFile(method: string, path: string, answer: (status: number, body: string, headers?: Record<string, string | number>) => void, res: ServerResponse) {
    let segments: string[];
    try {
      // the raw path, not new URL(): that would resolve '..' itself, and hide the attempt
      segments = path.split('?')[0].split('/').map((s) => decodeURIComponent(s));
    } catch {
      return answer(400, 'bad request\n');
    }
    if (segments.some((s) => s === '..' || s.includes('/') || s.includes('\\') || s.includes('\0'))) return answer(403, 'forbidden\n');
    const file = join(root, ...segments);
    let real: string;
    try {
      real = await realpath(file);
    } catch {
      return answer(404, 'not found\n');
    }
    // a symbolic link that leads out of the folder is refused too
    if (!within(root, real)) return answer(403, 'forbidden\n');
    const st = await stat(real).catch(() => null);
    if (!st || !st.isFile()) return answer(404, 'not found\n');
    requests.push({ method, path, status: 200 });
    res.writeHead(200, {
      'content-type': TYPES[extname(real)] ?? 'application/octet-stream',
      'content-length': st.size,
      'last-modified': st.mtime.toUTCString(),
    });
    if (method === 'HEAD' || st.size === 0) {
      res.end();
      return;
    }
    const stream = createReadStream(real);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  let closed = false;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
