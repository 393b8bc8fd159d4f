/**
 * The recorder's egress proxy (recorder-image/src/egress-proxy.ts) against real servers on 127.0.0.0/8:
 * plain http, CONNECT tunnels and websocket upgrades, refused destinations, and DNS rebinding with an
 * injected resolver whose answer changes from one lookup to the next.
 *
 * The "internet" is a server on 127.0.0.3 that the proxy reaches as 93.184.216.34 (its connect seam maps
 * only that address); the forbidden side is a server on 127.0.0.2 that must never see a connection.
 */
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAllowedHosts, type Resolver } from '../../functions/core/url-policy.ts';
import { EGRESS_HEADER, EgressProxy } from '../../recorder-image/src/egress-proxy.ts';

const PUBLIC_ADDRESS = '93.184.216.34';

interface Origin {
  server: Server;
  port: number;
  connections: number;
  requests: string[];
}

/** An http server that answers with its own name, accepts websocket upgrades, and counts connections. */
async function startOrigin(host: string, name: string, port = 0): Promise<Origin> {
  const origin: Origin = { server: createServer(), port: 0, connections: 0, requests: [] };
  origin.server.on('connection', () => origin.connections++);
  origin.server.on('request', (req: IncomingMessage, res) => {
    origin.requests.push(`${req.method} ${req.url} host=${req.headers.host}`);
    res.writeHead(200, { 'content-type': 'text/plain', [EGRESS_HEADER]: 'blocked' }).end(name);
  });
  origin.server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    origin.requests.push(`UPGRADE ${req.url}`);
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n${name}`);
  });
  await new Promise<void>((resolve, reject) => {
    origin.server.once('error', reject);
    origin.server.listen(port, host, () => resolve());
  });
  origin.port = (origin.server.address() as { port: number }).port;
  return origin;
}

/** Answers `rebind.test` with a public address and a forbidden one in turn, counting lookups. */
function rebindingResolver(answers: string[][]): Resolver & { lookups: number } {
  const resolver = async (host: string) => {
    if (host !== 'rebind.test') throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    const addresses = answers[resolver.lookups++ % answers.length]!;
    return addresses.map((address) => ({ address, family: 4 as const }));
  };
  resolver.lookups = 0;
  return resolver;
}

let internet: Origin;
let forbidden: Origin;
beforeAll(async () => {
  internet = await startOrigin('127.0.0.3', 'public page');
  // Same port on the forbidden address, so a connection to the rebound answer would land there.
  forbidden = await startOrigin('127.0.0.2', 'SECRET CREDENTIALS', internet.port);
});
afterAll(async () => {
  for (const o of [internet, forbidden]) {
    o?.server.closeAllConnections();
    o?.server.close();
  }
});

let proxy: EgressProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

async function startProxy(resolver: Resolver, allowed = ''): Promise<EgressProxy> {
  proxy = await EgressProxy.start({
    policy: { allowedHosts: parseAllowedHosts(allowed) },
    resolver,
    connect: (address, port) => connect({ host: address === PUBLIC_ADDRESS ? '127.0.0.3' : address, port }),
  });
  return proxy;
}

const proxyPort = (p: EgressProxy) => Number(new URL(p.url).port);

/** GET through the proxy in absolute form, as a browser sends plain http. */
async function proxiedGet(p: EgressProxy, url: string): Promise<{ status: number; body: string; egress?: string }> {
  const req = request({ host: '127.0.0.1', port: proxyPort(p), path: url, headers: { host: new URL(url).host }, agent: false });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  let body = '';
  for await (const chunk of res) body += chunk;
  return { status: res.statusCode!, body, egress: res.headers[EGRESS_HEADER] as string | undefined };
}

/** CONNECT host:port, then a GET inside the tunnel; the tunnel's status and the inner answer. */
async function tunnelGet(p: EgressProxy, target: string): Promise<{ status: number; inner?: string; egress?: string }> {
  const req = request({ host: '127.0.0.1', port: proxyPort(p), method: 'CONNECT', path: target, agent: false });
  req.end();
  const [res, socket] = (await once(req, 'connect')) as [IncomingMessage, Socket];
  if (res.statusCode !== 200) {
    socket.destroy();
    return { status: res.statusCode!, egress: res.headers[EGRESS_HEADER] as string | undefined };
  }
  socket.write(`GET /inside HTTP/1.1\r\nHost: ${target}\r\nConnection: close\r\n\r\n`);
  let inner = '';
  for await (const chunk of socket) inner += chunk;
  return { status: 200, inner };
}

/** A websocket handshake in absolute form (what a client that does not tunnel websockets sends). */
async function upgradeThrough(p: EgressProxy, url: string): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port: proxyPort(p) });
  socket.write(`GET ${url} HTTP/1.1\r\nHost: ${new URL(url).host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  let text = '';
  for await (const chunk of socket) text += chunk;
  return text;
}

describe('egress proxy', () => {
  it('forwards plain http to an allowed host and hands back its answer, without the proxy-only header', async () => {
    const p = await startProxy(rebindingResolver([[PUBLIC_ADDRESS]]));
    const res = await proxiedGet(p, `http://rebind.test:${internet.port}/room?x=1`);
    expect(res).toEqual({ status: 200, body: 'public page', egress: undefined });
    expect(internet.requests.at(-1)).toBe(`GET /room?x=1 host=rebind.test:${internet.port}`);
  });

  it('refuses a forbidden destination with 403 over plain http, CONNECT and upgrade, and remembers why', async () => {
    const before = forbidden.connections;
    const p = await startProxy(rebindingResolver([[PUBLIC_ADDRESS]]));
    const target = `127.0.0.2:${forbidden.port}`;
    expect(await proxiedGet(p, `http://${target}/latest/meta-data/`)).toMatchObject({ status: 403, egress: 'blocked' });
    expect(await tunnelGet(p, target)).toMatchObject({ status: 403, egress: 'blocked' });
    expect(await upgradeThrough(p, `ws://${target}/ws`)).toMatch(/^HTTP\/1\.1 403 Forbidden/);
    // Odd spellings of the same address are the same address.
    expect(await proxiedGet(p, `http://[::ffff:127.0.0.2]:${forbidden.port}/`)).toMatchObject({ status: 403 });
    expect(await tunnelGet(p, `[::ffff:7f00:2]:${forbidden.port}`)).toMatchObject({ status: 403 });
    expect(forbidden.connections).toBe(before);
    expect(p.failureFor(`https://${target}/x`)).toMatchObject({ kind: 'blocked', detail: expect.stringContaining('a loopback address') });
    expect(p.blocked.length).toBe(5);
  });

  it('passes a websocket upgrade to an allowed host', async () => {
    const p = await startProxy(rebindingResolver([[PUBLIC_ADDRESS]]));
    expect(await upgradeThrough(p, `ws://rebind.test:${internet.port}/socket`)).toMatch(/^HTTP\/1\.1 101 [\s\S]*public page$/);
    expect(internet.requests.at(-1)).toBe('UPGRADE /socket');
  });

  it('DNS rebinding: each connection is made to the address that was checked, never to a later answer', async () => {
    const before = forbidden.connections;
    const served = internet.requests.length;
    // Lookup 1 answers public, lookup 2 forbidden, 3 public, ... A proxy that looked the name up again to
    // connect would reach the forbidden server on every allowed request.
    const resolver = rebindingResolver([[PUBLIC_ADDRESS], ['127.0.0.2']]);
    const p = await startProxy(resolver);
    const results = [];
    for (let i = 0; i < 3; i++) {
      results.push((await proxiedGet(p, `http://rebind.test:${internet.port}/poll/${i}`)).status);
      results.push((await tunnelGet(p, `rebind.test:${internet.port}`)).status);
    }
    expect(forbidden.connections).toBe(before);
    // Each connection looked the name up once: the answers alternate, and so do the verdicts.
    expect(resolver.lookups).toBe(6);
    expect(results).toEqual([200, 403, 200, 403, 200, 403]);
    expect(internet.requests.length - served).toBe(3);
  });

  it('refuses a name if any address it resolves to is forbidden, whatever the order', async () => {
    const before = forbidden.connections;
    for (const answer of [[PUBLIC_ADDRESS, '127.0.0.2'], ['127.0.0.2', PUBLIC_ADDRESS], [PUBLIC_ADDRESS, '169.254.170.2']]) {
      const p = await startProxy(rebindingResolver([answer]));
      expect(await proxiedGet(p, `http://rebind.test:${internet.port}/`)).toMatchObject({ status: 403, egress: 'blocked' });
      await p.close();
      proxy = undefined;
    }
    expect(forbidden.connections).toBe(before);
  });

  it('opens an allowlisted host even on a forbidden address, and only on its port', async () => {
    const p = await startProxy(rebindingResolver([['127.0.0.2']]), `rebind.test:${forbidden.port}`);
    const before = forbidden.connections;
    expect(await proxiedGet(p, `http://rebind.test:${forbidden.port}/`)).toMatchObject({ status: 200, body: 'SECRET CREDENTIALS' });
    expect(forbidden.connections).toBe(before + 1);
    expect(await proxiedGet(p, `http://127.0.0.2:${forbidden.port}/`)).toMatchObject({ status: 403 });
    expect(await proxiedGet(p, `http://rebind.test:${forbidden.port + 1}/`)).toMatchObject({ status: 403 });
  });

  it('reports names that do not resolve and refused connections by kind', async () => {
    const p = await startProxy(rebindingResolver([['127.0.0.3']]), '127.0.0.3');
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.3', () => resolve()));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));

    expect(await proxiedGet(p, 'http://meeting.example.invalid/')).toMatchObject({ status: 502, egress: 'dns_failed' });
    expect(p.failureFor('http://meeting.example.invalid/')).toMatchObject({ kind: 'dns_failed' });
    expect(await tunnelGet(p, `127.0.0.3:${closedPort}`)).toMatchObject({ status: 502, egress: 'connection_refused' });
    expect(p.failureFor(`https://127.0.0.3:${closedPort}/`)).toMatchObject({ kind: 'connection_refused' });
    // A later success clears the failure.
    expect(await proxiedGet(p, `http://127.0.0.3:${internet.port}/`)).toMatchObject({ status: 200 });
    expect(p.failureFor(`http://127.0.0.3:${internet.port}/`)).toBeUndefined();
  });

  it('never connects to itself, even when loopback is allowlisted', async () => {
    const p = await startProxy(rebindingResolver([[PUBLIC_ADDRESS]]), '127.0.0.1');
    expect(await proxiedGet(p, `http://127.0.0.1:${proxyPort(p)}/`)).toMatchObject({ status: 403, egress: 'blocked' });
    expect(await tunnelGet(p, `127.0.0.1:${proxyPort(p)}`)).toMatchObject({ status: 403 });
  });

  it('answers 400 to requests that are not proxy requests', async () => {
    const p = await startProxy(rebindingResolver([[PUBLIC_ADDRESS]]));
    const res = await fetch(`${p.url}/not-absolute`);
    expect(res.status).toBe(400);
  });
});
