/** The recorder's log as tests read it: JSON lines, and the EMF documents among them. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { expect } from 'vitest';

export type LogLine = Record<string, unknown>;

export interface MetricDirective {
  Namespace: string;
  Dimensions: string[][];
  Metrics: { Name: string; Unit?: string }[];
}

/**
 * Checks `doc` member by member against the CloudWatch embedded metric format: `_aws.Timestamp` in epoch
 * milliseconds, each directive's Namespace, Dimensions (each key a top-level string) and Metrics (each name a
 * top-level number, each unit a CloudWatch unit). Returns the document's one directive.
 */
export function assertValidEmf(doc: LogLine): MetricDirective {
  const aws = doc._aws as { Timestamp: unknown; CloudWatchMetrics: unknown };
  expect(aws, 'the _aws metadata member').toBeTypeOf('object');
  expect(Number.isInteger(aws.Timestamp), '_aws.Timestamp is integer ms since the epoch').toBe(true);
  expect(aws.Timestamp as number).toBeGreaterThan(Date.UTC(2020, 0, 1));
  expect(Array.isArray(aws.CloudWatchMetrics)).toBe(true);
  const directives = aws.CloudWatchMetrics as { Namespace: unknown; Dimensions: unknown; Metrics: unknown }[];
  expect(directives).toHaveLength(1);
  const units = new Set(Object.values(MetricUnit) as string[]);
  for (const d of directives) {
    expect(d.Namespace).toBeTypeOf('string');
    expect((d.Namespace as string).length).toBeGreaterThan(0);
    expect(Array.isArray(d.Dimensions)).toBe(true);
    for (const set of d.Dimensions as unknown[]) {
      expect(Array.isArray(set)).toBe(true);
      for (const key of set as unknown[]) expect(doc[key as string], `dimension ${String(key)} is a top-level string`).toBeTypeOf('string');
    }
    const metrics = d.Metrics as { Name: unknown; Unit?: unknown }[];
    expect(metrics.length).toBeGreaterThan(0);
    expect(metrics.length).toBeLessThanOrEqual(100);
    for (const m of metrics) {
      expect(m.Name).toBeTypeOf('string');
      expect(Number.isFinite(doc[m.Name as string]), `metric ${String(m.Name)} is a top-level number`).toBe(true);
      if (m.Unit !== undefined) expect(units.has(m.Unit as string), `unit ${String(m.Unit)}`).toBe(true);
    }
  }
  return directives[0] as MetricDirective;
}

/**
 * A local-mode recorder's log (`<data dir>/logs/<id>.log`), each line parsed, once local mode has written
 * the line it adds when the process exits (the recorder reports UPLOADED before it has cleaned up).
 */
export async function readRecorderLog(dataDir: string, recordingId: string, timeoutMs = 30_000): Promise<LogLine[]> {
  const path = join(dataDir, 'logs', `${recordingId}.log`);
  const read = () => (existsSync(path) ? readFileSync(path, 'utf8') : '');
  for (const deadline = Date.now() + timeoutMs; !read().includes('"recorder process exited"') && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return read()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`A recorder log line is not JSON: ${line}`);
      }
    });
}
