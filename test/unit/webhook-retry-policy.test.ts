/** The webhook retry schedule, computed with a fake clock: no waiting. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, decideRetry, isRetryableStatus, parseRetryAfter } from '../../functions/core/webhooks/retry-policy.ts';
import { signatureFor } from '../../functions/core/webhooks/signature.ts';
import { Webhook } from 'standardwebhooks';

const HOUR = 3_600_000;
const failure = (extra: Partial<{ retryable: boolean; retryAfterMs: number; httpStatus: number }> = {}) => ({
  ok: false as const,
  latencyMs: 5,
  error: 'HTTP 503',
  retryable: true,
  ...extra,
});

describe('webhook retry policy', () => {
  it('retries network errors, timeouts, 429 and 5xx, not other answers', () => {
    expect([429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 404, 410, 301].some(isRetryableStatus)).toBe(false);
    expect(decideRetry(DEFAULT_RETRY_POLICY, failure({ retryable: false, httpStatus: 404 }), 1, 0, 0)).toEqual({ retry: false, reason: 'not_retryable' });
  });

  it('backs off exponentially with jitter, capped at an hour, and keeps trying for at least 24 h', () => {
    // Prepare: a receiver that always fails; random at both extremes.
    for (const random of [() => 0, () => 0.999999]) {
      let now = 0;
      const delays: number[] = [];
      // Act
      for (let attempt = 1; ; attempt++) {
        const decision = decideRetry(DEFAULT_RETRY_POLICY, failure(), attempt, 0, now, random);
        if (!decision.retry) {
          expect(decision.reason).toBe('retry_window_exhausted');
          break;
        }
        delays.push(decision.delayMs);
        now += decision.delayMs;
      }
      // Assess
      expect(now).toBeGreaterThanOrEqual(24 * HOUR);
      expect(delays[0]).toBeGreaterThanOrEqual(2_500);
      expect(delays[0]).toBeLessThanOrEqual(5_000);
      for (let i = 1; i < 8; i++) expect(delays[i]! / delays[i - 1]!).toBeCloseTo(2, 0);
      expect(Math.max(...delays)).toBeLessThanOrEqual(HOUR);
      expect(delays.length).toBeLessThan(80);
    }
  });

  it('jitter spreads retries of the same attempt', () => {
    const a = decideRetry(DEFAULT_RETRY_POLICY, failure(), 5, 0, 0, () => 0.1);
    const b = decideRetry(DEFAULT_RETRY_POLICY, failure(), 5, 0, 0, () => 0.9);
    expect(a.retry && b.retry && a.delayMs !== b.delayMs).toBe(true);
  });

  it('honours Retry-After (seconds or an HTTP date), capped at the longest wait', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:05:00 GMT', now)).toBe(300_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(decideRetry(DEFAULT_RETRY_POLICY, failure({ retryAfterMs: 120_000 }), 1, 0, 0)).toEqual({ retry: true, delayMs: 120_000 });
    expect(decideRetry(DEFAULT_RETRY_POLICY, failure({ retryAfterMs: 10 * HOUR }), 1, 0, 0)).toEqual({ retry: true, delayMs: HOUR });
  });

  it('signs as Standard Webhooks specifies (verified by the standardwebhooks package)', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"type":"recording.statusUpdate"}';
    const ts = Math.floor(Date.now() / 1000);
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': signatureFor(secret, 'msg_1', ts, body) };
    expect(new Webhook(secret).verify(body, headers)).toEqual({ type: 'recording.statusUpdate' });
    expect(() => new Webhook(secret).verify(body.replace('status', 'x'), headers)).toThrow();
  });
});
