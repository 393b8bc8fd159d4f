/**
 * Local mode's RunTask stand-in (local/local-recorder-task.ts) gives each recorder process a temp dir of its
 * own (TMPDIR) and removes it once the process has exited, however it ended: a SIGKILLed recorder leaves no
 * work dir, Chromium socket dir or Playwright artifacts dir behind. Real recorder, real page. The test runs
 * with a TMPDIR of its own, so that temp files of processes outside it do not count.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesWithTmpdir } from '../../local/local-recorder-task.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/** What a recorder left in the temp dir before: its work dir, Chromium's socket dir, Playwright's artifacts dir. */
const LEFTOVER = /^(mr-task-|recorder-|org\.chromium\.Chromium\.|playwright-artifacts-)/;

let t: TestStack;
let root: string;
const savedTmpdir = process.env.TMPDIR;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'mr-tt-'));
  process.env.TMPDIR = root;
  // A shorter heartbeat timeout, so that the killed recorder is noticed sooner (the deployed value is 60 s).
  t = await startTestStack({ heartbeatSecondsOverride: 15, recorderEnv: { HEARTBEAT_INTERVAL_MS: '500' } });
});
afterAll(async () => {
  await t?.stop();
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  if (root) rmSync(root, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const leftovers = (before: Set<string>) => readdirSync(root).filter((name) => LEFTOVER.test(name) && !before.has(name));

describe('the temp dir of a local recorder task', () => {
  it("holds the recorder's temp files and is gone after a SIGKILL, with nothing left in the temp dir; the salvage still works", async () => {
    expect(tmpdir()).toBe(root);
    const before = new Set(readdirSync(root));
    const created = await t.api.create(t.stack.demoUrl, 'task-tmp');
    expect(created.status).toBe(201);
    const id = created.body.id;
    const live = await t.api.waitFor(id, ['RECORDING'], 30_000);
    expect(live.status).toBe('RECORDING');
    const recorder = t.stack.recorders.running.get(id)!;
    expect(recorder.pid).toBeGreaterThan(0);

    // While it records: one task dir in the temp dir, holding the recorder's work dir, Chromium's and Playwright's dirs.
    const entries = leftovers(before);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatch(/^mr-task-/);
    const taskDir = join(root, entries[0]!);
    const inside = readdirSync(taskDir);
    expect(inside.filter((name) => name.startsWith(`recorder-${id}-`))).toHaveLength(1);
    expect(inside.some((name) => name.startsWith('org.chromium.Chromium.'))).toBe(true);
    expect(inside.some((name) => name.startsWith('playwright-artifacts-'))).toBe(true);
    expect(processesWithTmpdir(taskDir)).toContain(recorder.pid);

    await sleep(8000);
    recorder.kill('SIGKILL');
    for (const deadline = Date.now() + 15_000; Date.now() < deadline && readdirSync(root).includes(entries[0]!); ) await sleep(100);
    expect(readdirSync(root)).not.toContain(entries[0]);
    expect(leftovers(before)).toEqual([]);
    expect(processesWithTmpdir(taskDir)).toEqual([]);

    // The workflow salvages what was streamed after the dir is gone: nothing it reads lived there.
    const done = await t.api.waitFor(id, ['ERRORED'], 60_000);
    expect(done.status).toBe('ERRORED');
    expect(done.error?.code).toBe('recorder_lost');
    expect(done.files).toHaveLength(1);
    expect(done.files![0].partial).toBe(true);
    expect(done.files![0].sizeBytes).toBeGreaterThan(10_000);
    expect(leftovers(before)).toEqual([]);
  });
});
