/**
 * Webhooks on a real local stack, delivered over real HTTP to receivers on 127.0.0.1 (which the test stack
 * allowlists), with retries shortened by the retry policy option. Signatures are verified with the
 * `standardwebhooks` package, exactly as a receiver would.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/core/clients/dynamodb.ts';
import { DEFAULT_RETRY_POLICY } from '../../functions/core/webhooks/retry-policy.ts';
import { httpWebhookSender } from '../../functions/core/webhooks/sender.ts';
import { WebhookDeliverer, type DeliveryRef } from '../../functions/core/webhooks/webhook-deliverer.ts';
import { WebhookStore, type WebhookDelivery } from '../../functions/core/webhooks/webhook-store.ts';
import { STRICT_URL_POLICY, parseAllowedHosts } from '../../functions/core/url-policy.ts';
import { startTestStack, type TestStack, type TestTenant } from '../support/stack.ts';
import { startHttpServer, type TestServer } from '../support/servers.ts';
import { recordWholeLife, until, WHOLE_LIFE } from '../support/recording-life.ts';

interface Received {
  headers: Record<string, string>;
  body: string;
  answered: number;
  at: number;
}

/** A receiver that answers each request with the next status of `answers` (then the last one forever). */
async function receiver(answers: (number | { status: number; headers: Record<string, string> })[]) {
  const requests: Received[] = [];
  const server = await startHttpServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const answer = answers[Math.min(requests.length, answers.length - 1)]!;
      const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : answer;
      requests.push({ headers: req.headers as Record<string, string>, body, answered: status, at: Date.now() });
      res.writeHead(status, headers).end();
    });
  });
  return { server, requests, accepted: () => requests.filter((r) => r.answered >= 200 && r.answered < 300) };
}

let t: TestStack;
let tenant: TestTenant;
const servers: TestServer[] = [];

beforeAll(async () => {
  t = await startTestStack({ outboxIntervalMs: 50, webhookRetryPolicy: { baseDelayMs: 40, maxDelayMs: 2000 } });
  tenant = await t.createTenant();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await t?.stop();
});

async function subscribe(url: string, events: readonly string[], api = tenant.api) {
  const res = await api.request('POST', '/v1/webhooks', { url, events, description: 'test' });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string };
}

describe('webhook subscriptions API', () => {
  it('creates (secret once), lists without secrets, refuses bad input and SSRF targets, scopes to the tenant, deletes', async () => {
    const r = await receiver([200]);
    servers.push(r.server);
    const created = await subscribe(`${r.server.url}/hook`, ['UPLOADED']);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(created).toMatchObject({ id: expect.stringMatching(/^wh_[a-z0-9]{24}$/), status: 'enabled', events: ['UPLOADED'] });

    const list = await tenant.api.request('GET', '/v1/webhooks');
    expect(list.body.items.map((w: { id: string }) => w.id)).toContain(created.id);
    expect(JSON.stringify(list.body)).not.toContain(created.secret);

    for (const [body, code] of [
      [{ url: 'http://10.0.0.1/x', events: ['UPLOADED'] }, 'url_not_allowed'],
      [{ url: 'http://169.254.169.254/latest', events: ['UPLOADED'] }, 'url_not_allowed'],
      [{ url: 'ftp://example.com/x', events: ['UPLOADED'] }, 'validation_failed'],
      [{ url: 'https://example.com/x', events: [] }, 'validation_failed'],
      [{ url: 'https://example.com/x', events: ['DONE'] }, 'validation_failed'],
      [{ url: 'https://example.com/x', events: ['UPLOADED'], extra: 1 }, 'validation_failed'],
    ] as const) {
      const res = await tenant.api.request('POST', '/v1/webhooks', body);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.code, JSON.stringify(body)).toBe(code);
    }
    const ssrf = await tenant.api.request('POST', '/v1/webhooks', { url: 'http://10.0.0.1/x', events: ['UPLOADED'] });
    expect(ssrf.body).toMatchObject({ status: 422, field: 'url' });

    // Another tenant sees nothing of it.
    const other = await t.createTenant();
    expect((await other.api.request('GET', `/v1/webhooks/${created.id}/deliveries`)).body.code).toBe('webhook_not_found');
    expect((await other.api.request('DELETE', `/v1/webhooks/${created.id}`)).body.code).toBe('webhook_not_found');
    expect((await other.api.request('GET', '/v1/webhooks')).body.items).toEqual([]);

    // A scoped token cannot manage webhooks.
    const token = (await tenant.api.request('POST', '/v1/tokens', { meetingId: 'm', actions: ['read'] })).body.token;
    expect((await tenant.api.withCredential(token).request('GET', '/v1/webhooks')).body.code).toBe('insufficient_permissions');

    expect((await tenant.api.request('DELETE', `/v1/webhooks/${created.id}`)).status).toBe(204);
    expect((await tenant.api.request('DELETE', `/v1/webhooks/${created.id}`)).body.code).toBe('webhook_not_found');
  });

  it('POST /test sends a signed webhook.test event', async () => {
    const r = await receiver([200]);
    servers.push(r.server);
    const sub = await subscribe(r.server.url, ['UPLOADED']);
    const res = await tenant.api.request('POST', `/v1/webhooks/${sub.id}/test`);
    expect(res.status).toBe(202);
    await until(() => r.accepted().length === 1, 'the test event');
    const payload = new Webhook(sub.secret).verify(r.requests[0]!.body, r.requests[0]!.headers) as { type: string };
    expect(payload.type).toBe('webhook.test');
    expect(r.requests[0]!.headers['webhook-id']).toBe(res.body.messageId);
    await tenant.api.request('DELETE', `/v1/webhooks/${sub.id}`);
  });
});

describe('webhook delivery', () => {
  it('a receiver that fails the first 3 attempts gets every transition of a whole life, signed, same webhook-id across retries', async () => {
    // Prepare
    const r = await receiver([503, 500, 429, 200]);
    servers.push(r.server);
    const sub = await subscribe(`${r.server.url}/hooks`, ['INVOKED', 'RECORDING', 'PAUSED', 'UPLOADING', 'UPLOADED', 'ERRORED']);
    // Act
    const rec = await recordWholeLife(t.stack.repository, tenant.tenantId);
    await until(() => new Set(r.accepted().map((q) => q.headers['webhook-id'])).size === WHOLE_LIFE.length, 'six accepted deliveries', 20_000);
    // Assess: every accepted request verifies, and the bodies carry sequence 1..6 in the life's statuses.
    const wh = new Webhook(sub.secret);
    const payloads = r.accepted().map((q) => wh.verify(q.body, q.headers) as { type: string; data: { sequence: number; status: string; recordingId: string } });
    expect(payloads.every((p) => p.type === 'recording.statusUpdate' && p.data.recordingId === rec.id)).toBe(true);
    const bySequence = [...new Map(payloads.map((p) => [p.data.sequence, p.data.status])).entries()].sort((a, b) => a[0] - b[0]);
    expect(bySequence).toEqual(WHOLE_LIFE.map((status, i) => [i + 1, status]));
    // The failed attempts were retries of the same message: same webhook-id, fresh timestamp and signature.
    const firstId = r.requests[0]!.headers['webhook-id']!;
    const sameMessage = r.requests.filter((q) => q.headers['webhook-id'] === firstId);
    expect(sameMessage.length).toBeGreaterThanOrEqual(2);
    expect(firstId).toMatch(new RegExp(`^msg_${rec.id}_\\d$`));
    // The deliveries API shows each attempt.
    const deliveries = (await tenant.api.request('GET', `/v1/webhooks/${sub.id}/deliveries`)).body.items as WebhookDelivery[];
    expect(deliveries).toHaveLength(6);
    expect(deliveries.every((d) => d.state === 'succeeded')).toBe(true);
    const retried = deliveries.find((d) => d.messageId === firstId)!;
    expect(retried.attempts.map((a) => a.httpStatus)).toEqual(r.requests.filter((q) => q.headers['webhook-id'] === firstId).map((q) => q.answered));
    expect(retried.attempts[0]).toMatchObject({ ok: false, httpStatus: expect.any(Number), latencyMs: expect.any(Number), error: expect.stringContaining('HTTP') });
    await tenant.api.request('DELETE', `/v1/webhooks/${sub.id}`);
  });

  it('honours Retry-After', async () => {
    const r = await receiver([{ status: 429, headers: { 'retry-after': '1' } }, 200]);
    servers.push(r.server);
    const sub = await subscribe(r.server.url, ['INVOKED']);
    await recordWholeLife(t.stack.repository, tenant.tenantId, 'retry-after', 1);
    await until(() => r.accepted().length === 1, 'the retried delivery');
    expect(r.requests[1]!.at - r.requests[0]!.at).toBeGreaterThanOrEqual(950);
    await tenant.api.request('DELETE', `/v1/webhooks/${sub.id}`);
  });

  it('a receiver that is down for the whole test leaves pending deliveries with their next retry: nothing dropped', async () => {
    const down = await receiver([200]);
    await down.server.close(); // nothing listens on that port now
    const sub = await subscribe(down.server.url, ['INVOKED', 'RECORDING']);
    await recordWholeLife(t.stack.repository, tenant.tenantId, 'receiver-down', 2);
    const deliveries = await until(async () => {
      const items = (await tenant.api.request('GET', `/v1/webhooks/${sub.id}/deliveries`)).body.items as WebhookDelivery[];
      return items.length === 2 && items.every((d) => d.attemptCount >= 2) && items;
    }, 'retried deliveries');
    for (const d of deliveries) {
      expect(d.state).toBe('pending');
      expect(Date.parse(d.nextAttemptAt!)).toBeGreaterThan(Date.parse(d.attempts.at(-1)!.attemptedAt));
      expect(d.attempts.at(-1)!.error).toMatch(/ECONNREFUSED/);
    }
    const sublist = (await tenant.api.request('GET', '/v1/webhooks')).body.items.find((w: { id: string }) => w.id === sub.id);
    expect(sublist).toMatchObject({ status: 'enabled', failingSince: expect.any(String) });
    await tenant.api.request('DELETE', `/v1/webhooks/${sub.id}`);
  });

  it('two subscriptions with different events[] each receive only what they asked for', async () => {
    const a = await receiver([200]);
    const b = await receiver([200]);
    servers.push(a.server, b.server);
    const subA = await subscribe(a.server.url, ['UPLOADED']);
    const subB = await subscribe(b.server.url, ['INVOKED', 'PAUSED']);
    const rec = await recordWholeLife(t.stack.repository, tenant.tenantId, 'two-subscriptions');
    await until(() => a.accepted().length >= 1 && b.accepted().length >= 2, 'both receivers');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const statuses = (q: Received[]) => q.map((x) => (JSON.parse(x.body) as { data: { status: string; recordingId: string } }).data).filter((d) => d.recordingId === rec.id).map((d) => d.status);
    expect(statuses(a.accepted())).toEqual(['UPLOADED']);
    expect(statuses(b.accepted()).sort()).toEqual(['INVOKED', 'PAUSED']);
    await tenant.api.request('DELETE', `/v1/webhooks/${subA.id}`);
    await tenant.api.request('DELETE', `/v1/webhooks/${subB.id}`);
  });

  it('with a fake clock: retries for 24 h, then dead-letters; a subscription failing for 3 days is disabled and shown so', async () => {
    // Prepare: the real store and sender against a receiver that always answers 503; a clock and a
    // scheduler the test drives (no waiting), and a dead-letter sink that records.
    const r = await receiver([503]);
    servers.push(r.server);
    const sub = await subscribe(r.server.url, ['INVOKED']);
    let now = Date.parse('2030-01-01T00:00:00Z');
    const due: { ref: DeliveryRef; at: number }[] = [];
    const deadLetters: WebhookDelivery[] = [];
    const store = new WebhookStore(createDocumentClient(), t.stack.tableName);
    const deliverer = new WebhookDeliverer({
      store,
      sender: httpWebhookSender({ ...STRICT_URL_POLICY, allowedHosts: parseAllowedHosts('127.0.0.1') }, () => now),
      scheduler: { schedule: async (ref, delayMs) => void due.push({ ref, at: now + delayMs }) },
      deadLetters: { send: async (d) => void deadLetters.push(d) },
      policy: DEFAULT_RETRY_POLICY,
      clock: { nowMs: () => now },
    });
    const runUntilIdle = async () => {
      while (due.length) {
        const next = due.shift()!;
        now = Math.max(now, next.at);
        await deliverer.attempt(next.ref);
      }
    };
    const detail = (seq: number) => ({
      eventId: `rec_fake:${seq}`, recordingId: 'rec_fake', tenantId: tenant.tenantId, meetingId: 'm', status: 'INVOKED' as const,
      previousStatus: null, sequence: seq, occurredAt: new Date(now).toISOString(), recording: {} as never,
    });
    // Act: day 1
    await deliverer.fanOut(detail(1));
    await runUntilIdle();
    // Assess: attempted for at least 24 h with growing gaps, then dead-lettered.
    const first = (await store.getDelivery(sub.id, 'msg_rec_fake_1'))!;
    expect(first.state).toBe('dead_lettered');
    expect(first.reason).toBe('retry_window_exhausted');
    expect(Date.parse(first.attempts.at(-1)!.attemptedAt) - Date.parse(first.firstAttemptAt!)).toBeGreaterThanOrEqual(24 * 3_600_000);
    expect(deadLetters.map((d) => d.messageId)).toEqual(['msg_rec_fake_1']);
    expect((await tenant.api.request('GET', '/v1/webhooks')).body.items.find((w: { id: string }) => w.id === sub.id).status).toBe('enabled');
    // Act: days 2 and 3, still failing.
    await deliverer.fanOut(detail(2));
    await runUntilIdle();
    now += 24 * 3_600_000;
    await deliverer.fanOut(detail(3));
    await runUntilIdle();
    // Assess: failing since day 1, more than 72 h ago: disabled, and the API says so; no more deliveries.
    const shown = (await tenant.api.request('GET', '/v1/webhooks')).body.items.find((w: { id: string }) => w.id === sub.id);
    expect(shown).toMatchObject({ status: 'disabled', disabledAt: expect.any(String), disabledReason: expect.stringContaining('failed') });
    expect(await deliverer.fanOut(detail(4))).not.toContain(sub.id);
    expect((await tenant.api.request('POST', `/v1/webhooks/${sub.id}/test`)).body.code).toBe('webhook_disabled');
  });
});
