/**
 * SSRF end to end, through the real API and a real recorder (Chromium behind the egress proxy):
 * a local server plays the ECS task credentials endpoint on 127.0.0.2, which the test stack does not
 * allowlist (it allows 127.0.0.1, where the meeting pages are). It answers JSON "credentials" with CORS open,
 * so a page that reached it could read them, and it counts every TCP connection it gets.
 *
 * - A meeting page that loads an iframe, images (http and https), fetches (in odd address spellings) and a
 *   websocket from it records normally, and the credentials server gets no connection at all (nor can the
 *   page fetch a file: URL).
 * - A meeting URL that redirects to it ends ERRORED `url_not_allowed` without a file; again no connection.
 * - The API refuses such URLs up front (422 `url_not_allowed`).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.ts';
import { LIVELY_PAGE, startHttpServer, type TestServer } from '../support/servers.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The stand-in for 169.254.170.2: what a page must never reach. */
interface CredentialsEndpoint {
  server: Server;
  port: number;
  origin: string;
  connections: number;
  requests: string[];
}

async function startCredentialsEndpoint(): Promise<CredentialsEndpoint> {
  const endpoint: CredentialsEndpoint = { server: createServer(), port: 0, origin: '', connections: 0, requests: [] };
  endpoint.server.on('connection', () => endpoint.connections++);
  endpoint.server.on('request', (req: IncomingMessage, res) => {
    endpoint.requests.push(`${req.method} ${req.url}`);
    res
      .writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' })
      .end(JSON.stringify({ AccessKeyId: 'ASIAEXAMPLELEAKED', SecretAccessKey: 'leaked-secret', Token: 'leaked-token', Expiration: '2099-01-01T00:00:00Z' }));
  });
  await new Promise<void>((resolve) => endpoint.server.listen(0, '127.0.0.2', () => resolve()));
  endpoint.port = (endpoint.server.address() as { port: number }).port;
  endpoint.origin = `http://127.0.0.2:${endpoint.port}`;
  return endpoint;
}

let t: TestStack;
let s3: S3Client;
let creds: CredentialsEndpoint;
let meeting: TestServer;
/** What the meeting page found out about each of its attempts, POSTed back to its own origin. */
let reports: Record<string, string>[] = [];

function meetingPage(): string {
  const c = creds.origin;
  const p = creds.port;
  return LIVELY_PAGE.replace(
    '</body>',
    `<iframe src="${c}/v2/credentials/iframe" width="400" height="150"></iframe>
<img id="img" src="${c}/img.png"><img id="secure" src="https://127.0.0.2:${p}/secure.png">
<script>
const results = {};
const attempt = (name, promise) => promise.then((v) => (results[name] = 'reached: ' + v), (e) => (results[name] = 'failed: ' + e));
document.getElementById('img').onerror = () => (results.img = 'failed');
document.getElementById('img').onload = () => (results.img = 'reached');
document.getElementById('secure').onerror = () => (results.secureImg = 'failed');
document.getElementById('secure').onload = () => (results.secureImg = 'reached');
attempt('fetch', fetch('${c}/v2/credentials/fetch').then((r) => r.text()));
attempt('fetchDecimal', fetch('http://2130706434:${p}/v2/credentials/decimal').then((r) => r.text())); // 127.0.0.2
attempt('fetchMapped', fetch('http://[::ffff:127.0.0.2]:${p}/v2/credentials/mapped').then((r) => r.text()));
attempt('fetchHttps', fetch('https://127.0.0.2:${p}/v2/credentials/https').then((r) => r.text()));
attempt('fetchFile', fetch('file:///etc/hostname').then((r) => r.text()));
attempt('websocket', new Promise((resolve, reject) => {
  const ws = new WebSocket('ws://127.0.0.2:${p}/ws');
  ws.onopen = () => resolve('open');
  ws.onerror = () => reject('error');
}));
setTimeout(() => fetch('/report', { method: 'POST', body: JSON.stringify(results) }), 3000);
</script></body>`,
  );
}

beforeAll(async () => {
  t = await startTestStack();
  s3 = new S3Client({ endpoint: t.stack.emulators.s3Endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
  creds = await startCredentialsEndpoint();
  meeting = await startHttpServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/meeting') return void res.writeHead(200, { 'content-type': 'text/html' }).end(meetingPage());
    if (path === '/report') {
      let body = '';
      req.on('data', (chunk) => (body += chunk)).on('end', () => {
        reports.push(JSON.parse(body));
        res.writeHead(204).end();
      });
      return;
    }
    if (path === '/redirect-http') return void res.writeHead(302, { location: `${creds.origin}/v2/credentials/redirected` }).end();
    if (path === '/redirect-https') return void res.writeHead(302, { location: `https://127.0.0.2:${creds.port}/v2/credentials/redirected` }).end();
    res.writeHead(404).end();
  });
});
afterAll(async () => {
  await meeting?.close();
  creds?.server.closeAllConnections();
  creds?.server.close();
  await t?.stop();
});

async function objectKeys(id: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: t.stack.bucketName, Prefix: 'recordings/' }));
  return (out.Contents ?? []).map((o) => o.Key!).filter((key) => key.includes(id));
}

/** The recorder's refused requests, from its log. */
function blockedRequests(id: string): string[] {
  const lines = readFileSync(join(t.dataDir, 'logs', `${id}.log`), 'utf8').split('\n').filter(Boolean);
  return lines
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return {};
      }
    })
    .filter((entry) => entry.message === 'egress blocked')
    .map((entry) => String(entry.request));
}

describe('SSRF: a page cannot reach the credentials endpoint', () => {
  it('an allowed page that embeds, fetches and opens a websocket to it records; the endpoint gets no connection', async () => {
    reports = [];
    const created = await t.api.create(`${meeting.url}/meeting`);
    expect(created.status).toBe(201);
    const id = created.body.id;
    const live = await t.api.waitFor(id, ['RECORDING'], 30_000, 50);
    expect(live.status, JSON.stringify(live.error)).toBe('RECORDING');
    for (const deadline = Date.now() + 15_000; !reports.length && Date.now() < deadline; ) await sleep(100);
    expect(await t.api.stop(id)).toMatchObject({ status: 202 });
    const done = await t.api.waitFor(id, ['UPLOADED'], 30_000, 100);

    expect(done.status, JSON.stringify(done.error)).toBe('UPLOADED');
    expect(done.files).toHaveLength(1);
    expect(done.files![0]!.sizeBytes).toBeGreaterThan(0);
    // The page really tried each way in, and each one failed inside the browser.
    expect(reports).toHaveLength(1);
    expect(reports[0]).toEqual({
      img: 'failed',
      secureImg: 'failed',
      fetch: expect.stringMatching(/^failed/),
      fetchDecimal: expect.stringMatching(/^failed/),
      fetchMapped: expect.stringMatching(/^failed/),
      fetchHttps: expect.stringMatching(/^failed/),
      fetchFile: expect.stringMatching(/^failed/),
      websocket: 'failed: error',
    });
    // The refusals came from the egress proxy (not from something else in the browser), for every route.
    const blocked = blockedRequests(id);
    const p = creds.port;
    for (const request of [
      `GET http://127.0.0.2:${p}/v2/credentials/iframe`,
      `GET http://127.0.0.2:${p}/img.png`,
      `GET http://127.0.0.2:${p}/v2/credentials/fetch`,
      `GET http://127.0.0.2:${p}/v2/credentials/decimal`,
      `GET http://[::ffff:7f00:2]:${p}/v2/credentials/mapped`,
      `CONNECT 127.0.0.2:${p}`,
    ]) {
      expect(blocked).toContain(request);
    }
    expect(creds.requests).toEqual([]);
    expect(creds.connections).toBe(0);
  });

  it.each([
    ['http', '/redirect-http'],
    ['https', '/redirect-https'],
  ])('a meeting URL that redirects to it (%s) ends ERRORED url_not_allowed, no file, no connection', async (_scheme, path) => {
    const created = await t.api.create(`${meeting.url}${path}`);
    expect(created.status).toBe(201);
    const id = created.body.id;
    const seen = new Set<string>();
    let r;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(100)) {
      r = (await t.api.get(id)).body;
      seen.add(r.status);
      if (r.status === 'ERRORED' || r.status === 'UPLOADED') break;
    }
    expect(r!.status).toBe('ERRORED');
    expect(r!.error).toMatchObject({ code: 'url_not_allowed', message: expect.stringContaining("'127.0.0.2' is a loopback address") });
    expect(seen.has('RECORDING')).toBe(false);
    expect(r!.files).toBeUndefined();
    expect(await objectKeys(id)).toEqual([]);
    expect(blockedRequests(id).length).toBeGreaterThan(0);
    expect(creds.requests).toEqual([]);
    expect(creds.connections).toBe(0);
  });

  it.each([
    () => `${creds.origin}/v2/credentials/x`,
    () => `https://127.0.0.2:${creds.port}/`,
    () => 'http://169.254.170.2/v2/credentials/x',
    () => 'http://2852039166/latest/meta-data/', // 169.254.169.254
    () => 'http://[::ffff:169.254.169.254]/latest/meta-data/',
    () => 'http://meet.localhost/',
  ])('the API refuses %s with 422 url_not_allowed', async (url) => {
    const res = await t.api.create(url());
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ code: 'url_not_allowed', detail: expect.stringContaining('meetingUrl host') });
    expect(creds.connections).toBe(0);
  });
});
