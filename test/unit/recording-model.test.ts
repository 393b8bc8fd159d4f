import { describe, expect, it } from 'vitest';
import { InvalidTransitionError } from '../../functions/core/errors.ts';
import { canTransition, newRecording, planTransition, RECORDING_STATUSES, toPublicRecording, type RecordingStatus } from '../../functions/core/recording.ts';

const base = () => newRecording({ id: 'rec_000000000000000000000001', tenantId: 't1', meetingId: 'm1', meetingUrl: 'https://meet.example/a', now: '2026-01-01T00:00:00.000Z' });

describe('recording state model', () => {
  it('allows exactly the documented transitions', () => {
    // Prepare
    const allowed = new Set([
      'INVOKED>RECORDING',
      'INVOKED>ERRORED',
      'RECORDING>PAUSED',
      'RECORDING>UPLOADING',
      'RECORDING>ERRORED',
      'PAUSED>RECORDING',
      'PAUSED>UPLOADING',
      'PAUSED>ERRORED',
      'UPLOADING>UPLOADED',
      'UPLOADING>ERRORED',
    ]);
    // Act
    const actual = RECORDING_STATUSES.flatMap((from) => RECORDING_STATUSES.filter((to) => canTransition(from, to)).map((to) => `${from}>${to}`));
    // Assess
    expect(new Set(actual)).toEqual(allowed);
  });

  it('terminal states have no way out', () => {
    for (const terminal of ['UPLOADED', 'ERRORED'] as RecordingStatus[]) {
      for (const to of RECORDING_STATUSES) expect(canTransition(terminal, to)).toBe(false);
    }
  });

  it('a planned transition bumps version and sequence and conditions on the state it came from', () => {
    // Prepare
    const r = base();
    // Act
    const plan = planTransition(r, 'RECORDING', { startedAt: '2026-01-01T00:00:01.000Z' }, '2026-01-01T00:00:01.500Z');
    // Assess
    expect(plan.from).toBe('INVOKED');
    expect(plan.expectedVersion).toBe(1);
    expect(plan.next).toMatchObject({ status: 'RECORDING', version: 2, sequence: 2, startedAt: '2026-01-01T00:00:01.000Z', updatedAt: '2026-01-01T00:00:01.500Z' });
    expect(r.status).toBe('INVOKED'); // pure: the input is untouched
  });

  it('refuses a forbidden transition with a named error', () => {
    expect(() => planTransition(base(), 'UPLOADED', {}, 'now')).toThrow(InvalidTransitionError);
  });

  it('the public shape hides internal bookkeeping', () => {
    const pub = toPublicRecording(base()) as Record<string, unknown>;
    expect(pub).toMatchObject({ id: 'rec_000000000000000000000001', meetingId: 'm1', status: 'INVOKED', createdAt: '2026-01-01T00:00:00.000Z' });
    expect(pub).not.toHaveProperty('version');
    expect(pub).not.toHaveProperty('desiredState');
    expect(pub).not.toHaveProperty('tenantId');
  });
});
