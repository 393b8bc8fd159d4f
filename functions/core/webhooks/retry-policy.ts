/**
 * When a failed webhook delivery is tried again. Pure (the clock and the randomness are arguments), so the
 * whole schedule is tested without waiting.
 *
 * - Retried: network errors, timeouts, 429 and 5xx. Any other answer (a 4xx, a redirect) will not change by
 *   itself: the delivery is dead-lettered at once (and can be redriven).
 * - Exponential backoff with jitter: attempt n waits base * 2^(n-1), capped, times a random factor in
 *   [0.5, 1) ("equal jitter": receivers coming back up are not hit by every sender at once).
 * - `Retry-After` (seconds or an HTTP date) is honoured: the wait is at least that (capped at `maxDelayMs`).
 * - Retries go on until `retryWindowMs` (at least 24 h) has passed since the first attempt; then the
 *   delivery is dead-lettered.
 */
export interface RetryPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  retryWindowMs: number;
  /** A subscription whose deliveries have failed for this long without one success is disabled. */
  disableAfterFailingMs: number;
  /** Per attempt: connect + answer. */
  timeoutMs: number;
}

const HOUR = 60 * 60 * 1000;

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseDelayMs: 5_000,
  maxDelayMs: HOUR,
  retryWindowMs: 25 * HOUR,
  disableAfterFailingMs: 72 * HOUR,
  timeoutMs: 10_000,
};

export type AttemptResult =
  | { ok: true; httpStatus: number; latencyMs: number }
  | { ok: false; httpStatus?: number; latencyMs: number; error: string; retryable: boolean; retryAfterMs?: number };

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** Parses Retry-After: delta seconds or an HTTP date. Undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: 'not_retryable' | 'retry_window_exhausted' };

/** What to do after failed attempt number `attempt` (1-based). */
export function decideRetry(
  policy: RetryPolicy,
  result: Extract<AttemptResult, { ok: false }>,
  attempt: number,
  firstAttemptAtMs: number,
  nowMs: number,
  random: () => number = Math.random,
): RetryDecision {
  if (!result.retryable) return { retry: false, reason: 'not_retryable' };
  if (nowMs - firstAttemptAtMs >= policy.retryWindowMs) return { retry: false, reason: 'retry_window_exhausted' };
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = exponential * (0.5 + random() * 0.5);
  const delayMs = Math.round(Math.min(policy.maxDelayMs, Math.max(jittered, result.retryAfterMs ?? 0)));
  return { retry: true, delayMs };
}
