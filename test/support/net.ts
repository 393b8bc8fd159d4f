import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A port on 127.0.0.1 that nothing listens on (connections to it are refused). It is taken below the
 * kernel's ephemeral range, so a server that listens on port 0 later in the test (the recorder's egress
 * proxy, an emulator) cannot be given it: once, the egress proxy got the port a test had just found free,
 * and the meeting URL pointed at the proxy itself (url_not_allowed instead of page_connection_refused).
 */
export async function closedPort(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (await isFree(port)) return port;
  }
  throw new Error(`no free port found between 10000 and ${low}`);
}

/** The lowest port the kernel hands out for port 0 (ip_local_port_range; 32768 by default). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return low > 11_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (listening) await new Promise((r) => server.close(r));
  return listening;
}
