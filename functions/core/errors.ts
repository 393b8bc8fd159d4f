/**
 * Named errors of the domain. Each carries its HTTP status and a stable `code`; the problem+json middleware
 * maps them, so handlers never pick status codes themselves.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly extensions: Record<string, unknown>;
  constructor(status: number, code: string, message: string, extensions: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.extensions = extensions;
  }
}

export interface FieldIssue {
  field: string;
  message: string;
}

export class ValidationError extends AppError {
  constructor(message: string, issues: FieldIssue[]) {
    super(400, 'validation_failed', message, { errors: issues });
  }
}

export class MalformedBodyError extends AppError {
  constructor(message: string) {
    super(400, 'malformed_body', message);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor() {
    super(415, 'unsupported_media_type', 'The request body must be JSON (Content-Type: application/json).');
  }
}

export class RecordingNotFoundError extends AppError {
  constructor(id: string) {
    super(404, 'recording_not_found', `No recording with id '${id}'.`);
  }
}

export class RouteNotFoundError extends AppError {
  constructor(method: string, path: string) {
    super(404, 'route_not_found', `No route for ${method} ${path}.`);
  }
}

export class RecordingNotActiveError extends AppError {
  constructor(id: string, status: string) {
    super(409, 'recording_not_active', `Recording '${id}' is ${status}; only a RECORDING recording can be stopped.`, { recordingStatus: status });
  }
}

export class StopInProgressError extends AppError {
  constructor(id: string, status: string) {
    super(409, 'stop_in_progress', `Recording '${id}' is already stopping.`, { recordingStatus: status });
  }
}

export class NoFilesYetError extends AppError {
  constructor(id: string, status: string) {
    super(409, 'recording_not_uploaded', `Recording '${id}' is ${status}; its files can be downloaded once it is UPLOADED.`, { recordingStatus: status });
  }
}

export class WorkflowUnavailableError extends AppError {
  constructor(message: string) {
    super(503, 'workflow_unavailable', message);
  }
}

/** A transition the state model forbids (a bug or a late writer). Not a client error. */
export class InvalidTransitionError extends Error {
  constructor(id: string, from: string, to: string) {
    super(`Recording '${id}' cannot go from ${from} to ${to}.`);
    this.name = 'InvalidTransitionError';
  }
}

/** A conditional write lost against another writer. */
export class ConcurrentUpdateError extends Error {
  constructor(id: string) {
    super(`Recording '${id}' was changed by another writer.`);
    this.name = 'ConcurrentUpdateError';
  }
}

export class RecordingAlreadyActiveError extends AppError {
  constructor(meetingId: string, activeRecordingId: string) {
    super(409, 'recording_already_active', `Meeting '${meetingId}' already has a live recording, '${activeRecordingId}'; stop it first.`, {
      activeRecordingId,
    });
  }
}

/** The service already has as many live recordings as it may run (MAX_CONCURRENT_RECORDINGS). Retry later. */
export class ConcurrencyLimitReachedError extends AppError {
  constructor(limit: number) {
    super(
      429,
      'concurrency_limit_reached',
      `The service is already running its maximum of ${limit} live recordings; try again when one has ended.`,
      { limit },
    );
  }
}

export class RecordingAlreadyPausedError extends AppError {
  constructor(id: string, status: string) {
    super(409, 'recording_already_paused', `Recording '${id}' is already paused or pausing.`, { recordingStatus: status });
  }
}

export class RecordingNotPausedError extends AppError {
  constructor(id: string, status: string) {
    super(409, 'recording_not_paused', `Recording '${id}' is not paused; only a paused recording can be resumed.`, { recordingStatus: status });
  }
}

export class RecordingLiveError extends AppError {
  constructor(id: string, status: string) {
    super(409, 'recording_active', `Recording '${id}' is ${status}; stop it and wait until it has ended before deleting it.`, {
      recordingStatus: status,
    });
  }
}

export class NoActiveRecordingError extends AppError {
  constructor(meetingId: string) {
    super(404, 'no_active_recording', `Meeting '${meetingId}' has no live recording.`);
  }
}

export class InvalidCursorError extends AppError {
  constructor() {
    super(400, 'invalid_cursor', 'The cursor is not one this API issued for this query; start again without it.');
  }
}

export class RecordingExpiredError extends AppError {
  constructor(id: string) {
    super(410, 'recording_expired', `The files of recording '${id}' have passed their retention period and were deleted.`);
  }
}
