/**
 * The control channel: the recorder polls the recording's desired state (set by the stop, pause and resume
 * APIs) twice a second (CONTROL_POLL_MS), so a file ends or pauses within about half a second of the
 * request. Polling works the same on Fargate and locally and needs no inbound connection; 7,200 consistent
 * reads an hour cost about $0.001 on on-demand DynamoDB.
 *
 * Every read is reported, not only changes: a read that still says RECORDING is also what confirms that no
 * pause or stop was asked for before it started (see Mp4Splicer, which holds media back until then).
 */
import type { RecordingRepository } from '#core/recording-repository.ts';
import type { DesiredState } from '#core/recording.ts';
import type { Logger } from './log.ts';

export interface ControlState {
  desiredState: DesiredState;
  /** When the client asked (the API's clock); the file is cut there, not when the poll saw it. */
  stopRequestedAt?: string;
  pauseRequestedAt?: string;
  resumeRequestedAt?: string;
  maxDurationSeconds?: number;
  /** The recording is gone, or someone else ended it (ERRORED): the recorder stops. */
  ended: boolean;
  /** When this read was sent (the recorder's clock): every request made before then is reflected in it. */
  readAtMs: number;
}

export interface ControlChannel {
  /** `listener` gets every state read, from the next poll on. */
  subscribe(listener: (state: ControlState) => void): void;
  close(): void;
}

export class PollingControlChannel implements ControlChannel {
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly listeners: ((state: ControlState) => void)[] = [];

  constructor(repository: RecordingRepository, recordingId: string, intervalMs: number, log: Logger) {
    const poll = async () => {
      const readAtMs = Date.now();
      try {
        const recording = await repository.find(recordingId);
        const state: ControlState = {
          desiredState: recording?.desiredState ?? 'STOPPED',
          ...(recording?.stopRequestedAt && { stopRequestedAt: recording.stopRequestedAt }),
          ...(recording?.pauseRequestedAt && { pauseRequestedAt: recording.pauseRequestedAt }),
          ...(recording?.resumeRequestedAt && { resumeRequestedAt: recording.resumeRequestedAt }),
          ...(recording?.maxDurationSeconds && { maxDurationSeconds: recording.maxDurationSeconds }),
          ended: !recording || recording.status === 'ERRORED',
          readAtMs,
        };
        for (const listener of this.listeners) listener(state);
      } catch (err) {
        log.warn('control poll failed', { error: (err as Error).message });
      }
      if (!this.closed) this.timer = setTimeout(poll, intervalMs);
    };
    this.timer = setTimeout(poll, intervalMs);
  }

  subscribe(listener: (state: ControlState) => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
