/**
 * How the browser source uses the egress proxy: the Chromium flags that route everything through it, and
 * the recording error a refused or failed main document becomes.
 */
import { describe, expect, it } from 'vitest';
import { egressFailureError, egressProxyArgs } from '../../recorder-image/src/browser-source.ts';
import type { EgressFailure } from '../../recorder-image/src/egress-proxy.ts';

describe('Chromium egress flags', () => {
  it('proxy everything, loopback included, and turn QUIC off', () => {
    expect(egressProxyArgs('http://127.0.0.1:4567')).toEqual(['--proxy-server=http://127.0.0.1:4567', '--proxy-bypass-list=<-loopback>', '--disable-quic']);
  });
});

describe('a main document the proxy refused or could not reach', () => {
  it.each([
    ['blocked', 'url_not_allowed'],
    ['dns_failed', 'page_dns_failed'],
    ['connection_refused', 'page_connection_refused'],
    ['connect_timeout', 'page_load_timeout'],
    ['unreachable', 'page_unreachable'],
  ] as const)('%s -> %s', (kind, code) => {
    const failure: EgressFailure = { kind, host: '127.0.0.2', port: 80, detail: "request host '127.0.0.2' is a loopback address, which is not allowed." };
    const error = egressFailureError(failure);
    expect(error.code).toBe(code);
    expect(error.message).toContain(failure.detail);
  });
});
