/**
 * The recorder's egress proxy: every HTTP(S) and WebSocket request the meeting page makes goes through it
 * (Chromium runs with --proxy-server pointing here, loopback included), so the SSRF policy of
 * functions/core/url-policy.ts holds for redirects, subresources, frames, fetches and websockets alike.
 *
 * For each connection it resolves the host itself, once, checks every address it got, and connects to
 * exactly an address it checked: a DNS answer that changes between check and use (rebinding) cannot
 * redirect it. A refused destination gets `403` and is logged. Failures (refused, unresolvable, blocked)
 * are remembered per host:port, so the browser source can tell why the meeting page did not load: through
 * a proxy Chromium itself only sees a failed tunnel.
 *
 * It listens on 127.0.0.1 only, and refuses to connect to itself.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as netConnect, isIP, type AddressInfo, type Socket } from 'node:net';
import { checkHost, classifyAddress, describeRefusal, normalizeHost, systemResolver, type Resolver, type UrlPolicy } from '#core/url-policy.ts';
import type { Logger } from './log.ts';

/** Set on every response the proxy makes up itself (and stripped from upstream responses), with the failure kind. */
export const EGRESS_HEADER = 'x-recorder-egress';

export type EgressFailureKind = 'blocked' | 'dns_failed' | 'connection_refused' | 'connect_timeout' | 'unreachable';

export interface EgressFailure {
  kind: EgressFailureKind;
  /** Normalized host and port of the destination. */
  host: string;
  port: number;
  /** What went wrong, for logs and error messages (names the address and why it is refused). */
  detail: string;
}

export interface EgressProxyOptions {
  policy: UrlPolicy;
  resolver?: Resolver;
  /** Opens a TCP connection to an address the proxy checked (a seam for tests; default net.connect). */
  connect?: (address: string, port: number) => Socket;
  log?: Logger;
  /** Per address tried. @default 10000 */
  connectTimeoutMs?: number;
}

const STATUS: Record<EgressFailureKind, [number, string]> = {
  blocked: [403, 'Forbidden'],
  dns_failed: [502, 'Bad Gateway'],
  connection_refused: [502, 'Bad Gateway'],
  unreachable: [502, 'Bad Gateway'],
  connect_timeout: [504, 'Gateway Timeout'],
};

/** Request headers that concern only one hop (RFC 9110 7.6.1), plus the proxy's own. */
const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', EGRESS_HEADER]);

type Opened = { socket: Socket; failure?: undefined } | { socket?: undefined; failure: EgressFailure };

export class EgressProxy {
  private readonly server: Server;
  private readonly options: EgressProxyOptions;
  private readonly resolver: Resolver;
  private readonly failures = new Map<string, EgressFailure>();
  private readonly upstreams = new Set<Socket>();
  private port = 0;
  /** Every refused destination, in order (capped), for logs and tests. */
  readonly blocked: EgressFailure[] = [];

  private constructor(options: EgressProxyOptions) {
    this.options = options;
    this.resolver = options.resolver ?? systemResolver;
    this.server = createServer();
    this.server.on('request', (req, res) => void this.forward(req, res));
    this.server.on('connect', (req, socket: Socket, head: Buffer) => void this.tunnel(req, socket, head));
    this.server.on('upgrade', (req, socket: Socket, head: Buffer) => void this.upgrade(req, socket, head));
    this.server.on('clientError', (_err, socket: Socket) => socket.destroy());
  }

  static async start(options: EgressProxyOptions): Promise<EgressProxy> {
    const proxy = new EgressProxy(options);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy.port = (proxy.server.address() as AddressInfo).port;
    return proxy;
  }

  /** `http://127.0.0.1:<port>`, for Chromium's --proxy-server. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Why the last connection to `url`'s host and port failed, if it did. */
  failureFor(url: string): EgressFailure | undefined {
    try {
      const parsed = new URL(url);
      const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'https:' || parsed.protocol === 'wss:' ? 443 : 80;
      return this.failures.get(`${normalizeHost(parsed.hostname)}:${port}`);
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    for (const socket of this.upstreams) socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Resolves, checks and connects; remembers the outcome for the host and port. */
  private async open(rawHost: string, port: number, what: string): Promise<Opened> {
    let host: string;
    try {
      host = normalizeHost(rawHost);
    } catch {
      return { failure: this.fail({ kind: 'dns_failed', host: rawHost, port, detail: `'${rawHost}' is not a valid host name` }, what) };
    }
    const key = `${host}:${port}`;
    let verdict;
    try {
      verdict = await checkHost(host, port, this.options.policy, this.resolver);
    } catch (err) {
      return { failure: this.fail({ kind: 'dns_failed', host, port, detail: `host '${host}' could not be resolved (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` }, what) };
    }
    if (!verdict.allowed) return { failure: this.fail({ kind: 'blocked', host, port, detail: describeRefusal('request', verdict) }, what) };
    let lastError: NodeJS.ErrnoException | undefined;
    for (const { address } of verdict.addresses) {
      if (port === this.port && /loopback|unspecified/.test(classifyAddress(address) ?? '')) {
        return { failure: this.fail({ kind: 'blocked', host, port, detail: `request to the egress proxy itself (${address}:${port})` }, what) };
      }
      try {
        const socket = await this.connectTo(address, port);
        this.failures.delete(key);
        return { socket };
      } catch (err) {
        lastError = err as NodeJS.ErrnoException;
      }
    }
    const code = lastError?.code ?? 'EUNKNOWN';
    const kind: EgressFailureKind = code === 'ECONNREFUSED' ? 'connection_refused' : code === 'ETIMEDOUT' ? 'connect_timeout' : 'unreachable';
    return { failure: this.fail({ kind, host, port, detail: `connection to ${host}:${port} failed (${code})` }, what) };
  }

  private fail(failure: EgressFailure, what: string): EgressFailure {
    this.failures.set(`${failure.host}:${failure.port}`, failure);
    if (failure.kind === 'blocked') {
      if (this.blocked.length < 1000) this.blocked.push(failure);
      this.options.log?.warn('egress blocked', { request: what.slice(0, 300), detail: failure.detail });
    }
    return failure;
  }

  /** Connects to exactly `address` (never a name). */
  private connectTo(address: string, port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = this.options.connect ? this.options.connect(address, port) : netConnect({ host: address, port, family: isIP(address) });
      const timeout = this.options.connectTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(Object.assign(new Error(`connect ETIMEDOUT ${address}:${port}`), { code: 'ETIMEDOUT' }));
      }, timeout);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        this.upstreams.add(socket);
        socket.once('close', () => this.upstreams.delete(socket));
        resolve(socket);
      });
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      socket.once('error', onError);
    });
  }

  /** CONNECT host:port: a tunnel for https and wss (and ws, which Chromium also tunnels). */
  private async tunnel(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    client.on('error', () => undefined);
    const target = /^(\[[0-9a-fA-F:.]+\]|[^:\s/[\]]+):(\d{1,5})$/.exec(req.url ?? '');
    const port = Number(target?.[2]);
    if (!target || port < 1 || port > 65535) return void client.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    const opened = await this.open(target[1]!, port, `CONNECT ${req.url}`);
    if (!opened.socket) return void client.end(failureHead(opened.failure));
    if (client.destroyed) return void opened.socket.destroy();
    splice(client, opened.socket);
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) opened.socket.write(head);
  }

  /** Plain http:// requests in absolute form, forwarded on a connection to the checked address. */
  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = absoluteHttpUrl(req.url);
    if (!target) return void res.writeHead(400, { 'content-type': 'text/plain', connection: 'close' }).end('This is an egress proxy: absolute http:// URLs only.\n');
    const opened = await this.open(target.hostname, Number(target.port || 80), `${req.method} ${target.href}`);
    if (!opened.socket) {
      req.resume();
      const [status, text] = STATUS[opened.failure.kind];
      res.writeHead(status, text, { 'content-type': 'text/plain', 'cache-control': 'no-store', [EGRESS_HEADER]: opened.failure.kind });
      return void res.end(failureBody(opened.failure));
    }
    const socket = opened.socket;
    const upstream = httpRequest({
      createConnection: () => socket,
      method: req.method,
      path: `${target.pathname}${target.search}`,
      headers: [...withoutHopByHop(req.rawHeaders), 'Connection', 'close'],
    });
    upstream.on('response', (up) => {
      res.writeHead(up.statusCode ?? 502, up.statusMessage, withoutHopByHop(up.rawHeaders));
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain', [EGRESS_HEADER]: 'unreachable' }).end('Upstream connection failed.\n');
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) socket.destroy();
    });
    req.pipe(upstream);
  }

  /** A ws:// handshake in absolute form (Chromium tunnels websockets, but any client may send these). */
  private async upgrade(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    client.on('error', () => undefined);
    const target = absoluteHttpUrl(req.url);
    if (!target) return void client.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    const opened = await this.open(target.hostname, Number(target.port || 80), `${req.method} ${target.href} (upgrade)`);
    if (!opened.socket) return void client.end(failureHead(opened.failure));
    if (client.destroyed) return void opened.socket.destroy();
    const lines = [`${req.method} ${target.pathname}${target.search} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      if (!/^proxy-/i.test(name) && name.toLowerCase() !== EGRESS_HEADER) lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
    }
    splice(client, opened.socket);
    opened.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) opened.socket.write(head);
  }
}

function absoluteHttpUrl(raw: string | undefined): URL | undefined {
  try {
    const url = new URL(raw ?? '');
    return url.protocol === 'http:' || url.protocol === 'ws:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function withoutHopByHop(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

/** The body never names the resolved address: the page (and the video) must not learn internal DNS answers. */
function failureBody(failure: EgressFailure): string {
  return failure.kind === 'blocked' ? "Blocked by the recorder's egress policy.\n" : `The recorder could not connect (${failure.kind}).\n`;
}

function failureHead(failure: EgressFailure): string {
  const [status, text] = STATUS[failure.kind];
  const body = failureBody(failure);
  return `HTTP/1.1 ${status} ${text}\r\n${EGRESS_HEADER}: ${failure.kind}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** Joins two sockets both ways; either end closing closes the other. */
function splice(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const end = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', end).on('close', end);
  b.on('error', end).on('close', end);
}
