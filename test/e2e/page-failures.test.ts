/**
 * Meeting pages that fail to load, caused for real: a refused connection, HTTP 404 and 503 from a real
 * server, a self-signed TLS certificate, and a host name that does not resolve (Chromium's resolver is told
 * that *.invalid does not exist, so no query leaves the machine). Each ends ERRORED with its own code within
 * 30 s, never reaches RECORDING, and leaves no file of the error page.
 */
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.ts';
import { closedPort } from '../support/net.ts';
import { startHttpServer, startSelfSignedHttpsServer, type TestServer } from '../support/servers.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let t: TestStack;
let s3: S3Client;
let status503: TestServer;
let tls: TestServer;
beforeAll(async () => {
  t = await startTestStack({ recorderEnv: { CHROMIUM_HOST_RESOLVER_RULES: 'MAP *.invalid ~NOTFOUND' } });
  s3 = new S3Client({ endpoint: t.stack.emulators.s3Endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
  status503 = await startHttpServer((_req, res) => {
    res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>Service Unavailable</h1>');
  });
  tls = await startSelfSignedHttpsServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>meeting</h1>');
  });
});
afterAll(async () => {
  await Promise.all([status503?.close(), tls?.close()]);
  await t?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function objectKeys(prefix: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: t.stack.bucketName, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

describe('meeting pages that cannot load', () => {
  it.each([
    ['connection refused', async () => `http://127.0.0.1:${await closedPort()}/meeting`, 'page_connection_refused'],
    ['HTTP 404', async () => `${t.stack.url}/no-such-meeting`, 'page_http_error'],
    ['HTTP 503', async () => `${status503.url}/meeting`, 'page_http_error'],
    ['self-signed TLS certificate', async () => `${tls.url}/meeting`, 'page_tls_error'],
    ['DNS name that does not resolve', async () => 'http://meeting.example.invalid/room', 'page_dns_failed'],
  ])('%s: ERRORED with its own code within 30 s, never RECORDING, no file', async (_label, url, code) => {
    const created = await t.api.create(await url());
    expect(created.status).toBe(201);
    const startedAt = Date.now();
    const seen = new Set<string>();
    let r;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(100)) {
      r = (await t.api.get(created.body.id)).body;
      seen.add(r.status);
      if (r.status === 'ERRORED' || r.status === 'UPLOADED') break;
    }
    expect(r!.status).toBe('ERRORED');
    expect(Date.now() - startedAt).toBeLessThan(30_000);
    expect(r!.error).toMatchObject({ code, message: expect.any(String) });
    expect(seen.has('RECORDING')).toBe(false);
    expect(r!.files).toBeUndefined();
    expect(await objectKeys(`recordings/default/${created.body.id}/`)).toEqual([]);
  });
});
