/**
 * The recording model and its state machine. Every writer (API handlers, workflow tasks, the recorder)
 * changes a recording only through `planTransition`, so the rules live in one place.
 */
import { InvalidTransitionError } from './errors.ts';
import type { RecordingStatusChangedDetail } from './recording-events.ts';

export const RECORDING_STATUSES = ['INVOKED', 'RECORDING', 'PAUSED', 'UPLOADING', 'UPLOADED', 'ERRORED'] as const;
export type RecordingStatus = (typeof RECORDING_STATUSES)[number];

/** What a client asked for; the recorder polls it (the control channel) and follows. */
export type DesiredState = 'RECORDING' | 'PAUSED' | 'STOPPED';

/**
 * Why a recording stopped: `api` (a client's stop), `max_duration` (maxDurationSeconds reached),
 * `task_stopped` (the recorder task was stopped from outside: ECS StopTask, Spot, a lost workflow).
 */
export const STOP_REASONS = ['api', 'max_duration', 'task_stopped'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

/** Statuses in which a recorder is at work and the meeting lock is held. */
export const LIVE_STATUSES: readonly RecordingStatus[] = ['INVOKED', 'RECORDING', 'PAUSED', 'UPLOADING'];

/** 24 hours: the default and the ceiling for maxDurationSeconds. */
export const DEFAULT_MAX_DURATION_SECONDS = 24 * 60 * 60;

export interface RecordingFile {
  key: string;
  sizeBytes: number;
  durationSeconds: number;
  format: 'mp4';
  /**
   * True when the file holds only what was captured before a failure (a recorder crash salvaged by the
   * workflow, or a browser that could not be recovered); it still plays.
   */
  partial?: boolean;
}

/** A span in which the meeting page was not shown (the browser crashed or hung and was reloaded). */
export interface RecordingGap {
  startedAt: string;
  endedAt: string;
  /** Where the gap starts in the file, in seconds. */
  offsetSeconds: number;
  durationSeconds: number;
  reason: string;
}

/** A span the recording was paused for; the file leaves it out. */
export interface RecordingPause {
  pausedAt: string;
  /** Unset while the recording is still paused. */
  resumedAt?: string;
  /** Where the pause sits in the file, in seconds (the file continues there after the resume). */
  offsetSeconds: number;
}

export interface RecordingError {
  code: string;
  message: string;
}

export interface Recording {
  id: string;
  tenantId: string;
  meetingId: string;
  meetingUrl: string;
  status: RecordingStatus;
  desiredState: DesiredState;
  /** Optimistic-lock counter: every write is conditional on it. */
  version: number;
  /** Increments on each status change; events carry it so receivers can order them. */
  sequence: number;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  stopRequestedAt?: string;
  stoppedAt?: string;
  uploadedAt?: string;
  stopReason?: StopReason;
  /** The recorder stops by itself after this many seconds of wall time since it started recording. */
  maxDurationSeconds: number;
  /** When a client last asked to pause or resume (the API's clock); the recorder cuts there. */
  pauseRequestedAt?: string;
  resumeRequestedAt?: string;
  pauses?: RecordingPause[];
  files?: RecordingFile[];
  gaps?: RecordingGap[];
  error?: RecordingError;
  /** Recorder-side figures (CPU seconds, frames) reported with the result. */
  metrics?: Record<string, number>;
  /** Status events not yet published, by sequence (the outbox; see functions/core/outbox.ts). Internal. */
  outbox?: Record<string, RecordingStatusChangedDetail>;
}

const ALLOWED: Record<RecordingStatus, readonly RecordingStatus[]> = {
  INVOKED: ['RECORDING', 'ERRORED'],
  RECORDING: ['PAUSED', 'UPLOADING', 'ERRORED'],
  PAUSED: ['RECORDING', 'UPLOADING', 'ERRORED'],
  UPLOADING: ['UPLOADED', 'ERRORED'],
  UPLOADED: [],
  ERRORED: [],
};

export const TERMINAL_STATUSES: readonly RecordingStatus[] = ['UPLOADED', 'ERRORED'];

export function canTransition(from: RecordingStatus, to: RecordingStatus): boolean {
  return ALLOWED[from].includes(to);
}

/** Fields a transition may set besides the status. */
export type TransitionPatch = Partial<
  Pick<Recording, 'startedAt' | 'stoppedAt' | 'uploadedAt' | 'stopReason' | 'pauses' | 'files' | 'gaps' | 'error' | 'metrics' | 'desiredState'>
>;

export interface PlannedTransition {
  from: RecordingStatus;
  expectedVersion: number;
  next: Recording;
}

/**
 * Computes the next state of a recording. Pure: the repository turns the plan into a conditional write on
 * `from` and `expectedVersion`, so two writers that plan from the same version can never both win.
 */
export function planTransition(current: Recording, to: RecordingStatus, patch: TransitionPatch, now: string): PlannedTransition {
  if (!canTransition(current.status, to)) {
    throw new InvalidTransitionError(current.id, current.status, to);
  }
  return {
    from: current.status,
    expectedVersion: current.version,
    next: {
      ...current,
      ...patch,
      status: to,
      version: current.version + 1,
      sequence: current.sequence + 1,
      updatedAt: now,
    },
  };
}

export function newRecording(input: {
  id: string;
  tenantId: string;
  meetingId: string;
  meetingUrl: string;
  now: string;
  maxDurationSeconds?: number;
}): Recording {
  return {
    id: input.id,
    tenantId: input.tenantId,
    meetingId: input.meetingId,
    meetingUrl: input.meetingUrl,
    maxDurationSeconds: input.maxDurationSeconds ?? DEFAULT_MAX_DURATION_SECONDS,
    status: 'INVOKED',
    desiredState: 'RECORDING',
    version: 1,
    sequence: 1,
    createdAt: input.now,
    updatedAt: input.now,
  };
}

/** The shape clients see: internal bookkeeping (version, desiredState) stays inside. */
export function toPublicRecording(r: Recording) {
  return {
    id: r.id,
    meetingId: r.meetingId,
    meetingUrl: r.meetingUrl,
    status: r.status,
    sequence: r.sequence,
    maxDurationSeconds: r.maxDurationSeconds ?? DEFAULT_MAX_DURATION_SECONDS,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    ...(r.startedAt && { startedAt: r.startedAt }),
    ...(r.stopRequestedAt && { stopRequestedAt: r.stopRequestedAt }),
    ...(r.stoppedAt && { stoppedAt: r.stoppedAt }),
    ...(r.uploadedAt && { uploadedAt: r.uploadedAt }),
    ...(r.stopReason && { stopReason: r.stopReason }),
    ...(r.pauses?.length && { pauses: r.pauses }),
    ...(r.files && { files: r.files }),
    ...(r.gaps?.length && { gaps: r.gaps }),
    ...(r.error && { error: r.error }),
  };
}
export type PublicRecording = ReturnType<typeof toPublicRecording>;
