/**
 * A tiny HTTP server for the page the recorder records during a quality run: the sync media (sync-media.ts)
 * playing with sound, at its native pixel size, anchored at the top-left corner of a black viewport.
 *
 *   GET /       the page
 *   GET /media  the media file, with Range support (206), so the browser can stream and seek it
 *
 * The page exposes `window.__syncStatus()` (see SyncStatus) for diagnostics.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';

export interface SyncPageOptions {
  mediaPath: string;
  host?: '127.0.0.1';
}

export interface SyncPageServer {
  /** URL of the page. */
  url: string;
  close(): Promise<void>;
}

/** What `window.__syncStatus()` returns in the page. */
export interface SyncStatus {
  currentTime: number;
  /** Playing: not paused, not ended, with data for the current position. */
  playing: boolean;
  paused: boolean;
  ended: boolean;
  readyState: number;
  /** From HTMLVideoElement.getVideoPlaybackQuality(). */
  droppedVideoFrames: number;
  totalVideoFrames: number;
  /** The media element's error, if any. */
  error: string | null;
  /** Media events that signal trouble or progress, with performance.now() in ms and currentTime. */
  events: { type: string; atMs: number; currentTime: number }[];
}

const CONTENT_TYPES: Record<string, string> = { '.mp4': 'video/mp4', '.webm': 'video/webm', '.mkv': 'video/x-matroska' };

/** object-fit: none + object-position: left top: never rescaled, and the frame code (at the top) stays
 *  visible even if the viewport is smaller than the video. The media is linked in the markup, so the
 *  page's load event waits only for its first frame (local, a few ms). */
const PAGE = `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>A/V sync</title>
<style>
  html, body { margin: 0; padding: 0; width: 100%; height: 100%; overflow: hidden; background: #000; }
  video { position: fixed; left: 0; top: 0; width: 100vw; height: 100vh; object-fit: none; object-position: left top; background: #000; }
</style>
</head>
<body>
<video id="v" src="/media" autoplay playsinline preload="auto"></video>
<script>
  const v = document.getElementById('v');
  const events = [];
  for (const type of ['loadeddata', 'canplay', 'play', 'playing', 'waiting', 'stalled', 'pause', 'seeking', 'ended', 'error']) {
    v.addEventListener(type, () => events.push({ type, atMs: performance.now(), currentTime: v.currentTime }));
  }
  window.__syncStatus = () => {
    const q = v.getVideoPlaybackQuality();
    return {
      currentTime: v.currentTime,
      playing: !v.paused && !v.ended && v.readyState > 2,
      paused: v.paused,
      ended: v.ended,
      readyState: v.readyState,
      droppedVideoFrames: q.droppedVideoFrames,
      totalVideoFrames: q.totalVideoFrames,
      error: v.error ? v.error.code + ' ' + v.error.message : null,
      events: events.slice(),
    };
  };
</script>
</body>
</html>
`;

export function startSyncPageServer(opts: SyncPageOptions): Promise<SyncPageServer> {
  const size = statSync(opts.mediaPath).size;
  const contentType = CONTENT_TYPES[extname(opts.mediaPath).toLowerCase()] ?? 'application/octet-stream';
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/') return send(res, 200, 'text/html; charset=utf-8', PAGE, req.method === 'HEAD');
    if (path === '/media') return serveMedia(req, res, opts.mediaPath, size, contentType);
    send(res, 404, 'text/plain', 'not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.host ?? '127.0.0.1', () => {
      const { address, port } = server.address() as AddressInfo;
      resolve({
        url: `http://${address}:${port}/`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Media requests the browser keeps open would otherwise hold close() back.
            server.closeAllConnections();
          }),
      });
    });
  });
}

function send(res: ServerResponse, status: number, type: string, body: string, headOnly = false): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(headOnly ? undefined : body);
}

/** Serves the file whole (200) or one byte range of it (206); unsatisfiable ranges get 416. */
function serveMedia(req: IncomingMessage, res: ServerResponse, path: string, size: number, contentType: string): void {
  const headers: Record<string, string | number> = { 'Content-Type': contentType, 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-store' };
  const range = parseRange(req.headers.range, size);
  if (range === 'invalid') {
    res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` });
    return void res.end();
  }
  const [start, end] = range ?? [0, size - 1];
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  headers['Content-Length'] = end - start + 1;
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || size === 0) return void res.end();
  const stream = createReadStream(path, { start, end });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}

/**
 * Parses a single-range `Range` header ("bytes=a-b", "bytes=a-", "bytes=-n"). Returns null when there is no
 * usable Range header (serve everything, as RFC 9110 allows for multiple ranges too) and 'invalid' when it
 * cannot be satisfied.
 */
export function parseRange(header: string | undefined, size: number): [number, number] | null | 'invalid' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    // Suffix: the last n bytes.
    const n = Number(m[2]);
    if (n === 0) return 'invalid';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || end < start) return 'invalid';
  return [start, end];
}
