/**
 * Sends one webhook attempt over HTTP(S). The destination is checked against the SSRF policy at connect
 * time: the host is resolved once, every address judged, and the socket connects only to a checked address
 * (a name that rebinds to a private address after the API accepted it is refused here).
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { checkHost, describeRefusal, urlPort, type UrlPolicy } from '../url-policy.ts';
import { isRetryableStatus, parseRetryAfter, type AttemptResult } from './retry-policy.ts';

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export type WebhookSender = (request: WebhookRequest, timeoutMs: number) => Promise<AttemptResult>;

class DestinationRefusedError extends Error {}

function policyLookup(policy: UrlPolicy, port: number): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    checkHost(hostname, port, policy).then(
      (verdict) => {
        if (!verdict.allowed) return callback(new DestinationRefusedError(describeRefusal('webhook url', verdict)));
        if (options?.all) return callback(null, verdict.addresses);
        const first = verdict.addresses[0]!;
        callback(null, first.address, first.family);
      },
      (err) => callback(err),
    );
  }) as LookupFunction;
}

export function httpWebhookSender(policy: UrlPolicy, nowMs: () => number = Date.now): WebhookSender {
  return (request, timeoutMs) =>
    new Promise<AttemptResult>((resolve) => {
      const started = nowMs();
      const url = new URL(request.url);
      const transport = url.protocol === 'https:' ? https : http;
      let settled = false;
      const finish = (result: AttemptResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const req = transport.request(
        url,
        {
          method: 'POST',
          headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
          lookup: policyLookup(policy, urlPort(url)),
          agent: false,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          // The answer's body is not needed; read a little (for the error text) and let the socket go.
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (text.length < 200) text += chunk;
          });
          res.on('end', () => {
            const latencyMs = nowMs() - started;
            if (status >= 200 && status < 300) return finish({ ok: true, httpStatus: status, latencyMs });
            const retryAfter = res.headers['retry-after'];
            finish({
              ok: false,
              httpStatus: status,
              latencyMs,
              error: `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`,
              retryable: isRetryableStatus(status),
              retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, Date.now()),
            });
          });
          res.on('error', (err) => finish({ ok: false, httpStatus: status, latencyMs: nowMs() - started, error: String(err.message), retryable: true }));
        },
      );
      const timer = setTimeout(() => {
        req.destroy();
        finish({ ok: false, latencyMs: nowMs() - started, error: `timed out after ${timeoutMs} ms`, retryable: true });
      }, timeoutMs);
      req.on('error', (err) => {
        const refused = err instanceof DestinationRefusedError;
        finish({
          ok: false,
          latencyMs: nowMs() - started,
          error: refused ? err.message : `${(err as NodeJS.ErrnoException).code ?? 'network error'}: ${err.message}`,
          // A refused destination stays refused until the allowlist changes; still retried, like any
          // network error, so a fixed allowlist lets it through.
          retryable: true,
        });
      });
      req.end(request.body);
    });
}
