/**
 * A raw HTTP/1.1 client for tests that send what a well-behaved client would not: any path bytes Node lets
 * through (Latin-1 included, unencoded), any header values, any body bytes, with or without a content
 * length. Every request has a deadline: a server that does not answer in time is a failure, not a hang.
 */
import { Agent, request } from 'node:http';

export interface RawRequest {
  method: string;
  /** Sent as is (Node refuses only spaces, control characters and code points above U+00FF). */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer;
  /** Chunked transfer encoding instead of a Content-Length. */
  chunked?: boolean;
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body as JSON, or undefined when it is empty or not JSON. */
  json: unknown;
  ms: number;
}

export class HangError extends Error {}

export class RawHttpClient {
  private readonly host: string;
  private readonly port: number;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });
  private readonly timeoutMs: number;

  constructor(baseUrl: string, timeoutMs = 10_000) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.timeoutMs = timeoutMs;
  }

  send(req: RawRequest): Promise<RawAnswer> {
    const started = Date.now();
    return new Promise<RawAnswer>((resolve, reject) => {
      const headers: Record<string, string | string[]> = { ...req.headers };
      // Explicit framing: for GET, DELETE... Node's client would otherwise send a body with neither a length nor chunks.
      if (req.body) {
        if (req.chunked) headers['transfer-encoding'] = 'chunked';
        else headers['content-length'] = String(req.body.length);
      }
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const r = request({ host: this.host, port: this.port, method: req.method, path: req.path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => finish(() => reject(err)));
        res.on('end', () =>
          finish(() => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, ms: Date.now() - started });
          }),
        );
      });
      const timer = setTimeout(() => {
        finish(() => reject(new HangError(`no answer within ${this.timeoutMs} ms`)));
        r.destroy();
      }, this.timeoutMs);
      r.on('error', (err) => finish(() => reject(err)));
      if (req.body) r.write(req.body);
      r.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
