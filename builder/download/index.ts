/**
 * The content downloader, a library for any layer: verified, resumable, parallel downloads into
 * a cache shared by builds (files named by their sha256). See downloader.ts for the behaviour and
 * options, cache.ts for the cache's layout and locking.
 *
 *   await checkDiskSpace(requests, cacheDir);
 *   const files = await downloadAll(requests, { cacheDir, signal, onEvent });
 */
export { download, downloadAll } from './downloader.ts';
export { cachedPath, checkDiskSpace } from './cache.ts';
export {
  DownloadError, formatBytes,
  type DownloadErrorKind, type DownloadEvent, type DownloadOptions, type DownloadRequest, type DownloadResult, type UrlFailure,
} from './types.ts';
