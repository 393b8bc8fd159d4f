/** Small real servers on 127.0.0.1 that play the part of meeting pages, good and bad. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

async function listen(server: Server, scheme: 'http' | 'https'): Promise<TestServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function startHttpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  return listen(createServer(handler), 'http');
}

/** An HTTPS server whose certificate is self-signed, so a browser refuses it (a TLS error). */
export function startSelfSignedHttpsServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mr-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, handler);
    return listen(server as unknown as Server, 'https');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A page that plays a tone and animates, so a recording of it has sound and changing pictures. */
export const LIVELY_PAGE = `<!doctype html><html><body style="margin:0;background:#123">
<div id="t" style="font:bold 120px sans-serif;color:#fff;padding:40px">0</div>
<script>
let n = 0; setInterval(() => { document.getElementById('t').textContent = String(++n); }, 100);
try { const ctx = new AudioContext(); const o = ctx.createOscillator(); o.frequency.value = 440; o.connect(ctx.destination); o.start(); } catch {}
</script></body></html>`;
